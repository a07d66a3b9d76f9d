"""The live line: offered and stored read at one instant from the emulator's counter (its light summary),
over the same last seconds; p99 of the last window and the highest so far; the run's series recorded."""

from loadtest.local.consumers.scaler import Sample
from loadtest.local.emulator.request_counter import COUNTS_PATH, RequestCounter, RequestTally
from loadtest.local.runs import pipeline_sampler
from loadtest.local.runs.pipeline_sampler import PipelineSampler
from loadtest.local.runs.progress import Progress


def send(tally: RequestTally, messages: int, queue: str = "vehicle-pipeline-dev-events") -> None:
    call = {
        "service": "sqs",
        "operation": "SendMessageBatch",
        "resource": queue,
        "bytes": 10,
        "seconds": 0.01,
    }
    tally.add({**call, "body": {"Entries": [{}] * messages}}, 200, b"")


def test_the_counters_summary_holds_the_counts_alone():
    tally = RequestTally()
    send(tally, 10)
    send(tally, 4, queue="vehicle-pipeline-dev-events-dlq")
    answers = []
    counter = RequestCounter(lambda environ, start: [b""], tally)

    body = counter(
        {"PATH_INFO": COUNTS_PATH, "QUERY_STRING": "summary=1", "REQUEST_METHOD": "GET"},
        lambda status, headers: answers.append(status),
    )

    import json

    summary = json.loads(b"".join(body))
    assert answers == ["200 OK"]
    assert sorted(summary) == ["elapsed_seconds", "operations", "since"]
    assert [(o["resource"], o["messages"], o["requests"]) for o in summary["operations"]] == [
        ("vehicle-pipeline-dev-events", 10, 1),
        ("vehicle-pipeline-dev-events-dlq", 4, 1),
    ]


class Consumers:
    """What the live line reads of a consumer set."""

    queue_url = "http://127.0.0.1:5000/123456789012/vehicle-pipeline-dev-events"

    def __init__(self):
        self.samples: list[Sample] = []
        self.totals = {"stored": 0, "throttles": 0}
        self.pollers = 5
        self.latencies_ms: list[int] = []

    def depth(self) -> tuple[int, int, int]:
        return 9_990, 10, 0


class ScriptedRun:
    """A live line over scripted (sent, written) counts, one a second, and each second's latencies."""

    def __init__(self, monkeypatch, counts: list[tuple[int, int]]):
        self.consumers, self.now = Consumers(), 100.0
        answers = iter(counts)
        monkeypatch.setattr(pipeline_sampler, "pipeline_counts", lambda endpoint, queue: next(answers))
        sampler = PipelineSampler(
            self.consumers, "http://127.0.0.1:5000", users=lambda: 10, monotonic=self.clock
        )
        self.progress = Progress("demo", self.consumers, lambda: (10, None), interval_s=5, sampler=sampler)
        sampler.start()

    def clock(self) -> float:
        return self.now

    def seconds(self, latencies: list[list[int]]) -> None:
        for reported in latencies:
            self.now += 1
            self.consumers.samples.append(Sample(self.now, 1110 + int(self.now), 90, 0, 10, 0))
            self.consumers.latencies_ms.extend(reported)
            self.progress.sampler.sample()


def test_the_line_says_offered_and_stored_of_the_same_seconds(monkeypatch):
    counts = [(0, 0), (0, 0), *((880 * n, 440 * n) for n in range(1, 11))]  # the base, t = 0, ten seconds
    run = ScriptedRun(monkeypatch, counts)
    run.seconds([[100]] * 4 + [[2_000]] + [[50]] * 5)  # 2,000 ms in the fifth second: before the window

    line = run.progress.line()

    assert line == (
        "[demo]   10 s | users 10 | offered 880/s stored 440/s | queue 1,220 visible, 90 in flight, DLQ 0"
        " | pollers 5 | p99 last 5 s 50 ms, max p99 50 ms"
    )
    series = run.progress.sampler.series
    assert series.t_s == [float(t) for t in range(11)]
    assert (series.queue_visible[0], series.queue_visible[1]) == (9_990, 1_211)  # t = 0: the queue as found
    assert (series.offered_total[-1], series.stored_msgs_per_s[-1], series.users) == (8_800, 440.0, [10] * 11)


def test_p99_of_the_last_window_falls_and_the_highest_stays(monkeypatch):
    run = ScriptedRun(monkeypatch, [(0, 0), (0, 0), *((100 * n, 100 * n) for n in range(1, 11))])
    run.seconds([[100]] * 4 + [[3_000]])
    assert run.progress.line().endswith("| p99 last 5 s 3,000 ms, max p99 3,000 ms")

    run.seconds([[20]] * 4 + [[]])
    assert run.progress.line().endswith("| p99 last 5 s 20 ms, max p99 3,000 ms")


def test_without_the_emulators_counter_stored_is_the_consumers_own(monkeypatch):
    consumers = Consumers()
    consumers.totals["stored"] = 42
    sampler = PipelineSampler(consumers, endpoint="")

    sampler.start()
    sampler.sample()

    assert (sampler.series.offered_total, sampler.series.stored_total) == ([None, None], [42, 42])
    assert sampler.series.queue_visible == [9_990, None]  # t = 0 read from the queue; no sample since
