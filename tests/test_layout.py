"""Each folder has one job, and imports only what that job needs: never a sibling's internals, never upward.

The rules are data: for each folder, the repository modules (or whole packages) it may import. A new edge
has to be added here on purpose, where a reviewer sees it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("consumer", "producer", "infra", "loadtest", "ops")
SETTINGS = ("infra.settings", "infra.resource_spec")  # plain data, no pulumi: the local pipeline reads them
COMMAND_LINE = ("ops.command_line", "ops.stack_outputs", "ops.queue_endpoint")  # what every command parses

ALLOWED = {
    # What gets deployed as the consumer imports nothing else of the repository.
    "consumer": ("consumer",),
    # The producer builds on the contract and the SQS message shape, nothing else of the consumer.
    "producer": ("producer", "consumer.vehicle_event", "consumer.sqs_event"),
    "infra": ("infra",),
    "__main__": ("infra",),
    # Operator tools read the consumer's dead-letter format.
    "ops": ("ops", "consumer.dead_letters", "consumer.sqs_event"),
    # The producer side runs against any SQS endpoint: no embedded AWS, no analysis. It reads its inputs as
    # the operator tools do: one-line usage errors, the stack outputs file, the endpoint a queue URL names.
    "loadtest": ("loadtest.ledger", "loadtest.shapes", "producer", *COMMAND_LINE),
    "loadtest.analysis": ("loadtest.analysis", "loadtest.ledger", "ops.dead_letter_queue", *SETTINGS),
    # The embedded AWS runs the real handler and worker, and builds the consumer package as the program does.
    "loadtest.local": (
        "loadtest",
        "producer",
        "consumer",
        "ops.dead_letter_queue",
        "ops.command_line",
        "infra.code_package",
        *SETTINGS,
    ),
}


def _folder(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    if parts == ("__main__",):
        return "__main__"
    return ".".join(parts[:2]) if parts[:2] in (("loadtest", "local"), ("loadtest", "analysis")) else parts[0]


def _repo_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found.update(name for name in names if name.split(".")[0] in PACKAGES)
    return found


def _allowed(module: str, rules: tuple[str, ...]) -> bool:
    return any(module == rule or module.startswith(rule + ".") for rule in rules)


SOURCES = sorted([REPO / "__main__.py", *(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py"))])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_module_imports_only_what_its_folder_may(path):
    rules = ALLOWED[_folder(path)]
    assert sorted(m for m in _repo_imports(path) if not _allowed(m, rules)) == []


def test_the_rules_catch_a_sideways_import():
    assert not _allowed("loadtest.local.esm_runner", ALLOWED["producer"])
    assert not _allowed("infra.queues", ALLOWED["loadtest.local"])
    assert _allowed("consumer.vehicle_event", ALLOWED["producer"])
