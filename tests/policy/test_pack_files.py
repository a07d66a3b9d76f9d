"""The pack as the Pulumi CLI will load it: its project file, its own requirements, its imports, its numbers.

The pack runs on the deployer's machine in a virtualenv of its own, made from policy/requirements.txt, with
only its folder on sys.path. So it imports nothing of the program: the few AWS numbers it shares with infra/
(the 6 × timeout rule, the receive-count advice, the pollers' invokes, the default retention, the tag keys)
are stated again in the pack with their AWS page, and held equal to infra's here.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import yaml

from infra import aws_limits, pushback
from infra.cost_tags import TAG_KEYS
from infra.settings import StackSettings
from policy.pipeline_policies import cost_tags, dead_letter, event_source
from tests.policy.crossguard import PACK, PACK_VERSION

LOCK = PACK.parent / "requirements.lock"
PACK_PACKAGE = "pipeline_policies"
THIRD_PARTY = {"pulumi_policy"}


def pins(path: Path) -> dict[str, str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return {
        name.lower().replace("-", "_"): version
        for name, _, version in (line.partition("==") for line in lines if "==" in line)
    }


def top_level_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_project_file_runs_the_pack_with_python_in_its_own_virtualenv():
    project = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    assert project["version"] == PACK_VERSION


def test_the_packs_requirements_are_the_versions_the_tests_ran():
    locked = pins(LOCK)
    assert pins(PACK / "requirements.txt") == {
        name: locked[name] for name in ("pulumi", "pulumi_policy", "protobuf")
    }


def test_the_pack_imports_only_pulumi_policy_the_standard_library_and_itself():
    sources = sorted(path for path in PACK.rglob("*.py") if ".venv" not in path.parts)  # not the CLI's venv
    allowed = set(sys.stdlib_module_names) | THIRD_PARTY | {"__future__", PACK_PACKAGE}
    assert {
        path.relative_to(PACK).as_posix(): sorted(top_level_imports(path) - allowed) for path in sources
    } == {path.relative_to(PACK).as_posix(): [] for path in sources}


def test_the_numbers_the_pack_states_again_are_infras():
    timeout_10_window_2 = StackSettings(function_timeout_seconds=10, batching_window_seconds=2)
    infra = (
        timeout_10_window_2.queue_visibility_timeout_seconds,
        pushback.ADVISED_MIN_RECEIVE_COUNT,
        aws_limits.ESM_SQS_CONCURRENT_INVOKES_PER_POLLER,
        StackSettings().message_retention_seconds,  # SQS's default
        TAG_KEYS,
    )
    assert infra == (
        event_source.VISIBILITY_TIMEOUTS_PER_FUNCTION_TIMEOUT * 10 + 2,
        event_source.MIN_RECEIVES_BEFORE_DEAD_LETTER,
        event_source.INVOKES_PER_PROVISIONED_POLLER,
        dead_letter.SQS_DEFAULT_RETENTION_SECONDS,
        cost_tags.REQUIRED_KEYS,
    )
