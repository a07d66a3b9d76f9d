"""How every command tells the person running it what went wrong: one line, never a traceback they caused.

The line names the input, its value and the fix (`prog: --count -5: must be a whole number of at least 1`).
A usage error — a flag, a file, a variable the person gave — exits 2, before anything is asked of AWS. A run
that AWS (or the emulator) refused exits 1 with AWS's own one-line reason: a queue that does not exist, no
credentials, an endpoint nobody answers. Anything else is a bug, and keeps its traceback.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from collections.abc import Callable
from typing import NoReturn

USAGE_ERROR = 2
FAILED_RUN = 1
INTERRUPTED = 130  # what a shell reports for Ctrl-C


class UsageError(Exception):
    """What the person typed is wrong; the message names the input, the value and what to do instead."""


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are a UsageError (one line, exit 2 through `entry_point`), not usage text.

    A message that names its fix already says so after a "; " (the convention of every message here);
    argparse's own (an unknown flag, a missing value) get a pointer to --help instead.
    """

    def error(self, message: str) -> NoReturn:
        named = "; " in message or "(choose from" in message
        raise UsageError(message if named else f"{message} (--help lists the options)")


def entry_point(prog: str, aws_failures: bool = True) -> Callable:
    """Make `main` print a usage error or AWS's refusal as `prog: <line>` on stderr and return 2 or 1.

    `aws_failures=False` for the runs on the embedded AWS: there an AWS error is the code's fault, a bug.
    """

    def wrap(main: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(main)
        def run(*args, **kwargs) -> int:
            try:
                return main(*args, **kwargs)
            except UsageError as error:
                return _report(prog, str(error), USAGE_ERROR)
            except KeyboardInterrupt:
                return _report(prog, "interrupted", INTERRUPTED)
            except Exception as error:
                reason = aws_failure(error) if aws_failures else None
                if reason is None:
                    raise
                return _report(prog, reason, FAILED_RUN)

        return run

    return wrap


def _report(prog: str, line: str, status: int) -> int:
    print(f"{prog}: {line}", file=sys.stderr, flush=True)
    return status


def aws_failure(error: Exception) -> str | None:
    """AWS's (or botocore's) one-line reason for a refused call, with the fix when it is the setup's."""
    from botocore import exceptions  # imported here: a usage error never pays for botocore

    if isinstance(error, exceptions.NoCredentialsError):
        return (
            f"{error}: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(any values for a local emulator)"
        )
    if isinstance(error, exceptions.EndpointConnectionError):
        return f"{error}: is the endpoint running, and is the URL right?"
    if isinstance(error, exceptions.ClientError | exceptions.BotoCoreError):
        return " ".join(str(error).split())  # one line, whatever the message's layout
    return None


def whole_number(at_least: int, at_most: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in [at_least, at_most], named in the error."""
    bounds = f"from {at_least} to {at_most}" if at_most is not None else f"of at least {at_least}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < at_least or (at_most is not None and value > at_most):
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number {bounds}")
        return value

    return parse


def number(above: float | None = None, at_least: float | None = None, at_most: float | None = None):
    """An argparse type: a finite float above `above` (or from `at_least`) up to `at_most`."""
    low = f"above {above:g}" if above is not None else f"from {at_least:g}" if at_least is not None else ""
    rule = " ".join(part for part in (low, f"to {at_most:g}" if at_most is not None else "") if part)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if (
            not math.isfinite(value)
            or (above is not None and value <= above)
            or (at_least is not None and value < at_least)
            or (at_most is not None and value > at_most)
        ):
            raise argparse.ArgumentTypeError(f"{text!r} is not a number {rule}")
        return value

    return parse


def share(text: str) -> float:
    """An argparse type: a share from 0 to 1 (poison ratios)."""
    return number(at_least=0, at_most=1)(text)
