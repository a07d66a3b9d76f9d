"""Each function's code package is what its entry point imports, and imports from itself alone.

GIVEN the zip built the way the program archives the code (`write_zip`)
WHEN it is extracted and `consumer.handler` imported in an isolated interpreter that sees only that directory
    (plus the interpreter's own site-packages, standing in for the Lambda runtime and the Powertools layer)
THEN every consumer module comes from the package and no other module of the repository is reachable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from infra.code_package import (
    import_closure,
    package_files,
    producer_package_files,
    worker_package_files,
    write_zip,
)
from infra.settings import PROJECT_ROOT

MAX_PACKAGE_BYTES = 64 * 1024
REPO_PACKAGES = ("infra", "loadtest", "tests")

# Runs in the child: prints where everything came from, as JSON.
CHILD = textwrap.dedent(
    """
    import importlib.util, json, sys
    package_dir, repo_packages = sys.argv[1], json.loads(sys.argv[2])
    sys.path.insert(0, package_dir)
    import consumer.handler
    print(json.dumps({
        "consumer_files": {
            name: getattr(module, "__file__", None)
            for name, module in sorted(sys.modules.items())
            if name == "consumer" or name.startswith("consumer.")
        },
        "repo_modules_loaded": sorted(
            name for name in sys.modules if name.split(".")[0] in repo_packages
        ),
        "repo_packages_found": {
            name: getattr(importlib.util.find_spec(name), "origin", None) for name in repo_packages
        },
        "lambda_handler": callable(consumer.handler.lambda_handler),
    }))
    """
)


def lambda_like_environment() -> dict[str, str]:
    """The variables the Pulumi program sets on the function, plus a region; no PYTHONPATH (and -I)."""
    keep = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    return keep | {
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TABLE_NAME": "vehicle-pipeline-test-vehicle-events",
        "POWERTOOLS_SERVICE_NAME": "vehicle-consumer",
        "POWERTOOLS_METRICS_NAMESPACE": "VehiclePipelineTest",
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here; tracing is proven in tests/consumer
    }


def run_isolated(code: str, package_dir: Path, *args: str) -> dict:
    """Run `code` in `python -I` beside the extracted package, as Lambda would; return its last JSON line."""
    child = subprocess.run(
        [sys.executable, "-I", "-c", code, str(package_dir), *args],
        cwd=package_dir.parent,
        env=lambda_like_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout.strip().splitlines()[-1])


# What each deployed unit ships, listed by hand: a new import changes a package only when this list agrees.
CONSUMER_PACKAGE = [
    "consumer/__init__.py",
    "consumer/batch_processor.py",
    "consumer/batch_write.py",
    "consumer/configuration.py",
    "consumer/dead_letters.py",
    "consumer/event_store.py",
    "consumer/handler.py",
    "consumer/sqs_event.py",
    "consumer/stored_item.py",
    "consumer/tracing.py",
    "consumer/vehicle_event.py",
]
WORKER_PACKAGE = sorted([*CONSUMER_PACKAGE, "consumer/worker.py"])
PRODUCER_PACKAGE = [
    "consumer/__init__.py",
    "consumer/sqs_event.py",
    "consumer/vehicle_event.py",
    "producer/__init__.py",
    "producer/handler.py",
    "producer/sqs_producer.py",
    "producer/vehicles.py",
]


def test_each_package_ships_exactly_what_its_entry_point_imports():
    assert list(package_files()) == CONSUMER_PACKAGE
    assert list(worker_package_files()) == WORKER_PACKAGE
    assert list(producer_package_files()) == PRODUCER_PACKAGE


def test_consumer_archive_holds_the_package_and_is_small(tmp_path):
    archive = write_zip(tmp_path / "consumer.zip")
    with zipfile.ZipFile(archive) as opened:
        assert opened.namelist() == CONSUMER_PACKAGE
    assert archive.stat().st_size < MAX_PACKAGE_BYTES


def test_a_missing_entry_module_is_named():
    with pytest.raises(FileNotFoundError, match=r"no entry module consumer\.nosuch"):
        import_closure("consumer.nosuch")


def test_archive_is_deterministic(tmp_path):
    first = write_zip(tmp_path / "first.zip").read_bytes()
    second = write_zip(tmp_path / "second.zip").read_bytes()
    assert first == second


def test_package_files_are_the_archive_entries():
    files = package_files()
    assert all(name.startswith("consumer/") and name.endswith(".py") for name in files)
    assert all(path == PROJECT_ROOT / name for name, path in files.items())


def test_handler_imports_from_the_extracted_package_alone(tmp_path):
    extracted = tmp_path / "package"
    with zipfile.ZipFile(write_zip(tmp_path / "consumer.zip")) as archive:
        archive.extractall(extracted)

    report = run_isolated(CHILD, extracted, json.dumps(REPO_PACKAGES))

    assert report["lambda_handler"] is True
    assert "consumer.handler" in report["consumer_files"]
    outside = {
        name: file
        for name, file in report["consumer_files"].items()
        if not Path(file).resolve().is_relative_to(extracted.resolve())
    }
    assert outside == {}
    assert report["repo_modules_loaded"] == []
    reachable_in_repo = {
        name: origin
        for name, origin in report["repo_packages_found"].items()
        if origin is not None and Path(origin).resolve().is_relative_to(PROJECT_ROOT)
    }
    assert reachable_in_repo == {}


PRODUCER_CHILD = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import producer.handler
    print(json.dumps({
        name: module.__file__
        for name, module in sorted(sys.modules.items())
        if name.split(".")[0] in ("producer", "loadtest", "consumer", "infra", "tests")
        and getattr(module, "__file__", None)
    }))
    """
)


def test_producer_handler_imports_from_its_own_package_alone(tmp_path):
    files = producer_package_files()
    extracted = tmp_path / "producer"
    with zipfile.ZipFile(write_zip(tmp_path / "producer.zip", files=files)) as archive:
        archive.extractall(extracted)

    loaded = run_isolated(PRODUCER_CHILD, extracted)
    assert sorted(
        Path(file).resolve().relative_to(extracted.resolve()).as_posix() for file in loaded.values()
    ) == (sorted(files))
