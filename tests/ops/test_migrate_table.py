"""`python -m ops.migrate_table`: a stack's history moved from the table of the earlier key design (keyed by
eventId, a byVehicle index beside it) into the table keyed by vehicle, on moto_server.

GIVEN an old table holding the three kinds of item the consumer wrote (an event with sentAt, one keyed by its
messageId, an eventId without sentAt), and an event the consumer stored in the new table meanwhile
WHEN the tool copies, twice
THEN each item is in the new table under the key the consumer gives that event today, one item per event, and
the old table is untouched.
"""

import boto3
import pytest

from infra.settings import StackSettings
from ops import migrate_table
from tests.loadtest.local.local_pipeline import local_stack

OLD_TABLE = "vehicle-pipeline-status-test-vehicle-events"
OLD_ITEMS = [
    {"eventId": "e-timed", "keySource": "eventId", "vehicleId": "VH1", "sentAt": 1_790_000_000_000},
    {"eventId": "m-seed", "keySource": "messageId", "vehicleId": "VH1", "enqueuedAt": 1_790_000_005_000},
    {"eventId": "e-untimed", "keySource": "eventId", "vehicleId": "VH2", "enqueuedAt": 1_790_000_009_000},
]


@pytest.fixture
def stack(tmp_path):
    with local_stack("migrate-test", StackSettings(), tmp_path / "run") as (local, _):
        dynamodb = boto3.resource("dynamodb")
        old = dynamodb.create_table(  # the earlier key design, as infra/table.py declared it
            TableName=OLD_TABLE,
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": kind}
                for name, kind in (("eventId", "S"), ("vehicleId", "S"), ("eventTime", "N"))
            ],
            KeySchema=[{"AttributeName": "eventId", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "byVehicle",
                    "KeySchema": [
                        {"AttributeName": "vehicleId", "KeyType": "HASH"},
                        {"AttributeName": "eventTime", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for item in OLD_ITEMS:
            old.put_item(Item={**item, "status": "STORED", "eventTime": 1})
        yield local, local.write_outputs(tmp_path / "outputs.json"), dynamodb.Table(local.table_name), old


def test_the_history_moves_to_the_vehicle_keyed_table_once_per_event(stack, capsys):
    local, outputs, new, old = stack
    new.put_item(Item={"vehicleId": "VH1", "eventKey": "1790000000000#e-timed", "eventId": "e-timed"})

    arguments = ["--from", OLD_TABLE, "--stack-outputs", str(outputs)]
    assert migrate_table.main(arguments) == 0
    assert migrate_table.main(arguments) == 0  # again: nothing doubles

    items = {(i["vehicleId"], i["eventKey"]): i for i in new.scan(ConsistentRead=True)["Items"]}
    assert sorted(items) == [
        ("VH1", "1790000000000#e-timed"),
        ("VH1", "1790000005000#m-seed"),
        ("VH2", "0000000000000#e-untimed"),
    ]
    assert items["VH1", "1790000005000#m-seed"]["status"] == "STORED"  # every attribute kept
    assert len(old.scan()["Items"]) == 3
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"read 3 items from {OLD_TABLE}, wrote 3 to {local.table_name}, which holds 3"
    )
