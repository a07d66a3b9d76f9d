"""Each folder has one job, and imports only what that job needs: never a sibling's internals, never upward.

The rules are data: for each folder, the repository modules (or whole packages) it may import. A new edge
has to be added here on purpose, where a reviewer sees it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("consumer", "producer", "infra", "loadtest", "ops", "cli", "policy")
SETTINGS = ("infra.settings", "infra.resource_spec")  # plain data, no pulumi: the local pipeline reads them
COMMAND_LINE = ("cli",)  # what every command parses: usage errors, the stack outputs, a queue URL's endpoint
# The producer side's own modules (loadtest/*.py): what runs against any SQS endpoint, AWS included.
PRODUCER_SIDE = tuple(f"loadtest.{path.stem}" for path in (REPO / "loadtest").glob("*.py"))

ALLOWED = {
    # What gets deployed as the consumer imports nothing else of the repository.
    "consumer": ("consumer",),
    # The producer builds on the contract and the SQS message shape, nothing else of the consumer.
    "producer": ("producer", "consumer.vehicle_event", "consumer.sqs_event"),
    "infra": ("infra",),
    "__main__": ("infra",),
    # The policy pack runs in a virtualenv of its own on the deployer's machine, from its folder: nothing of
    # the repository, only pulumi_policy and the standard library (tests/policy/test_pack_files.py).
    "policy": (),
    # The command-line kit knows nothing of what the commands do.
    "cli": ("cli",),
    # Operator tools read the consumer's dead-letter format, and key items as it does (the table migration).
    "ops": ("ops", "consumer.dead_letters", "consumer.sqs_event", "consumer.stored_item", *COMMAND_LINE),
    # The producer side runs against any SQS endpoint: no embedded AWS, no analysis. It reads its inputs as
    # the operator tools do: one-line usage errors, the stack outputs file, the endpoint a queue URL names.
    # Its pipeline view reads the emulator's feed through the feed's own client (standard library only, the
    # other half of the feed's protocol), and finds the consumer's EMF metrics where the consumer puts them.
    "loadtest": (
        *PRODUCER_SIDE,
        "loadtest.local.emulator.pipeline_feed",
        "consumer.configuration",
        "producer",
        *COMMAND_LINE,
    ),
    # The report's CloudWatch source builds its queries as the pipeline view does (cloudwatch_queries.py).
    # The what-if (whatif.py) plays the load shapes as rate curves and is a command like the others: one-line
    # usage errors through the command-line kit.
    "loadtest.analysis": (
        "loadtest.analysis",
        "loadtest.ledger",
        "loadtest.cloudwatch_queries",
        "loadtest.shapes",
        "ops.dead_letter_queue",
        *COMMAND_LINE,
        *SETTINGS,
    ),
    # The embedded AWS: moto_server with its layers, provisioned from the stack's settings. It knows nothing
    # of who consumes or runs it (the ceiling's scratch load is built with the producer's vehicles).
    # How a run's children are tied to it (Ctrl-C, dying with the run): every room starts processes.
    "loadtest.local": (),
    "loadtest.local.emulator": (
        "loadtest.local.emulator",
        "loadtest.local.child_process",
        "producer.vehicles",
        *SETTINGS,
    ),
    # Lambda's poller and the worker pool run the real handler and worker; they talk to the emulator through
    # boto3 like any client, never through its code. AWS's scaling rules are mapping_rules' functions.
    "loadtest.local.consumers": (
        "loadtest.local.consumers",
        "loadtest.local.child_process",
        "consumer",
        "loadtest.analysis.mapping_rules",
        *SETTINGS,
    ),
    # The runs: one session owns a run's life (emulator, consumers, producers, files); the runs build on it,
    # read the analysis, and build the consumer package as the program does (bench).
    "loadtest.local.runs": (
        "loadtest",
        "producer",
        "consumer",
        "ops.dead_letter_queue",
        "infra.code_package",
        *COMMAND_LINE,
        *SETTINGS,
    ),
}


def _folder(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    if parts == ("__main__",):
        return "__main__"
    if parts[:2] == ("loadtest", "local"):
        return ".".join(parts[:3]) if len(parts) > 3 else "loadtest.local"
    return ".".join(parts[:2]) if parts[:2] == ("loadtest", "analysis") else parts[0]


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


# policy/.venv is the virtualenv the Pulumi CLI makes for the pack: not the repository's source.
SOURCES = sorted(
    [
        REPO / "__main__.py",
        *(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py") if ".venv" not in p.parts),
    ]
)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_module_imports_only_what_its_folder_may(path):
    rules = ALLOWED[_folder(path)]
    assert sorted(m for m in _repo_imports(path) if not _allowed(m, rules)) == []


def test_the_rules_catch_a_sideways_import():
    assert not _allowed("loadtest.local.consumers.esm_runner", ALLOWED["producer"])
    assert not _allowed("infra.queues", ALLOWED["loadtest.local.runs"])
    assert not _allowed("loadtest.local.consumers.esm_runner", ALLOWED["loadtest.local.emulator"])
    assert not _allowed("loadtest.local.runs.session", ALLOWED["loadtest.local.consumers"])
    assert not _allowed("loadtest.local.emulator.embedded_aws", ALLOWED["loadtest"])
    assert not _allowed("loadtest.analysis.cloudwatch_source", ALLOWED["loadtest"])
    assert _allowed("consumer.vehicle_event", ALLOWED["producer"])
