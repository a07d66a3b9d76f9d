"""The consumer's configuration, read once from its environment and checked before any record is handled.

The Pulumi program sets every variable on the function (and the worker fleet's systemd unit); a worker
started by hand sets fewer. What has a sensible default gets it here, so Powertools never runs without a
metrics namespace (its EMF serializer refuses to, and every batch would fail after its records were
stored); what has none (the table) fails at once, in one line naming the variable and the fix, instead of a
KeyError at the first batch. The handler checks this at import: on Lambda an init error, for the worker a
usage error before its first receive.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, MutableMapping
from urllib.parse import urlsplit

DEFAULT_SERVICE_NAME = "vehicle-consumer"
# The stack setting metricsNamespace's default (infra/settings.py; a test holds the two equal): a worker
# started without POWERTOOLS_METRICS_NAMESPACE publishes where the deployed function does.
DEFAULT_METRICS_NAMESPACE = "VehiclePipeline"
# DynamoDB table names: 3-255 of a-z, A-Z, 0-9, '_', '-', '.' (DynamoDB Developer Guide, "Naming rules").
TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
# CloudWatch namespaces: up to 255 characters, no "AWS/" prefix (CloudWatch User Guide, "Namespaces").
NAMESPACE = re.compile(r"(?!AWS/)[A-Za-z0-9.\-_/#:]{1,255}")


class ConfigurationError(ValueError):
    """A variable the consumer needs is missing or malformed: the message names it, its value and the fix."""


@dataclasses.dataclass(frozen=True)
class ConsumerConfiguration:
    table_name: str
    dlq_url: str | None  # set only when permanent errors are routed to the DLQ
    service_name: str
    metrics_namespace: str

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> ConsumerConfiguration:
        env = os.environ if env is None else env
        table = env.get("TABLE_NAME", "").strip()
        if not table:
            raise ConfigurationError(
                "TABLE_NAME is not set: set it to the stack's tableName output (the DynamoDB table events "
                "are stored in)"
            )
        if not TABLE_NAME.fullmatch(table):
            raise ConfigurationError(
                f"TABLE_NAME={table!r}: not a DynamoDB table name (3-255 letters, digits, '_', '-', '.'); "
                "set it to the stack's tableName output"
            )
        dlq_url = env.get("DLQ_URL", "").strip() or None
        if dlq_url and not _is_queue_url(dlq_url):
            raise ConfigurationError(
                f"DLQ_URL={dlq_url!r}: not a queue URL; set it to the stack's dlqUrl output, or unset it to "
                "report invalid records as failures instead of routing them"
            )
        namespace = env.get("POWERTOOLS_METRICS_NAMESPACE", "").strip() or DEFAULT_METRICS_NAMESPACE
        if not NAMESPACE.fullmatch(namespace):
            raise ConfigurationError(
                f"POWERTOOLS_METRICS_NAMESPACE={namespace!r}: not a CloudWatch namespace (up to 255 "
                "letters, digits and . - _ / # :, not starting with AWS/); set the stack's metricsNamespace"
            )
        service = env.get("POWERTOOLS_SERVICE_NAME", "").strip() or DEFAULT_SERVICE_NAME
        return cls(table, dlq_url, service, namespace)

    def export(self, env: MutableMapping[str, str] | None = None) -> None:
        """Put the defaults where Powertools reads them (its Logger and Metrics read the environment when
        they are created)."""
        env = os.environ if env is None else env
        env["POWERTOOLS_SERVICE_NAME"] = self.service_name
        env["POWERTOOLS_METRICS_NAMESPACE"] = self.metrics_namespace


def _is_queue_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.path.count("/") == 2
