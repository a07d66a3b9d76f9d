"""The local worker fleet: the backlog-per-instance rule, and real worker processes scaled by it on moto.

GIVEN a backlog of 300 events and a target of 20 visible messages per worker (1–4 workers)
WHEN the fleet runs
THEN it scales out to its maximum, drains the queue storing every event once, and scales back in to one.
"""

import boto3
import pytest

from infra.settings import StackSettings
from loadtest.analysis.ledger_check import scan_table
from loadtest.local.consumers.worker_pool import desired_workers
from producer.vehicles import VehicleFactory
from tests.loadtest.local.local_pipeline import local_stack, send, wait_until


@pytest.mark.parametrize(
    ("visible", "expected"),
    [(0, 1), (1, 1), (20, 1), (21, 2), (79, 4), (80, 4), (5000, 4)],
)
def test_fleet_size_keeps_backlog_per_worker_at_the_target_within_bounds(visible, expected):
    assert desired_workers(visible, target_backlog=20, minimum=1, maximum=4) == expected


def test_fleet_scales_out_on_backlog_drains_and_scales_in(tmp_path):
    settings = StackSettings(
        function_timeout_seconds=1,
        worker_fleet_min_size=1,
        worker_fleet_max_size=4,
        worker_fleet_backlog_per_instance=20,
    )
    with local_stack("fleet-test", settings, tmp_path) as (local, session):
        sent = [VehicleFactory(seed=4).event() for _ in range(300)]
        send(boto3.client("sqs"), local.queue_url, [e.to_json() for e in sent])
        fleet = session.consumers(local, settings, "worker")
        try:
            fleet.start()
            wait_until(lambda: fleet.depth() == (0, 0, 0), 90, "the fleet to drain the queue")
            wait_until(lambda: fleet.pollers == 1, 30, "scale-in to the minimum once idle")
        finally:
            fleet.stop()
        items = scan_table(boto3.resource("dynamodb").Table(local.table_name))

    assert sorted(item["eventId"] for item in items) == sorted(e.event_id for e in sent)
    timeline = [sample.pollers for sample in fleet.samples]
    peak = timeline.index(4)
    assert (timeline[0], max(timeline), fleet.max_pollers) == (1, 4, 4), timeline
    after_peak = timeline[peak:]
    assert after_peak == sorted(after_peak, reverse=True) and after_peak[-1] < 4, timeline  # in, one by one
    assert (fleet.totals["records"], fleet.totals["stored"], fleet.totals["failed_records"]) == (300, 300, 0)
