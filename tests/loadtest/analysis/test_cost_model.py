"""The cost model, from fixed inputs: one line item recomputed by hand, prices that change the result, the
measured inputs read from a run, and the report section.

GIVEN a Usage with round figures, or a synthetic run.json with request counts and consumer logs
WHEN the model prices a month of the dev design, seed-style and the fleet
THEN the Lambda duration and SQS receive lines equal the hand computation to the last bit, a price or a rule
changed in the data changes them (through `overrides` and through a `--prices` file), the run's counts
become exact per-event ratios and write units, and the REPORT section carries the figures and its chart.
"""

import dataclasses
import json

import pytest

from infra.resource_spec import StackSpec
from infra.settings import StackSettings, from_stack_file
from loadtest.analysis import cost_report
from loadtest.analysis.aws_prices import load_prices
from loadtest.analysis.cost_inputs import Line, Usage, consumer_log_bytes, fit_line, usage_from_run
from loadtest.analysis.cost_model import (
    FleetDesign,
    LambdaDesign,
    crossover,
    fixed,
    fleet_month,
    floor_month,
    lambda_month,
    per_million_events,
    seed_style,
    traces_recorded,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
USAGE = Usage(
    source="fixed",
    events=1_000,
    messages_per_send=10.0,
    deliveries_per_event=1.0,
    messages_per_receive=8.0,
    dlq_sends_per_event=0.0,
    sqs_largest_body_bytes=4_000,
    records_per_invocation=10.0,
    batch_size=10,
    batch_ms=Line(4.0, 1.5, 100),  # 19 ms for a batch of 10
    log_bytes=Line(600.0, 50.0, 100),
    log_bytes_include_platform=False,
    table_write_units_per_event=1.0,
    index_write_units_per_event=1.0,
    item_bytes=(380.0, 370, 390),
    custom_metrics=8,
    consumer_msgs_per_s=200.0,
    empty_receives=0,
    run_seconds=60.0,
)
DEV = LambdaDesign.for_stack("this design, dev", from_stack_file("dev"))


def line(items, prefix: str):
    (found,) = [item for item in items if item.item.startswith(prefix)]
    return found


def test_the_lambda_duration_line_is_the_hand_computation():
    # 1,000,000 events in batches of 10: 100,000 invocations of ceil(4 + 1.5 × 10) = 19 ms at 256 MB arm64.
    item = line(lambda_month(DEV, USAGE, load_prices(), 1_000_000), "duration")
    assert item.quantity == 100_000 * 19 / 1000 * 256 / 1024 == 475.0
    assert item.unit_price == 0.0000133334
    assert item.dollars == 475.0 * 0.0000133334
    assert item.item == "duration (256 MB, arm64, 19 ms a batch)"


def test_the_sqs_receive_line_is_the_hand_computation():
    item = line(lambda_month(DEV, USAGE, load_prices(), 1_000_000), "ReceiveMessage")
    assert item.quantity == 125_000  # 1,000,000 deliveries, 8 a receive, payloads under 64 KiB
    assert item.dollars == 125_000 * (0.4 / 1e6)


def test_a_price_changed_in_the_data_changes_the_result(tmp_path):
    default = lambda_month(DEV, USAGE, load_prices(), 1_000_000)
    cheaper = lambda_month(DEV, USAGE, load_prices(overrides={"lambda_gb_second_arm64": 0.00001}), 1_000_000)
    assert line(cheaper, "duration").dollars == 475.0 * 0.00001
    user_file = tmp_path / "prices.json"
    user_file.write_text(json.dumps({"prices": {"sqs_standard_requests_per_million": {"value": 0.8}}}))
    doubled = lambda_month(DEV, USAGE, load_prices(user_file), 1_000_000)
    assert line(doubled, "ReceiveMessage").dollars == 125_000 * (0.8 / 1e6)
    assert per_million_events(doubled, 1_000_000) > per_million_events(default, 1_000_000)


def test_an_unknown_price_key_is_refused(tmp_path):
    user_file = tmp_path / "prices.json"
    user_file.write_text(json.dumps({"prices": {"lambda_gb_second_risc": 1.0}}))
    with pytest.raises(KeyError, match="lambda_gb_second_risc"):
        load_prices(user_file)


def test_every_price_names_its_page_and_date():
    book = load_prices()
    for figure in [*book.prices.values(), *book.rules.values()]:
        assert figure.page.startswith("https://"), figure.key
        assert figure.read_on == "2026-11-25", figure.key
        assert figure.re_read or "not re-read here" in figure.note, figure.key


def test_seed_style_pays_per_message_where_this_design_batches():
    prices, events = load_prices(), 1_000_000
    ours, seeds = (
        lambda_month(DEV, USAGE, prices, events),
        lambda_month(seed_style(from_stack_file("dev")), USAGE, prices, events),
    )
    assert line(seeds, "SendMessage(Batch)").quantity == events  # one SendMessage per event
    assert line(ours, "SendMessage(Batch)").quantity == events / 10
    assert line(seeds, "ReceiveMessage").quantity == events
    assert line(seeds, "DeleteMessage").quantity == events
    assert line(seeds, "invocations").quantity == events
    assert line(ours, "invocations").quantity == events / 10
    # Same items, same writes.
    assert (
        line(seeds, "write request units, table").dollars == line(ours, "write request units, table").dollars
    )


def test_the_fleet_adds_instances_at_the_measured_throughput():
    prices = load_prices()
    fleet = FleetDesign.for_stack("fleet", from_stack_file("dev"), msgs_per_s_per_instance=100.0)
    seconds = 730 * 3600
    quiet = fleet_month(fleet, USAGE, prices, 100 * seconds)  # exactly 100 msgs/s: the minimum instance
    busy = fleet_month(fleet, USAGE, prices, 250 * seconds)  # 250 msgs/s: three instances
    assert line(quiet, "t4g.small added").quantity == 0
    assert line(busy, "t4g.small added").quantity == 2 * 730
    assert line(busy, "t4g.small kept").dollars == 730 * (0.0168 + 8 * 0.08 / 730)
    assert fixed(quiet) == fixed(busy)


def test_xray_records_the_reservoir_then_five_percent():
    prices = load_prices()
    seconds = 730 * 3600
    assert traces_recorded(1_000, prices) == 1_000
    assert traces_recorded(seconds + 1_000_000, prices) == seconds + 0.05 * 1_000_000


def test_a_stacks_sampling_rule_sets_the_traces_recorded():
    prices = load_prices()
    seconds = 730 * 3600
    assert traces_recorded(5_000_000, prices, (0, 0.2)) == 1_000_000  # dev: one in five
    assert traces_recorded(seconds + 1_000, prices, (1, 0.01)) == seconds + 10  # prod: 1 a second, then 1 %
    assert DEV.sampling == (0, 0.2)
    assert LambdaDesign.for_stack("prod", from_stack_file("prod")).sampling == (1, 0.01)


def test_the_floor_stores_each_event_once_in_calls_of_ten_and_nothing_else():
    # GIVEN dev's settings and the fixed usage (batches of 10 at 19 ms, 1 write unit an item)
    prices = load_prices()
    items = floor_month(DEV, USAGE, prices, 1_000_000)

    # THEN one write unit, three SQS calls and a tenth of an invocation an event, and no fixed line
    quantities = {item.item: item.quantity for item in items}
    assert quantities == {
        "SendMessageBatch of 10": 100_000,
        "ReceiveMessage of 10": 100_000,
        "DeleteMessageBatch of 10": 100_000,
        "invocations": 100_000,
        "duration (256 MB, arm64, 19 ms a batch)": 475.0,
        "write request units, each event once": 1_000_000,
    }
    assert not any(item.fixed for item in items)
    assert per_million_events(items, 1_000_000) == pytest.approx(
        3 * 0.04 + 0.02 + 475.0 * 0.0000133334 + 0.625
    )


def test_the_design_writes_no_index_and_stays_within_its_floors_bound():
    # GIVEN a run that measured an index entry beside every item (the earlier key design)
    prices = load_prices()
    now = lambda_month(DEV, USAGE, prices, 50e6)
    before = lambda_month(dataclasses.replace(DEV, index_write_units=1.0, sampling=None), USAGE, prices, 50e6)
    # THEN the stack's own table (no index) writes one unit an event; the earlier design two
    assert [i.item for i in now if i.service == "DynamoDB"] == ["write request units, table"]
    assert line(before, "write request units, indexes").quantity == 50e6
    assert LambdaDesign.for_stack("dev", StackSettings(event_id_index=True)).index_write_units == 1.0
    floor = per_million_events(floor_month(DEV, USAGE, prices, 50e6), 50e6)
    assert per_million_events(now, 50e6) / floor < per_million_events(before, 50e6) / floor


def test_crossover_is_where_the_second_stays_cheaper():
    found = crossover(lambda n: n * 1e-6, lambda n: 10.0)
    assert found == pytest.approx(1e7, rel=1e-9)
    assert crossover(lambda n: 10.0, lambda n: n * 1e-6) is None


def test_lines_fit_batches_and_fall_back_to_proportional():
    fitted = fit_line([(10, 19.0), (5, 11.5), (10, 19.0)])
    assert (fitted.intercept, fitted.slope, fitted.points) == (pytest.approx(4.0), pytest.approx(1.5), 3)
    assert fit_line([(10, 20.0), (10, 30.0)]) == Line(0.0, 2.5, 2)  # one batch size: no fixed part invented


# ---- a run's measured inputs ------------------------------------------------------------------------------
def emf(batch_size: int) -> str:
    return json.dumps(
        {
            "_aws": {
                "Timestamp": 1,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "VehiclePipeline",
                        "Dimensions": [["service"]],
                        "Metrics": [{"Name": "BatchSize", "Unit": "Count"}],
                    }
                ],
            },
            "service": "vehicle-consumer",
            "BatchSize": [float(batch_size)],
        }
    )


def test_consumer_log_bytes_are_counted_per_invocation(tmp_path):
    first = ['{"message": "batch processed", "records": 10}', emf(10)]
    second = ['{"message": "batch processed", "records": 4}', emf(4), "poller stopping"]
    (tmp_path / "poller-1.log").write_text("\n".join(first + second) + "\n")
    measured = consumer_log_bytes(tmp_path)
    assert measured["per_invocation"] == [
        [10, len(first[0]) + len(first[1])],
        [4, len(second[0]) + len(second[1])],
    ]
    assert measured["unattributed_bytes"] == len("poller stopping")
    assert measured["metric_series"] == ["VehiclePipeline/BatchSize{service=vehicle-consumer}"]


def synthetic_run() -> dict:
    spec = StackSpec("dev", from_stack_file("dev"))
    queue, dlq, table = spec.queue.name, spec.dead_letter_queue.name, spec.table_name

    def op(service, operation, resource, **tally):
        base = dict.fromkeys(cost_report_fields(), 0)
        return {"service": service, "operation": operation, "resource": resource, **base, **tally}

    return {
        "stack": "dev",
        "mode": "lambda",
        "settings": {"batchSize": 10},
        "runner": {"invocations": 110, "records": 1_000},
        "request_counts": {
            "elapsed_seconds": 120.0,
            "operations": [
                op("sqs", "SendMessageBatch", queue, requests=100, messages=1_000, largest_body_bytes=3_000),
                op(
                    "sqs",
                    "ReceiveMessage",
                    queue,
                    requests=150,
                    messages=1_000,
                    empty_receives=25,
                    seconds=30.0,
                    empty_receive_seconds=25.0,
                ),
                op("sqs", "DeleteMessageBatch", queue, requests=110, messages=1_000, seconds=1.1),
                op("sqs", "SendMessage", dlq, requests=5, messages=5),
                op("dynamodb", "BatchWriteItem", table, requests=110, items=1_000),
            ],
            "batches": [[10, 19.0]] * 50 + [[5, 11.5]] * 20,
            "item_sizes": {table: {"400": 900, "1100": 100}},
            "index_entry_sizes": {table: {"byVehicle": {"400": 900, "1100": 100}}},
        },
        "consumer_logs": {
            "invocations": 2,
            "bytes": 2_000,
            "per_invocation": [[10, 1_100], [5, 850]],
            "metric_series": ["VehiclePipeline/BatchSize{service=vehicle-consumer}"],
        },
    }


def cost_report_fields():
    return ("requests", "errors", "request_bytes", "response_bytes", "largest_body_bytes", "messages",
            "empty_receives", "items", "seconds", "empty_receive_seconds")  # fmt: skip


def test_a_runs_counts_become_per_event_inputs():
    usage = usage_from_run(synthetic_run(), load_prices())
    assert (usage.events, usage.messages_per_send, usage.deliveries_per_event) == (1_000, 10.0, 1.0)
    assert usage.messages_per_receive == 1_000 / 125  # receives that returned messages only
    assert usage.dlq_sends_per_event == 0.005
    assert usage.records_per_invocation == 1_000 / 110
    # 900 items of 400 bytes take one unit each, 100 of 1,100 bytes two: 1,100 units for 1,000 events.
    assert usage.table_write_units_per_event == usage.index_write_units_per_event == 1.1
    assert usage.item_bytes == ((900 * 400 + 100 * 1_100) / 1_000, 400, 1_100)
    assert (usage.batch_ms.intercept, usage.batch_ms.slope) == (pytest.approx(4.0), pytest.approx(1.5))
    assert (usage.log_bytes.intercept, usage.log_bytes.slope) == (pytest.approx(600.0), pytest.approx(50.0))
    assert usage.custom_metrics == 1
    # Busy: a batch of 60/7 messages on average takes 61/7 ms... plus its receives (5 s / 125) and delete.
    messages = (50 * 10 + 20 * 5) / 70
    cycle = (50 * 19.0 + 20 * 11.5) / 70 / 1000 + messages / 8 * (5.0 / 125) + 1.1 / 110
    assert usage.consumer_msgs_per_s == messages / cycle


def test_a_write_unit_rule_changed_in_the_data_changes_the_units():
    usage = usage_from_run(synthetic_run(), load_prices(overrides={"dynamodb_write_unit_bytes": 512}))
    assert usage.table_write_units_per_event == (900 * 1 + 100 * 3) / 1_000


def test_the_report_section_carries_the_figures_and_the_chart(tmp_path):
    lines = cost_report.cost_section(synthetic_run(), tmp_path / "charts", runs_dir=tmp_path)
    text = "\n".join(lines)
    assert lines[0] == "## What it costs"
    for design in ("this design, dev", "this design, prod", "seed-style", "EC2 worker fleet"):
        assert f"| {design} |" in text
    assert "**This design against seed-style: " in text
    assert "Lambda or the fleet:" in text
    assert "![Monthly cost against events per month](report/cost_vs_volume.png)" in text
    assert (tmp_path / "charts" / "cost_vs_volume.png").read_bytes().startswith(PNG_MAGIC)
    doubled = cost_report.cost_section(
        synthetic_run(),
        tmp_path / "charts",
        load_prices(overrides={"dynamodb_write_request_units_per_million": 1.25}),
        tmp_path,
    )
    assert doubled != lines


def test_a_run_without_counts_says_so(tmp_path):
    run = {key: value for key, value in synthetic_run().items() if key != "request_counts"}
    assert cost_report.cost_section(run, tmp_path) == [
        "## What it costs",
        "",
        "Not measured in this run ('run.json of dev-lambda has no request_counts'); `make demo` measures it.",
        "",
    ]


def test_the_command_line_takes_a_prices_file(tmp_path, capsys):
    run_dir = tmp_path / "dev-lambda"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps(synthetic_run()))
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"prices": {"lambda_requests_per_million": 0.25}}))

    assert (
        cost_report.main(["--run-dir", str(run_dir), "--charts-dir", str(tmp_path), "--prices", str(prices)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "| `lambda_requests_per_million` | 0.25 | USD per 1 million invocations |" in printed
    assert (tmp_path / "cost_vs_volume.png").read_bytes().startswith(PNG_MAGIC)


def test_a_run_on_aws_is_priced_from_its_cloudwatch_usage(tmp_path):
    run = {"stack": "prod", "mode": "aws"}
    lines = cost_report.cost_section(run, tmp_path, runs_dir=tmp_path, usage=USAGE)
    text = "\n".join(lines)
    assert "the deployed stack's own CloudWatch counts over the run" in text
    assert "| this design, dev |" in text
    assert "| events (messages the producer got into the queue) | 1,000 |" in text
