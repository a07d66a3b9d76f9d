"""The consumer's configuration: defaults where a sensible one exists, one clear error where none does, and
a metrics failure that never turns stored records into failures."""

import subprocess
import sys

import pytest
from aws_lambda_powertools.metrics.exceptions import SchemaValidationError

from consumer import handler
from consumer.configuration import DEFAULT_METRICS_NAMESPACE, ConfigurationError, ConsumerConfiguration
from infra.settings import PROJECT_ROOT, StackSettings
from tests.consumer.test_handler import invoke
from tests.lambda_events import sqs_record, vehicle_body
from tests.moto_table import scan_all


def test_a_worker_without_powertools_variables_gets_the_stacks_default_namespace_and_service():
    config = ConsumerConfiguration.from_environment({"TABLE_NAME": "events"})

    assert (config.metrics_namespace, config.service_name, config.dlq_url) == (
        "VehiclePipeline",
        "vehicle-consumer",
        None,
    )
    assert StackSettings().metrics_namespace == DEFAULT_METRICS_NAMESPACE  # where the deployed one publishes


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {},
            "TABLE_NAME is not set: set it to the stack's tableName output (the DynamoDB table events are "
            "stored in)",
        ),
        (
            {"TABLE_NAME": "a b"},
            "TABLE_NAME='a b': not a DynamoDB table name (3-255 letters, digits, '_', '-', "
            "'.'); set it to the stack's tableName output",
        ),
        (
            {"TABLE_NAME": "events", "DLQ_URL": "dlq"},
            "DLQ_URL='dlq': not a queue URL; set it to the stack's "
            "dlqUrl output, or unset it to report invalid records as failures instead of routing them",
        ),
    ],
    ids=["no-table", "bad-table", "bad-dlq"],
)
def test_a_missing_or_malformed_variable_is_one_error_naming_it(env, message):
    with pytest.raises(ConfigurationError) as error:
        ConsumerConfiguration.from_environment(env)

    assert str(error.value) == message


def test_the_handler_without_a_table_fails_at_import_naming_the_variable():
    child = subprocess.run(
        [sys.executable, "-c", "import consumer.handler"],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert child.returncode == 1
    assert child.stderr.splitlines()[-1] == (
        "consumer.configuration.ConfigurationError: TABLE_NAME is not set: set it to the stack's tableName "
        "output (the DynamoDB table events are stored in)"
    )


def test_metrics_that_cannot_be_published_never_fail_stored_records(store, table, monkeypatch, caplog):
    # GIVEN an EMF document Powertools refuses to serialize (what a missing namespace did to every batch)
    def refuse():
        raise SchemaValidationError("Must contain a metric namespace.")

    monkeypatch.setattr(handler.metrics, "flush_metrics", refuse)

    # WHEN a batch of valid events is handled
    response = invoke(sqs_record(vehicle_body("e1"), "m1"), sqs_record(vehicle_body("e2"), "m2"))

    # THEN both are stored and reported done; the failure is logged, not raised
    assert response == {"batchItemFailures": []}
    assert sorted(item["eventId"] for item in scan_all(table)) == ["e1", "e2"]
    [warning] = [r for r in caplog.records if r.getMessage() == "batch metrics not published"]
    assert warning.error == "SchemaValidationError('Must contain a metric namespace.')"
