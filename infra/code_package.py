"""The functions' code packages: exactly the repository modules each entry point imports, and nothing else.

A package is the import closure of its entry module, read from the source with `ast` (nothing is imported):
the consumer Lambda ships what `consumer.handler` imports, the worker fleet what `consumer.worker` imports,
the producer Lambda what `producer.handler` imports (its factory, its SQS client, and the consumer's message
formats it builds on). The Pulumi program archives these sets; tests and benchmarks build the same sets with
`write_zip`, so what they import is what runs. Dependencies are not packaged: boto3 comes with the Lambda
runtime and Powertools (with aws-xray-sdk) with its public layer, which keeps each package a few kilobytes
and the deploy fast. No pulumi import here.
"""

from __future__ import annotations

import ast
import hashlib
import zipfile
from pathlib import Path

from infra.settings import PROJECT_ROOT

# Entry modules of the deployed code; the repository packages a package may draw modules from.
CONSUMER_ENTRY = "consumer.handler"
WORKER_ENTRY = "consumer.worker"
PRODUCER_ENTRY = "producer.handler"
_SHIPPABLE = ("consumer", "producer")
# A fixed timestamp (the earliest a zip can hold) makes the archive depend on file contents only.
_ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o644 << 16


def _module_file(module: str, root: Path) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


def _imported_modules(path: Path) -> set[str]:
    """Repository modules a file imports, at top level or inside functions (`from consumer import x` counts
    `consumer.x` when that is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in _SHIPPABLE}


def import_closure(entry: str, root: Path = PROJECT_ROOT) -> dict[str, Path]:
    """Archive name (`consumer/handler.py`) -> source file for `entry` and every repository module it reaches,
    with each package's `__init__.py`, sorted by name."""
    if not _module_file(entry, root).is_file():
        raise FileNotFoundError(f"{_module_file(entry, root)} does not exist: no entry module {entry}")
    files: dict[str, Path] = {}
    pending = [entry]
    while pending:
        module = pending.pop()
        path = _module_file(module, root)
        name = path.relative_to(root).as_posix()
        if name in files or not path.is_file():
            continue  # seen, or a name imported from a module rather than a module
        files[name] = path
        init = path.parent / "__init__.py"
        files.setdefault(init.relative_to(root).as_posix(), init)
        pending.extend(_imported_modules(path))
    return dict(sorted(files.items()))


def package_files(root: Path = PROJECT_ROOT) -> dict[str, Path]:
    """The consumer Lambda's package."""
    return import_closure(CONSUMER_ENTRY, root)


def worker_package_files(root: Path = PROJECT_ROOT) -> dict[str, Path]:
    """The worker fleet's artifact: the worker and the handler logic it runs."""
    return import_closure(WORKER_ENTRY, root)


def producer_package_files(root: Path = PROJECT_ROOT) -> dict[str, Path]:
    return import_closure(PRODUCER_ENTRY, root)


def package_digest(files: dict[str, Path]) -> str:
    """Short content hash of a package: names the worker fleet's artifact, so new code means a new object,
    new user data, a new launch template version and an instance refresh."""
    digest = hashlib.sha256()
    for name, path in files.items():
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
