"""What requirements.lock pins: the exact versions every test, benchmark and demo ran, so that what the
program deploys (the Powertools layer) can be the same release. No pulumi import."""

from __future__ import annotations

import re
from pathlib import Path

LOCK_FILE = Path(__file__).resolve().parent.parent / "requirements.lock"


def _normalized(name: str) -> str:
    """PEP 503: `aws_lambda_powertools`, `AWS-Lambda-Powertools` and `aws.lambda.powertools` are one name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_version(package: str, lock_file: Path | None = None) -> str:
    """The `==` version of `package` in the lock (default: the repository's); LookupError naming the file when
    it is not pinned there."""
    lock_file = lock_file or LOCK_FILE
    wanted = _normalized(package)
    for line in lock_file.read_text().splitlines():
        name, separator, version = line.split("#")[0].strip().partition("==")
        if separator and _normalized(name.split("[")[0]) == wanted:
            return version.strip()
    raise LookupError(f"{package} is not pinned (name==version) in {lock_file}")
