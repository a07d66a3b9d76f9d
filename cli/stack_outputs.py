"""The stack outputs file (`pulumi stack output --json > FILE`), checked for what each command needs.

`python -m cli.stack_outputs FILE NAME` prints one output, as `pulumi stack output NAME` does on AWS (for
shell lines such as the AWS CLI's `--queue-url "$(…)"` against a local stack's outputs file).

A missing file, a file that is not the JSON object Pulumi writes, or one exported before the stack had an
output the command needs (a stack deployed before `dlqUrl` existed) is a usage error naming the file, the
output and the command that writes it again.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cli.command_line import OneLineParser, UsageError, entry_point


def load_stack_outputs(
    path: str | Path, needs: Sequence[str], option: str = "--stack-outputs"
) -> dict[str, Any]:
    """The outputs in `path`, with a non-empty string for every name in `needs`."""
    export = f"write it with `pulumi stack output --json > {path}` in the project's directory"
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise UsageError(f"{option} {path}: no such file; {export}") from None
    except IsADirectoryError:
        raise UsageError(f"{option} {path}: is a directory, not a file; {export}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{option} {path}: cannot be read ({error}); {export}") from None
    try:
        outputs = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{option} {path}: not JSON ({error}); {export}") from None
    if not isinstance(outputs, dict):
        raise UsageError(f"{option} {path}: not a JSON object of stack outputs; {export}")
    missing = [name for name in needs if not isinstance(outputs.get(name), str) or not outputs[name].strip()]
    if missing:
        names = ", ".join(missing)
        raise UsageError(
            f"{option} {path}: no {names} output, which this command needs; export the stack's outputs "
            f"again with `pulumi stack output --json > {path}` (after `pulumi up` if the stack predates "
            f"{'it' if len(missing) == 1 else 'them'})"
        )
    return outputs


@entry_point("python -m cli.stack_outputs")
def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m cli.stack_outputs", description=__doc__.split("\n\n")[1])
    parser.add_argument("file", metavar="FILE", help="JSON of `pulumi stack output --json`")
    parser.add_argument("name", metavar="NAME", help="the output to print, e.g. queueUrl")
    args = parser.parse_args(argv)
    print(load_stack_outputs(args.file, [args.name], option="FILE")[args.name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
