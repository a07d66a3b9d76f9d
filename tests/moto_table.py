"""The stack's table on moto and the handler's store bound to it: for the consumer and DLQ tool tests."""

import boto3
import pytest
from moto import mock_aws

from consumer import handler
from consumer.event_store import DynamoEventStore
from infra.resource_spec import StackSpec
from infra.settings import StackSettings

SPEC = StackSpec("test", StackSettings())


@pytest.fixture
def dynamodb():
    with mock_aws():
        resource = boto3.resource("dynamodb", region_name="us-east-1")
        resource.create_table(**SPEC.dynamodb_create_table_args())
        yield resource


@pytest.fixture
def table(dynamodb):
    return dynamodb.Table(SPEC.table_name)


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def store(dynamodb, sleeps):
    """The real DynamoDB store on moto, its backoff sleeps recorded instead of slept."""
    event_store = DynamoEventStore(SPEC.table_name, dynamodb=dynamodb, sleep=sleeps.append)
    handler.processor.use_store(event_store)
    yield event_store
    handler.processor.use_store(None)


def scan_all(table) -> list[dict]:
    response = table.scan()
    items = response["Items"]
    while "LastEvaluatedKey" in response:
        response = table.scan(ExclusiveStartKey=response["LastEvaluatedKey"])
        items += response["Items"]
    return items
