"""The embedded DynamoDB's write budget: each table, index and partition charged as DynamoDB charges them, and
the refusals answered as DynamoDB answers them (UnprocessedItems, ProvisionedThroughputExceededException).

GIVEN a table's description (provisioned or on-demand, with a global secondary index)
WHEN writes arrive faster than its capacity
THEN exactly the writes the capacity covers go through, the rest are refused whole, and a boto3 client on the
emulator sees what it would see on AWS.
"""

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from infra.resource_spec import StackSpec
from infra.settings import StackSettings
from loadtest.local.emulator.dynamodb_capacity import (
    ON_DEMAND_NEW_TABLE_UNITS,
    PARTITION_UNITS,
    TableCapacity,
    write_units,
)
from loadtest.local.emulator.embedded_aws import aws_environment, moto_server, provision


def description(billing: str, table_units: int = 0, index_units: int = 0) -> dict:
    throughput = {"WriteCapacityUnits": table_units, "ReadCapacityUnits": 1}
    return {
        "KeySchema": [{"AttributeName": "eventId", "KeyType": "HASH"}],
        "BillingModeSummary": {"BillingMode": billing},
        "ProvisionedThroughput": throughput,
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "byVehicle",
                "KeySchema": [
                    {"AttributeName": "vehicleId", "KeyType": "HASH"},
                    {"AttributeName": "eventTime", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
                "ProvisionedThroughput": {"WriteCapacityUnits": index_units, "ReadCapacityUnits": 1},
            }
        ],
    }


def item(n: int, vehicle: str = "V1", padding: int = 0) -> dict:
    return {
        "eventId": {"S": f"e{n}"},
        "vehicleId": {"S": vehicle},
        "eventKey": {"S": f"{n:013d}#e{n}"},  # the stack's table is keyed (vehicleId, eventKey)
        "eventTime": {"N": str(n)},
        "note": {"S": "x" * padding},
    }


def test_a_write_costs_one_unit_per_kilobyte_rounded_up():
    assert [write_units(size) for size in (1, 1024, 1025, 4096)] == [1, 1, 2, 4]


def test_a_provisioned_table_takes_its_units_a_second_and_keeps_what_it_did_not_use():
    table = TableCapacity(description("PROVISIONED", table_units=5, index_units=100), now=0.0)

    admitted_now = [table.admit(item(n), now=0.0) for n in range(8)]
    admitted_later = [table.admit(item(n), now=3.0) for n in range(20)]

    assert admitted_now == [True] * 5 + [False] * 3
    assert admitted_later.count(True) == 15  # 3 s of 5 units, kept as burst capacity
    assert table.throttled_items == 3 + 5


def test_an_index_without_capacity_throttles_its_table_and_nothing_is_charged():
    table = TableCapacity(description("PROVISIONED", table_units=100, index_units=2), now=0.0)

    assert [table.admit(item(n), now=0.0) for n in range(4)] == [True, True, False, False]
    assert table.consumed_units == 4  # two items, each a unit in the table and one in the index


def test_a_large_item_costs_its_kilobytes():
    table = TableCapacity(description("PROVISIONED", table_units=4, index_units=100), now=0.0)

    assert table.admit(item(1, padding=3500), now=0.0)  # 4 units
    assert not table.admit(item(2), now=0.0)


def test_a_new_on_demand_table_serves_four_thousand_units_a_second_then_double_its_peak():
    table = TableCapacity(description("PAY_PER_REQUEST"), now=0.0)
    # Distinct partition keys and index keys, so only the table's own limit applies (the index has its own).
    first = [table.admit(item(n, vehicle=f"V{n}"), now=0.5) for n in range(ON_DEMAND_NEW_TABLE_UNITS + 10)]

    assert first.count(True) == ON_DEMAND_NEW_TABLE_UNITS
    assert table.admit(item(10**6, vehicle="new"), now=1.5)  # a new second


def test_one_partition_key_takes_at_most_a_thousand_units_a_second():
    table = TableCapacity(description("PAY_PER_REQUEST"), now=0.0)
    table.hash_key = "vehicleId"  # a table keyed by vehicle, as a history table would be
    admitted = [table.admit(item(n, vehicle="hot"), now=0.0) for n in range(PARTITION_UNITS + 5)]

    assert admitted.count(True) == PARTITION_UNITS


@pytest.fixture
def provisioned_table():
    settings = StackSettings(billing_mode="PROVISIONED", write_capacity=1, read_capacity=1)
    with moto_server() as endpoint:
        local = provision(StackSpec("capacity-test", settings), endpoint)
        env = aws_environment(endpoint)
        client = boto3.client(
            "dynamodb",
            config=Config(retries={"total_max_attempts": 1}),  # botocore would retry a throttle itself
            endpoint_url=endpoint,
            region_name=env["AWS_DEFAULT_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        yield client, local.table_name


def test_batch_write_item_returns_what_the_capacity_did_not_cover_as_unprocessed(provisioned_table):
    dynamodb, table = provisioned_table
    requests = [{"PutRequest": {"Item": item(n)}} for n in range(5)]

    first = dynamodb.batch_write_item(RequestItems={table: requests})
    with pytest.raises(ClientError) as refused:  # none of them fits a 1-unit table now
        dynamodb.batch_write_item(RequestItems={table: requests[1:]})
    with pytest.raises(ClientError) as put:
        dynamodb.put_item(TableName=table, Item=item(9))

    assert first["UnprocessedItems"] == {table: requests[1:]}
    assert dynamodb.scan(TableName=table)["Count"] == 1
    assert refused.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert put.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
