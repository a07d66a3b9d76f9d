"""The pipeline side of the scale test in Locust's own statistics: the locustfile calls `show_the_pipeline`.

Locust measures what it sends; what the test is about happens after SQS accepts a message. In the process
that owns the statistics (LocalRunner or MasterRunner: a worker's requests reach the master's statistics
anyway, and a poll per worker would count each event once per worker), a greenlet reads the pipeline view
(pipeline_view.py) every POLL_S from the test's start:

- each event stored since the test started fires Locust's `request` event as request type "PIPELINE", name
  STORED, with its end-to-end latency (the producer's sentAt → storedAt) as response time. Locust's
  statistics table, charts, `--csv` files and `/stats/requests` carry it like any request (Locust docs,
  "Event hooks", https://docs.locust.io/en/stable/extending-locust.html). Its count is events stored, its
  percentiles the end-to-end latency. Locust's Aggregated row adds it to the sends.
  "Reset Stats" (and `--reset-stats` when spawning completes) counts from that moment on: events stored
  before it are never fired afterwards, as the view is started afresh.
- backlog, in flight, consumers (pollers), DLQ depth (and on AWS the age of the oldest message) become a
  "Pipeline" tab of the web UI, newest first: Locust 2.x's modern UI takes `extended_tabs`,
  `extended_tables` and `extended_csv_files` template arguments and an `extended_stats` list in the
  `/stats/requests` answer (locust's examples/extend_modern_web_ui.py). The whole series downloads from
  `/pipeline/csv`, and with `--csv PREFIX` it is written to `PREFIX_pipeline.csv` as it goes.

After the load stops the web UI keeps showing the backlog drain until the next test starts. A headless run
exits when its load ends; `--pipeline-drain-seconds N` holds it up to N seconds more while the queue still
has messages, so the stored entry of its CSV and summary includes the drain.
"""

from __future__ import annotations

import collections
import csv
import datetime
import io
import logging
import math
import time
from typing import Any

from cli.command_line import UsageError
from consumer.configuration import DEFAULT_METRICS_NAMESPACE
from loadtest.pipeline_view import PipelineReading, PipelineView, pipeline_view
from loadtest.stack_target import stack_target

REQUEST_TYPE = "PIPELINE"
STORED = "stored (sent → stored)"
POLL_S = 2.0
TAB = "pipeline"
ROWS_SHOWN = 30  # a minute of samples in the tab; the CSV has them all
SAMPLES_KEPT = 20_000  # 11 hours at POLL_S
CSV_COLUMNS = (
    "time",
    "elapsed_s",
    "source",
    "as_of",
    "queue_visible",
    "queue_in_flight",
    "dlq_visible",
    "consumers",
    "consumers_floor",
    "consumers_maximum",
    "oldest_message_age_s",
    "stored",
    "stored_total",
    "stored_per_s",
    "latency_p50_ms",
    "latency_p99_ms",
    "dropped",
)
TABLE = (  # the tab's columns: (key in extended_stats' rows, title)
    ("time", "Time"),
    ("backlog", "Backlog (visible)"),
    ("in_flight", "In flight"),
    ("consumers", "Consumers (pollers)"),
    ("dlq", "DLQ depth"),
    ("oldest_age", "Oldest message (s)"),
    ("stored_per_s", "Stored/s"),
    ("latency", "Sent → stored p50 / p99 (ms)"),
    ("as_of", "Source, as of"),
)

logger = logging.getLogger(__name__)


def show_the_pipeline(events: Any) -> None:
    """Add the pipeline's options and listeners to Locust's events."""
    events.init_command_line_parser.add_listener(_options)
    events.init.add_listener(_on_init)


def _options(parser: Any) -> None:
    parser.add_argument(
        "--metrics-namespace",
        env_var="METRICS_NAMESPACE",
        default=DEFAULT_METRICS_NAMESPACE,
        help="CloudWatch namespace of the consumer's EMF metrics (the stack's metricsNamespace), on AWS",
    )
    parser.add_argument(
        "--pipeline-drain-seconds",
        env_var="PIPELINE_DRAIN_SECONDS",
        type=float,
        default=0.0,
        help="headless: after the load, keep counting stored events up to this long while the queue drains",
    )


def _on_init(environment: Any, runner: Any = None, web_ui: Any = None, **_: Any) -> None:
    from locust.runners import LocalRunner, MasterRunner

    if environment.parsed_options is None or not isinstance(runner, LocalRunner | MasterRunner):
        return  # Locust as a library, or a worker: its requests reach the master's statistics anyway
    watch = PipelineWatch(environment)
    environment.events.test_start.add_listener(lambda **_: watch.begin())
    environment.events.reset_stats.add_listener(watch.count_from_now)
    environment.events.spawning_complete.add_listener(
        lambda **_: watch.count_from_now() if environment.reset_stats else None
    )
    environment.events.quitting.add_listener(lambda **_: watch.end())
    if web_ui is not None:
        _extend_web_ui(web_ui, watch, _columns(environment))


def _columns(environment: Any) -> list[tuple[str, str]]:
    """The tab's columns: an emulator knows no age of the oldest message (SQS publishes it to CloudWatch)."""
    options = environment.parsed_options
    try:
        target = stack_target(options.queue_url, options.stack_outputs, host=environment.host)
    except UsageError:  # no queue yet: the web UI's Host field will name it
        return list(TABLE)
    return [column for column in TABLE if target.queue.on_aws or column[0] != "oldest_age"]


class PipelineWatch:
    """The view of the pipeline the test sends to, read every POLL_S into Locust's statistics and a series."""

    def __init__(self, environment: Any):
        self.environment = environment
        self.view: PipelineView | None = None
        self.samples: collections.deque[dict[str, Any]] = collections.deque(maxlen=SAMPLES_KEPT)
        self._greenlet: Any = None
        self._started = time.monotonic()
        self._last_poll = time.monotonic()
        self._stored_total = 0
        self._failing = False
        self._csv: Any = None

    # ---- life ------------------------------------------------------------------------------------------
    def begin(self) -> None:
        """A test starts: watch the queue it sends to (the Host field may name another one than last time)."""
        import gevent

        options = self.environment.parsed_options
        try:
            target = stack_target(options.queue_url, options.stack_outputs, host=self.environment.host)
            self.view = pipeline_view(target, options.metrics_namespace)
            self.view.start()
        except Exception as error:  # the load goes on without the pipeline's side
            logger.warning("the pipeline is not shown: %s", error)
            self.view = None
            return
        self.samples.clear()
        self._started = self._last_poll = time.monotonic()
        self._stored_total = 0
        self._open_csv()
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._poll_forever)

    def count_from_now(self) -> None:
        """Locust's statistics were reset: events stored before now are not the new statistics'."""
        if self.view is not None:
            try:
                self.view.start()
            except Exception as error:  # as at begin: the load goes on
                logger.warning("the pipeline view could not restart: %s", error)
            self._stored_total = 0

    def end(self) -> None:
        """Locust quits: a headless run may wait for the drain, then the last poll and the CSV."""
        import gevent

        options = self.environment.parsed_options
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None
        if self.view is not None:
            if options.headless and options.pipeline_drain_seconds > 0:
                self._wait_for_the_drain(options.pipeline_drain_seconds)
            else:
                self.poll_once()  # what was stored since the last poll
            # Locust's CSV writer writes once a second until Locust closes its files: one more write
            # carries the last stored events into PREFIX_stats.csv.
            gevent.sleep(1.2 if options.csv_prefix else 0)
        if self._csv is not None:
            self._csv.close()
            self._csv = None

    def _wait_for_the_drain(self, seconds: float) -> None:
        """Poll until the queue has nothing visible or in flight, at most `seconds` (then a last poll)."""
        import gevent

        deadline = time.monotonic() + seconds
        while True:
            reading = self.poll_once()
            empty = reading is not None and (reading.queue_visible, reading.queue_in_flight) == (0, 0)
            if empty or time.monotonic() >= deadline:
                return
            gevent.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))

    def _poll_forever(self) -> None:
        import gevent

        while True:
            self.poll_once()
            gevent.sleep(POLL_S)

    # ---- one poll --------------------------------------------------------------------------------------
    def poll_once(self) -> PipelineReading | None:
        if self.view is None:
            return None
        try:
            reading = self.view.read()
        except Exception as error:  # an emulator stopping, CloudWatch refusing: said once
            if not self._failing:
                logger.warning("the pipeline could not be read (%s): trying again every %s s", error, POLL_S)
            self._failing = True
            return None
        if self._failing:
            logger.info("the pipeline is read again")
        self._failing = False
        for _stored_at, latency in reading.stored:
            self.environment.events.request.fire(
                request_type=REQUEST_TYPE,
                name=STORED,
                # A producer clock ahead of the consumer's makes a latency negative; Locust's response-time
                # buckets expect none, so it counts as 0 ms.
                response_time=max(0.0, latency),
                response_length=0,
                exception=None,
                context={},
            )
        if reading.dropped:
            logger.warning(
                "%d stored events were not read in time: the stored entry misses them", reading.dropped
            )
        self._record(reading)
        return reading

    def _record(self, reading: PipelineReading) -> None:
        now = time.monotonic()
        interval, self._last_poll = max(now - self._last_poll, 1e-9), now
        latencies = sorted(latency for _, latency in reading.stored)
        self._stored_total += len(reading.stored)
        sample = {
            "time": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "elapsed_s": round(now - self._started, 1),
            "source": self.view.source if self.view else "",
            "as_of": _clock(reading.as_of) if reading.as_of else "",
            "queue_visible": reading.queue_visible,
            "queue_in_flight": reading.queue_in_flight,
            "dlq_visible": reading.dlq_visible,
            "consumers": reading.consumers,
            "consumers_floor": reading.consumers_floor,
            "consumers_maximum": reading.consumers_maximum,
            "oldest_message_age_s": reading.oldest_message_age_s,
            "stored": len(reading.stored),
            "stored_total": self._stored_total,
            "stored_per_s": round(len(reading.stored) / interval, 1),
            "latency_p50_ms": _nearest_rank(latencies, 0.5),
            "latency_p99_ms": _nearest_rank(latencies, 0.99),
            "dropped": reading.dropped,
        }
        self.samples.append(sample)
        if self._csv is not None:
            csv.DictWriter(self._csv, CSV_COLUMNS).writerow(sample)
            self._csv.flush()

    def _open_csv(self) -> None:
        prefix = self.environment.parsed_options.csv_prefix
        if not prefix:
            return
        if self._csv is not None:
            self._csv.close()
        self._csv = open(f"{prefix}_pipeline.csv", "w", newline="")  # noqa: SIM115 - closed at quit
        csv.DictWriter(self._csv, CSV_COLUMNS).writeheader()
        self._csv.flush()

    # ---- what the web UI shows ------------------------------------------------------------------------
    def table_rows(self) -> list[dict[str, str]]:
        return [_row(sample) for sample in list(self.samples)[-ROWS_SHOWN:][::-1]]

    def csv_text(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(self.samples)
        return out.getvalue()


def _extend_web_ui(web_ui: Any, watch: PipelineWatch, columns: list[tuple[str, str]]) -> None:
    """The Pipeline tab, its CSV link and route, and its rows in every /stats/requests answer."""
    import json

    from flask import make_response, request

    web_ui.template_args.update(  # kept: Locust merges its own arguments into these on every page load
        extended_tabs=[{"title": "Pipeline", "key": TAB}],
        extended_tables=[{"key": TAB, "structure": [{"key": key, "title": title} for key, title in columns]}],
        extended_csv_files=[{"href": "./pipeline/csv", "title": "Download pipeline CSV"}],
    )

    @web_ui.app.after_request
    def add_pipeline_rows(response):
        if request.path != "/stats/requests" or response.status_code != 200:
            return response
        body = {**response.get_json(), "extended_stats": [{"key": TAB, "data": watch.table_rows()}]}
        response.set_data(json.dumps(body))
        return response

    @web_ui.app.route("/pipeline/csv")
    @web_ui.auth_required_if_enabled
    def pipeline_csv():
        response = make_response(watch.csv_text())
        response.headers["Content-Type"] = "text/csv"
        response.headers["Content-Disposition"] = "attachment;filename=pipeline.csv"
        return response


def _row(sample: dict[str, Any]) -> dict[str, str]:
    consumers = _number(sample["consumers"])
    if sample["consumers_maximum"] is not None:
        consumers += f" ({_number(sample['consumers_floor'])}–{_number(sample['consumers_maximum'])})"
    return {
        "time": f"{sample['time'][11:19]} (+{sample['elapsed_s']:.0f} s)",
        "backlog": _number(sample["queue_visible"]),
        "in_flight": _number(sample["queue_in_flight"]),
        "consumers": consumers,
        "dlq": _number(sample["dlq_visible"]),
        "oldest_age": _number(sample["oldest_message_age_s"]),
        "stored_per_s": _number(sample["stored_per_s"]),
        "latency": f"{_number(sample['latency_p50_ms'])} / {_number(sample['latency_p99_ms'])}",
        "as_of": f"{sample['source']}, {sample['as_of']}" if sample["as_of"] else sample["source"],
    }


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _clock(epoch_s: float) -> str:
    return datetime.datetime.fromtimestamp(epoch_s).astimezone().strftime("%H:%M:%S")


def _nearest_rank(ordered: list[float], share: float) -> float | None:
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else None
