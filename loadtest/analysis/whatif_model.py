"""The deployed pipeline, simulated by AWS's documented rules: SQS → event source mapping → Lambda → DynamoDB.

A discrete-time fluid model (steps of `DT` seconds) in which messages travel as cohorts (messages that arrived
in the same step and were received as often), so 100,000 msgs/s for minutes is a few thousand steps of a few
cohorts each:

- arrivals follow a rate curve (whatif_load.LoadCurve); with `seed`, each step's arrivals are a Poisson
  number of the producer's 10-message batches (a seeded generator: the same seed, the same run);
- the queue: visible cohorts, oldest first (messages a failed batch left come back ahead of new ones, being
  older); received messages stay in flight until their batch ends, or until their visibility timeout ends
  when the batch failed; a message received maxReceiveCount times without success goes to the DLQ
  (aws_runtime_rules.dead_letters_now);
- the mapping: its concurrency, reconsidered once a second by loadtest/analysis/mapping_rules.py (standard
  or provisioned mode, back-off after throttles), the same function the local event source mapping calls;
  provisioned event pollers also cap what can be received (10 polls of 10 messages a second each);
- Lambda: at most the function's concurrency limit runs; the mapping's batches beyond it are throttled:
  each holds its messages and retries once a second until its visibility timeout ends, then lets them go;
- a batch: the slots run batches of `batch_size` (smaller ones when the queue holds fewer, after the
  batching window when there is one), each lasting `BatchTiming`'s duration, spread as a lognormal over
  equal-probability bins; the slots' time is the budget (a slot runs as many short batches in a step as fit);
- DynamoDB: each stored event takes its write units from the table and from each index
  (aws_runtime_rules.TableCapacity; an index that cannot take its entry throttles the table write); records
  the table refuses fail (the consumer reports them, retrying within the batch first), come back after the
  visibility timeout, and cause no back-off (ReportBatchItemFailures);
- e2e latency of a stored message: its wait in the queue (whole steps), the receive, and its batch's
  duration bin.

`simulate(pipeline, curve)` returns a `Run`: the per-second series and the summary the what-if prints.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import statistics
from collections.abc import Callable

import numpy as np

from loadtest.analysis import aws_runtime_rules as rules
from loadtest.analysis.mapping_rules import INVOKES_PER_POLLER, MappingScaling, ScalingState, next_concurrency
from loadtest.analysis.whatif_load import LoadCurve

DT = 0.1  # seconds a step: below a batch's duration locally, and fine enough for e2e at AWS
DECISION_SECONDS = 1.0  # the mapping reconsiders its concurrency once a second (as the local mapping does)
DURATION_BINS = 8  # equal-probability bins of a batch's duration
PRODUCER_BATCH = 10  # messages per SendMessageBatch: the unit of the seeded arrivals
# consumer/event_store.py retries UnprocessedItems 5 times with full jitter from 50 ms doubling: a batch
# whose writes the table throttled lasts that much longer on average (0.025 + 0.05 + 0.1 + 0.2 s).
WRITE_RETRY_SECONDS = 0.375
DRAINED_GRACE_S = 5.0  # after the queue empties, the run goes on this long past the mapping's scale-in


@dataclasses.dataclass(frozen=True)
class BatchTiming:
    """How long one batch holds its concurrency slot: fixed + per record, spread as a lognormal."""

    fixed_s: float
    per_record_s: float
    spread: float  # coefficient of variation of one batch's duration

    def mean_seconds(self, records: float) -> float:
        return self.fixed_s + self.per_record_s * records

    def bin_factors(self) -> tuple[float, ...]:
        """Each duration bin's duration as a multiple of the mean (bins of equal probability; mean 1)."""
        if self.spread <= 0:
            return (1.0,) * DURATION_BINS
        sigma = math.sqrt(math.log(1 + self.spread**2))
        normal = statistics.NormalDist()
        raw = [
            math.exp(sigma * normal.inv_cdf((i + 0.5) / DURATION_BINS) - sigma**2 / 2)
            for i in range(DURATION_BINS)
        ]
        mean = sum(raw) / len(raw)
        return tuple(x / mean for x in raw)


@dataclasses.dataclass(frozen=True)
class TableSpec:
    """The table's write capacity: provisioned WCU, else on-demand with its previous peak (warm) WRU/s."""

    provisioned_wcu: float | None = None
    warm_wru: float = rules.ON_DEMAND_NEW_TABLE_WRU / rules.ON_DEMAND_PEAK_MULTIPLIER
    indexes: int = 1  # global secondary indexes each event writes (each with the table's capacity)
    units_per_event: float = 1.0  # write units an event takes in the table and in each index

    def capacities(self) -> list[rules.TableCapacity]:
        return [rules.TableCapacity(self.provisioned_wcu, self.warm_wru) for _ in range(1 + self.indexes)]


@dataclasses.dataclass(frozen=True)
class Pipeline:
    """Everything the simulation needs of a deployed (or local) pipeline."""

    name: str
    scaling: MappingScaling
    batch_size: int
    batching_window_s: float
    visibility_timeout_s: float
    max_receive_count: int
    function_limit: int  # concurrent executions Lambda grants the function
    timing: BatchTiming
    receive_seconds: float  # a ReceiveMessage's latency before the invoke (e2e only)
    table: TableSpec | None  # None: writes never throttle (the local emulator's tables at its rates)
    message_bytes: float = 400.0
    send_limit: float = math.inf  # msgs/s the queue accepts
    in_flight_limit: float = rules.STANDARD_IN_FLIGHT_LIMIT
    # Msgs/s the consumers can receive at most, given the msgs/s offered (the local emulator's capacity,
    # shared with the producer); None: no such limit (AWS).
    intake_limit: Callable[[float], float] | None = None
    # Second-to-second variation of that limit (coefficient of variation over one second; seeded).
    intake_noise: float = 0.0
    environments_ramp: bool = True  # Lambda adds execution environments at its documented rate


@dataclasses.dataclass
class Second:
    """One second of the run, as CloudWatch would show it (gauges sampled at the second's end)."""

    t_s: float
    offered_msgs_per_s: float
    stored_msgs_per_s: float
    queue_visible: float
    queue_in_flight: float
    concurrency: float  # the mapping's concurrent batches
    running: float  # batches running (concurrency Lambda granted and used)
    pollers: float  # standard: one poller per concurrent batch; provisioned: event pollers
    oldest_age_s: float
    throttles: float  # invokes Lambda throttled this second
    write_throttled: float  # records the table refused this second
    dead_letters_total: float
    rejected_sends: float


@dataclasses.dataclass
class Run:
    pipeline: Pipeline
    curve: LoadCurve
    seconds: list[Second]
    latency_histogram: dict[float, float]  # seconds -> messages stored with that e2e latency
    stored: float
    dead_letters: float
    throttles: float
    write_throttled: float
    invocations: float
    deliveries: float  # messages handed to the function (retries count again)
    billed_batch_seconds: float  # the function's duration over all invocations
    poller_seconds: float  # provisioned mode: event-poller-seconds
    drained_at_s: float | None  # when the queue was last empty after the load, None: not by the horizon
    rejected_sends: float
    limits: dict[str, float]  # seconds each limit held a backlog back (concurrency, pollers' polls, …)

    def latency_quantile(self, q: float) -> float | None:
        total = sum(self.latency_histogram.values())
        if total <= 0:
            return None
        seen = 0.0
        for latency in sorted(self.latency_histogram):
            seen += self.latency_histogram[latency]
            if seen >= q * total:
                return latency
        return max(self.latency_histogram)

    @property
    def drain_seconds(self) -> float | None:
        """Seconds from the load's end until the queue was empty (visible and in flight)."""
        if self.drained_at_s is None:
            return None
        return max(0.0, self.drained_at_s - self.curve.seconds)

    def limited_by(self) -> str:
        """What kept the backlog: the table when it refused a share of the writes, else what held the
        receives back longest (the mapping's concurrency, the pollers' polls, SQS's in-flight limit)."""
        reasons = []
        if self.write_throttled > 0.01 * max(1.0, self.stored):
            reasons.append("table writes")
        if self.throttles > 0:
            reasons.append("Lambda concurrency")
        if self.limits:
            longest = max(self.limits, key=self.limits.get)
            if self.limits[longest] >= 1.0:
                reasons.append(longest)
        return ", ".join(dict.fromkeys(reasons)) or "nothing (kept up)"

    def peak(self, field: str) -> float:
        return max((getattr(s, field) for s in self.seconds), default=0.0)


# ---- the queue ------------------------------------------------------------------------------------------
class _Cohorts:
    """Messages as [arrival_t, receives, count], oldest first."""

    def __init__(self):
        self.items: collections.deque[list] = collections.deque()
        self.total = 0.0

    def add(self, arrival: float, receives: int, count: float) -> None:
        if count <= 0:
            return
        last = self.items[-1] if self.items else None
        if last is not None and last[0] == arrival and last[1] == receives:
            last[2] += count  # the same cohort: one entry, however it came back
        else:
            self.items.append([arrival, receives, count])
        self.total += count

    def take(self, wanted: float) -> list[tuple[float, int, float]]:
        taken = []
        while wanted > 1e-9 and self.items:
            head = self.items[0]
            n = min(head[2], wanted)
            taken.append((head[0], head[1], n))
            head[2] -= n
            wanted -= n
            self.total -= n
            if head[2] <= 1e-9:
                self.items.popleft()
        if not self.items:
            self.total = 0.0
        return taken

    def oldest(self) -> float | None:
        return self.items[0][0] if self.items else None


@dataclasses.dataclass
class _Batches:
    """Batches started together and ending in the same step: their messages, count, and start."""

    pieces: list[tuple[float, int, float]]  # (arrival_t, receives, messages)
    batches: float
    received_at: float
    seconds: float  # each batch's duration


class _Simulation:
    def __init__(self, pipeline: Pipeline, curve: LoadCurve, seed: int | None, horizon_s: float):
        self.p = pipeline
        self.curve = curve
        self.rng = np.random.default_rng(seed) if seed is not None else None
        self.horizon_steps = math.ceil(horizon_s / DT)
        self.retry = _Cohorts()  # visible again after a failure: older than anything new
        self.fresh = _Cohorts()
        # step -> {(arrival_t, receives): messages} that become visible again then
        self.returning: dict[int, dict[tuple[float, int], float]] = collections.defaultdict(dict)
        self.held: collections.deque[list] = collections.deque()  # throttled: [received_at, arrival, rc, n]
        self.held_total = 0.0
        self.ending: dict[int, list[_Batches]] = collections.defaultdict(list)
        self.slot_time: dict[int, float] = collections.defaultdict(float)  # slot-seconds committed a step
        self.in_service = 0.0
        self.awaiting_return = 0.0
        self.tables = pipeline.table.capacities() if pipeline.table else []
        self.factors = pipeline.timing.bin_factors()
        self.state = ScalingState()
        self.concurrency = pipeline.scaling.floor
        self.environments = float(max(pipeline.scaling.burst, pipeline.scaling.floor))
        self.pushed_back = False
        self.write_retry_share = 0.0  # share of batches whose writes the table refused, last time any ended
        self.histogram: dict[float, float] = collections.defaultdict(float)
        self.limits: collections.Counter = collections.Counter()  # seconds each limit held a backlog back
        self.totals: collections.Counter = collections.Counter()
        self.seconds: list[Second] = []
        self.second: collections.Counter = collections.Counter()
        self.drained_at: float | None = None
        self.intake_factor: float | None = None
        self.steps_per_second = round(1 / DT)
        self.steps_per_decision = round(DECISION_SECONDS / DT)

    def run(self) -> Run:
        load_steps = math.ceil(self.curve.seconds / DT)
        rates = self.curve.rates(DT, load_steps)
        settle_until = math.inf
        for k in range(self.horizon_steps):
            t = k * DT
            offered = rates[k] if k < load_steps else 0.0
            self._return_expired(k, t)
            self._arrive(t, offered)
            self._start_batches(k, t, offered)
            if k % self.steps_per_decision == 0:
                self._decide(t)  # on what still waits once the free slots took their batches
            self._end_batches(k, t)
            self.second["offered"] += offered * DT
            end_of_second = (k + 1) % self.steps_per_second == 0
            if end_of_second:
                self._record(t + DT)
                self.intake_factor = None
            if self._waiting() > 1e-6:
                self.drained_at, settle_until = None, math.inf
            elif k >= load_steps and self.drained_at is None:
                self.drained_at = t + DT
                settle_until = t + DT + self._settle_seconds()
            if end_of_second and t >= settle_until:
                break
        return self._result()

    def _settle_seconds(self) -> float:
        """Long enough to see the mapping back at its floor (3 s quiet, then one a second)."""
        return 3.0 + max(0, self.concurrency - self.p.scaling.floor) + DRAINED_GRACE_S

    def _waiting(self) -> float:
        return self.retry.total + self.fresh.total + self.in_service + self.awaiting_return + self.held_total

    # -- the queue ------------------------------------------------------------------------------------
    def _return_expired(self, k: int, t: float) -> None:
        for (arrival, receives), n in sorted(self.returning.pop(k, {}).items()):
            self.awaiting_return -= n
            self._visible_again(arrival, receives, n)
        while self.held and self.held[0][0] + self.p.visibility_timeout_s <= t:
            _, arrival, receives, n = self.held.popleft()  # a throttled batch let go
            self.held_total -= n
            self._visible_again(arrival, receives, n)

    def _visible_again(self, arrival: float, receives: int, n: float) -> None:
        if rules.dead_letters_now(receives, self.p.max_receive_count):
            self.totals["dead_letters"] += n
        else:
            self.retry.add(arrival, receives, n)

    def _arrive(self, t: float, rate: float) -> None:
        accepted = min(rate, self.p.send_limit) * DT
        self.second["rejected"] += rate * DT - accepted
        if self.rng is not None and accepted > 0:
            accepted = float(self.rng.poisson(accepted / PRODUCER_BATCH) * PRODUCER_BATCH)
        self.fresh.add(t, 0, accepted)

    def _receive(self, wanted: float) -> list[tuple[float, int, float]]:
        """Up to `wanted` visible messages, oldest first, their receive count one higher."""
        pieces = self.retry.take(wanted)
        pieces += self.fresh.take(wanted - sum(n for *_, n in pieces))
        received = [(arrival, receives + 1, n) for arrival, receives, n in pieces]
        self.totals["deliveries"] += sum(n for *_, n in received)
        return received

    def _decide(self, t: float) -> None:
        visible = self.retry.total + self.fresh.total
        self.concurrency = next_concurrency(
            self.p.scaling,
            self.state,
            self.concurrency,
            round(visible),
            self._round_per_slot(),
            t,
            self.pushed_back,
        )
        self.pushed_back = False

    def _round_per_slot(self) -> int:
        """Messages one concurrent batch takes in a round, what mapping_rules compares the backlog with: a
        batch; in provisioned mode at most what its poller's polls bring it in a second (10 polls of 10
        messages for 10 invokes: 10), else a mapping of large batches would wait for a backlog its pollers
        could never take in one round before scaling."""
        if self.p.scaling.mode != "provisioned":
            return self.p.batch_size
        per_slot = rules.poller_messages_per_second(self.p.message_bytes) / INVOKES_PER_POLLER
        return max(1, min(self.p.batch_size, math.floor(per_slot)))

    def _pollers(self) -> float:
        """Standard mode: a poller per concurrent batch; provisioned: event pollers, the minimum at least."""
        if self.p.scaling.mode != "provisioned":
            return self.concurrency
        return max(self.p.scaling.floor, math.ceil(self.concurrency / INVOKES_PER_POLLER))

    # -- starting batches -----------------------------------------------------------------------------
    def _granted(self) -> float:
        """Concurrent executions Lambda grants the mapping now."""
        limit = min(self.p.function_limit, self.concurrency)
        if self.p.environments_ramp:
            self.environments = min(
                float(self.p.function_limit), self.environments + rules.environments_addable(DT)
            )
            limit = min(limit, self.environments)
        return limit

    def _start_batches(self, k: int, t: float, offered: float) -> None:
        granted = self._granted()
        self._throttle(t, granted)
        committed = self.slot_time.pop(k, 0.0)
        budget = granted * DT - committed
        self.second["slot_seconds"] += min(committed, granted * DT)
        rooms = self._intake_rooms(offered)
        intake = max(0.0, min(rooms.values()))
        full = self.p.batch_size
        retry_s = WRITE_RETRY_SECONDS * self.write_retry_share
        seconds_full = self.p.timing.mean_seconds(full) + retry_s
        step_use = min(seconds_full, DT)  # slot time a batch takes from this step
        # The throttled batches retry first: they hold their messages already.
        while self.held and budget > 1e-9:
            received_at, arrival, receives, n = self.held[0]
            fits = min(n, budget / step_use * full)
            self._launch(k, [(arrival, receives, fits)], received_at, fits / full, seconds_full)
            budget -= fits / full * step_use
            self.held_total -= fits
            if fits >= n - 1e-9:
                self.held.popleft()
            else:
                self.held[0][3] = n - fits
        visible = self.retry.total + self.fresh.total
        rooms["concurrency"] = budget / step_use * full
        wanted = min(visible, rooms["concurrency"], intake)
        if visible > wanted + 1e-9:  # a backlog this step: what held it back
            self.limits[min(rooms, key=rooms.get)] += DT
        if wanted <= 1e-9 or (wanted < full and not self._window_elapsed(t)):
            return  # nothing to take, no room, or a partial batch waiting for the batching window
        pieces = self._receive(wanted)
        records = sum(n for *_, n in pieces)
        per_batch = min(full, records)
        seconds = self.p.timing.mean_seconds(per_batch) + retry_s
        batches = records / per_batch
        self._launch(k, pieces, t, batches, seconds)
        self.second["slot_seconds"] += batches * min(seconds, DT)

    def _window_elapsed(self, t: float) -> bool:
        if self.p.batching_window_s <= 0:
            return True
        oldest = min((x for x in (self.retry.oldest(), self.fresh.oldest()) if x is not None), default=t)
        return t - oldest >= self.p.batching_window_s

    def _intake_rooms(self, offered: float) -> dict[str, float]:
        """Messages the consumers may still receive this step, by what limits them: SQS's in-flight limit,
        provisioned pollers' polls, the local emulator's capacity."""
        rooms = {
            "SQS in-flight limit": self.p.in_flight_limit
            - (self.in_service + self.awaiting_return + self.held_total)
        }
        if self.p.scaling.mode == "provisioned":
            per_poller = rules.poller_messages_per_second(self.p.message_bytes)
            rooms["pollers' polls"] = self._pollers() * per_poller * DT
        if self.p.intake_limit is not None:
            rooms["emulator"] = self.p.intake_limit(offered) * DT * self._intake_factor()
        return rooms

    def _intake_factor(self) -> float:
        """This second's share of the intake limit, mean 1: gamma-distributed with the measured
        second-to-second variation, drawn once a second (the emulator's slow seconds last seconds)."""
        if self.rng is None or self.p.intake_noise <= 0:
            return 1.0
        if self.intake_factor is None:
            shape = 1 / self.p.intake_noise**2
            self.intake_factor = float(self.rng.gamma(shape, 1 / shape))
        return self.intake_factor

    def _throttle(self, t: float, granted: float) -> None:
        """The mapping's batches beyond what Lambda grants: each holds a batch and retries once a second;
        the mapping backs off at its next decision."""
        excess = max(0.0, self.concurrency - granted)
        if excess <= 0:
            return
        self.pushed_back = True
        want = excess * self.p.batch_size - self.held_total
        if want > 0:
            for arrival, receives, n in self._receive(want):
                self.held.append([t, arrival, receives, n])
                self.held_total += n
        held_batches = self.held_total / self.p.batch_size
        self.second["throttles"] += held_batches * rules.THROTTLE_RETRIES_PER_SECOND * DT

    def _launch(
        self,
        k: int,
        pieces: list[tuple[float, int, float]],
        received_at: float,
        batches: float,
        seconds: float,
    ) -> None:
        """Start `batches` batches holding `pieces`, spread over the duration bins."""
        records = sum(n for *_, n in pieces)
        if records <= 0:
            return
        self.in_service += records
        self.totals["invocations"] += batches
        share = 1.0 / len(self.factors)
        for factor in self.factors:
            duration = seconds * factor
            self._commit_slot_time(k, duration, batches * share)
            self.ending[k + int(duration / DT)].append(
                _Batches([(a, r, n * share) for a, r, n in pieces], batches * share, received_at, duration)
            )
            self.totals["billed_seconds"] += batches * share * math.ceil(duration * 1000) / 1000

    def _commit_slot_time(self, k: int, duration: float, batches: float) -> None:
        """A batch takes min(DT, what is left of it) of each step it spans; this step's share is counted by
        the caller."""
        left, step = duration - DT, k + 1
        while left > 1e-12:
            self.slot_time[step] += min(DT, left) * batches
            left -= DT
            step += 1

    # -- ending batches -------------------------------------------------------------------------------
    def _end_batches(self, k: int, t: float) -> None:
        groups = self.ending.pop(k, ())
        records = sum(n for g in groups for *_, n in g.pieces)
        stored_share = self._writes_admitted(records, t)
        if not groups:
            return
        # A batch with one refused record retries within the invocation: the share of batches affected.
        self.write_retry_share = min(1.0, (1.0 - stored_share) * self.p.batch_size)
        for group in groups:
            for arrival, receives, n in group.pieces:
                self.in_service -= n
                ok = n * stored_share
                if ok > 0:
                    latency = (group.received_at - arrival) + self.p.receive_seconds + group.seconds
                    self.histogram[_latency_key(latency)] += ok
                    self.second["stored"] += ok
                failed = n - ok
                if failed > 1e-12:
                    back = math.ceil((group.received_at + self.p.visibility_timeout_s) / DT)
                    returning = self.returning[max(back, k + 1)]
                    returning[(arrival, receives)] = returning.get((arrival, receives), 0.0) + failed
                    self.awaiting_return += failed
                    self.second["write_throttled"] += failed

    def _writes_admitted(self, records: float, t: float) -> float:
        """The share of `records` the table and its indexes take this step (a record all or nothing)."""
        if not self.tables:
            return 1.0
        units = records * self.p.table.units_per_event
        admitted = min(units, min(table.capacity_this_step(t, DT) for table in self.tables))
        for table in self.tables:
            table.spend(admitted, t)
        return admitted / units if units > 0 else 1.0

    # -- the record -----------------------------------------------------------------------------------
    def _record(self, t: float) -> None:
        oldest = min((x for x in (self.retry.oldest(), self.fresh.oldest()) if x is not None), default=None)
        provisioned = self.p.scaling.mode == "provisioned"
        pollers = self._pollers()
        self.seconds.append(
            Second(
                t_s=round(t, 6),
                offered_msgs_per_s=self.second["offered"],
                stored_msgs_per_s=self.second["stored"],
                queue_visible=self.retry.total + self.fresh.total,
                queue_in_flight=self.in_service + self.awaiting_return + self.held_total,
                concurrency=self.concurrency,
                running=self.second["slot_seconds"],
                pollers=pollers,
                oldest_age_s=0.0 if oldest is None else t - oldest,
                throttles=self.second["throttles"],
                write_throttled=self.second["write_throttled"],
                dead_letters_total=self.totals["dead_letters"],
                rejected_sends=self.second["rejected"],
            )
        )
        if provisioned:
            self.totals["poller_seconds"] += pollers
        for key in ("stored", "throttles", "write_throttled", "rejected"):
            self.totals[key] += self.second[key]
        self.second = collections.Counter()

    def _result(self) -> Run:
        return Run(
            pipeline=self.p,
            curve=self.curve,
            seconds=self.seconds,
            latency_histogram=dict(self.histogram),
            stored=self.totals["stored"],
            dead_letters=self.totals["dead_letters"],
            throttles=self.totals["throttles"],
            write_throttled=self.totals["write_throttled"],
            invocations=self.totals["invocations"],
            deliveries=self.totals["deliveries"],
            billed_batch_seconds=self.totals["billed_seconds"],
            poller_seconds=self.totals["poller_seconds"],
            drained_at_s=self.drained_at,
            rejected_sends=self.totals["rejected"],
            limits=dict(self.limits),
        )


def _latency_key(seconds: float) -> float:
    """10 ms resolution below 10 s, 1 s above: enough for p50/p99, and a small histogram."""
    return round(seconds, 2) if seconds < 10 else float(round(seconds))


def simulate(
    pipeline: Pipeline,
    curve: LoadCurve,
    seed: int | None = 1,
    horizon_s: float = 3600.0,
    initial_backlog: float = 0.0,
) -> Run:
    """Run the pipeline under the load until the queue has drained and the mapping scaled in (or the
    horizon, in seconds after the load's end). `initial_backlog`: messages waiting when the load starts."""
    simulation = _Simulation(pipeline, curve, seed, curve.seconds + horizon_s)
    simulation.fresh.add(0.0, 0, initial_backlog)
    return simulation.run()
