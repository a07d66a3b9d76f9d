"""Arguments the local runs (demo, capacity, smoke, …) share, checked as they are parsed: before moto_server.

`--stack NAME`: infra/settings.py raises a ConfigError listing every bad key; a run reports it as one line
naming the stack file and each key, value and rule (`make demo STACK=nosuch` names the stacks there are),
exit 2. `--faults`: what the handler would read from VEHICLE_PIPELINE_FAULTS, parsed by the handler's own
parser.
"""

from __future__ import annotations

import argparse

import yaml

from infra.settings import PROJECT, PROJECT_ROOT, ConfigError, from_stack_file, stack_file
from loadtest.local.consumers.fault_injection import Faults

STACKS_DIR = PROJECT_ROOT  # where the Pulumi.<stack>.yaml files are (a test points it elsewhere)


def stack_name(value: str) -> str:
    """An argparse type: the name of a Pulumi.<stack>.yaml here whose settings validate."""
    path = stack_file(value, STACKS_DIR)
    if not path.is_file():
        stacks = sorted(
            p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in STACKS_DIR.glob("Pulumi.*.yaml")
        )
        raise argparse.ArgumentTypeError(
            f"no stack {value!r}: there is no {path.name}; choose one of {', '.join(stacks)}"
        )
    try:
        from_stack_file(value, STACKS_DIR)
    except ConfigError as error:
        problems = "; ".join(f"{PROJECT}:{key} = {bad!r}: {rule}" for key, bad, rule in error.problems)
        raise argparse.ArgumentTypeError(f"{path.name} is invalid: {problems}; fix the file") from None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        raise argparse.ArgumentTypeError(
            f"{path.name} is not valid YAML{line}: {getattr(error, 'problem', error)}; fix the file"
        ) from None
    return value


def fault_spec(text: str) -> str:
    """An argparse type: a VEHICLE_PIPELINE_FAULTS value the handler accepts."""
    try:
        Faults.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{text!r}: {error}; e.g. dynamodb_failure_ratio=0.01,overrun_ratio=0.01"
        ) from None
    return text
