"""The consumer function's code package: every `.py` file of `consumer/` and nothing else.

The Pulumi program archives `package_files()` as the function's code; tests and benchmarks build the same
set of files with `write_zip`, so what they import is what Lambda runs. Dependencies are not packaged: boto3
comes with the Lambda runtime and Powertools (with aws-xray-sdk) with its public layer, which keeps the
package a few kilobytes and the deploy fast. No pulumi import here.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

from infra.settings import PROJECT_ROOT

PACKAGE = "consumer"
# A fixed timestamp (the earliest a zip can hold) makes the archive depend on file contents only.
_ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o644 << 16


def package_files(root: Path = PROJECT_ROOT) -> dict[str, Path]:
    """Archive name (`consumer/handler.py`) -> source file, sorted by name. Caches and non-Python files of
    the package (`__pycache__`, notes, fixtures) never ship."""
    package_dir = root / PACKAGE
    files = {
        path.relative_to(root).as_posix(): path
        for path in package_dir.rglob("*.py")
        if "__pycache__" not in path.relative_to(package_dir).parts and path.is_file()
    }
    if f"{PACKAGE}/handler.py" not in files:
        raise FileNotFoundError(f"{package_dir} has no handler.py: not the consumer package")
    return dict(sorted(files.items()))


# The producer function: its handler and the producer side of the load test it shares with Locust and the CLI.
PRODUCER_FILES = (
    "producer/__init__.py",
    "producer/handler.py",
    "loadtest/__init__.py",
    "loadtest/vehicles.py",
    "loadtest/sqs_producer.py",
    "consumer/__init__.py",
    "consumer/vehicle_event.py",
    "consumer/sqs_event.py",
)


def producer_package_files(root: Path = PROJECT_ROOT) -> dict[str, Path]:
    return {name: root / name for name in PRODUCER_FILES}


def package_digest(root: Path = PROJECT_ROOT) -> str:
    """Short content hash of the package: names the worker fleet's artifact, so new code means a new object,
    new user data, a new launch template version and an instance refresh."""
    digest = hashlib.sha256()
    for name, path in package_files(root).items():
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def write_zip(dest: Path, root: Path = PROJECT_ROOT, files: dict[str, Path] | None = None) -> Path:
    """Write a package (the consumer's unless `files` is given) as a deterministic zip (sorted names, fixed
    timestamps and modes) and return it."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in sorted((files or package_files(root)).items()):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIMESTAMP)
            info.external_attr = _FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return dest
