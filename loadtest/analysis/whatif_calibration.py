"""The what-if model checked against the local stack: given a local run's own measured parameters, it must
reproduce that run's curves (backlog peak, drain time, pollers over time) within `TOLERANCE`.

A local run is the same pipeline on other hardware: the event source mapping's rules are the same functions
(loadtest/analysis/mapping_rules.py, which the local mapping calls), the queue is the same queue, and what
differs is what a batch costs and what the emulator can serve. Those are the run's measured parameters:

- a batch's duration: the receive-to-delete time the emulator measured for every batch (its median, and its
  spread), the time one poller's slot is held;
- the emulator's capacity: moto_server is one process serving the producer's sends and the consumers'
  receives, writes and deletes, so what the consumers can take falls as the producer sends more. Measured as
  a line, stored msgs/s = a − b × offered msgs/s, fitted to the run's saturated seconds (every poller on, a
  backlog waiting: the consumers took all the emulator gave them). On this 2-core machine it moves with
  whatever else runs, which is why it is measured per run and never a constant.

The curves compared, on the run's own clock (seconds since the load started):

- backlog peak: the most messages visible at once. Its error is taken over what built it: the difference
  between model and run divided by the larger of the measured peak and the messages offered from the last
  empty queue before the peak to the peak. Near the knee (where `make demo` sets its plateau) the peak is
  the running sum of two close rates, offered and served: a model 5% off in the rate it serves is 50% off in
  such a peak, so the peak alone would measure the emulator's mood, not the model. Over the messages that
  built it, the error is the model's error in the rate, as a share of the load; for a backlog the run starts
  with (make capacity's 10,000, nothing offered before its peak) it is the peak's own relative error;
- drain time: seconds from the backlog's start (the last empty second before the run's peak; 0 for a
  backlog the run starts with) until the queue is empty again after its peak, model and run counted from the
  same instant. (Timed from the last second near each one's own peak, as before, a plateau whose top
  flickers moved the start by five seconds or more: a model that emptied the queue a second before the run
  read 55% off on a 9-second drain.)
- pollers over time: the poller-seconds over the run (the area under the curve); their second-by-second
  mean absolute difference is reported beside it (see `compare`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from infra.settings import KEYS, StackSettings
from loadtest.analysis.mapping_rules import MappingScaling
from loadtest.analysis.whatif_load import LoadCurve
from loadtest.analysis.whatif_model import BatchTiming, Pipeline, Run, simulate

TOLERANCE = 0.15
CALIBRATION_SEEDS = (1, 2, 3, 4, 5)  # the model's curves are the median of these seeded runs
LOCAL_HORIZON_S = 120  # seconds the model may run past the measured load to drain
LOCAL_POLLER_LIMIT = 20  # loadtest/local/consumers/esm_runner.py: one 2-core machine runs at most 20 pollers
RECEIVE_SECONDS_LOCAL = 0.0  # the receive-to-delete time already holds what a local e2e adds to a batch
MIN_SATURATED_SECONDS = 5  # fewer saturated seconds than this: the capacity line is not measured
# The series' first row is the queue as the load finds it, read as the consumers start: within the sampler's
# first beat of a second (make capacity's rows start at 0.0 or 0.1 s, as the sampler's thread wakes).
FIRST_ROW_S = 1.0
SATURATED_ROUNDS = 3  # backlog of 3 rounds of every poller: none idles in the second (see saturated)


@dataclasses.dataclass(frozen=True)
class MeasuredRun:
    """What a local run recorded, as the calibration reads it (from a run record's series)."""

    name: str
    settings: StackSettings
    t_s: tuple[float, ...]
    offered_msgs_per_s: tuple[float, ...]  # over the second ending at t_s
    stored_msgs_per_s: tuple[float, ...]
    queue_visible: tuple[float, ...]
    queue_in_flight: tuple[float, ...]
    pollers: tuple[float, ...]
    batch_p50_ms: float
    batch_spread: float  # coefficient of variation of a batch's receive-to-delete time
    initial_backlog: float = 0.0  # visible when the series starts (make capacity's 10,000)

    def curve(self) -> LoadCurve:
        """The offered rate, second by second, as the model's load."""
        segments, previous = [], 0.0
        for t, rate in zip(self.t_s, self.offered_msgs_per_s, strict=True):
            if t > previous:
                segments.append((t - previous, max(0.0, rate)))
                previous = t
        return LoadCurve(self.name, tuple(segments))

    def saturated(self) -> list[int]:
        """Rows where the consumers took all the emulator gave: every poller on and a backlog of at least
        SATURATED_ROUNDS rounds of them at both ends of the row's second. Fewer rounds and a poller may idle
        within the second; many more and, near a knee, only the seconds the emulator happened to be slow
        qualify (a backlog grows there because it was): both would bias the capacity low."""
        full = max(self.pollers)
        batch = self.settings.batch_size
        return [
            i
            for i in range(1, len(self.t_s))
            if self.pollers[i] >= full
            and self.pollers[i - 1] >= full
            and min(self.queue_visible[i], self.queue_visible[i - 1]) > SATURATED_ROUNDS * full * batch
        ]


@dataclasses.dataclass(frozen=True)
class EmulatorCapacity:
    """Msgs/s the local consumers can take while the producer offers `offered` msgs/s: a − b × offered."""

    at_zero: float
    per_offered: float
    points: int
    noise: float = 0.0  # coefficient of variation of a saturated second's stored msgs/s around the line

    def __call__(self, offered: float) -> float:
        return max(0.0, self.at_zero - self.per_offered * offered)


def fit_emulator_capacity(run: MeasuredRun) -> EmulatorCapacity:
    """Least squares over the saturated seconds, each second one point. (Grouped by offered rate, one point a
    group, a single slow second at a level of its own weighed as much as a 13-second drain: on make capacity's
    records it halved the line's slope and took a quarter off its intercept, and the drain it predicted was
    70% too long.)"""
    rows = run.saturated()
    if len(rows) < MIN_SATURATED_SECONDS:
        raise ValueError(
            f"{run.name}: {len(rows)} saturated seconds (every poller on, a backlog waiting); the emulator's "
            f"capacity needs at least {MIN_SATURATED_SECONDS}"
        )
    x = [run.offered_msgs_per_s[i] for i in rows]
    y = [run.stored_msgs_per_s[i] for i in rows]
    mean_x, mean_y = statistics.fmean(x), statistics.fmean(y)
    spread = sum((v - mean_x) ** 2 for v in x)
    slope = sum((a - mean_x) * (b - mean_y) for a, b in zip(x, y, strict=True)) / spread if spread else 0.0
    slope = min(0.0, slope)  # more producer load never gives the consumers more
    line = EmulatorCapacity(mean_y - slope * mean_x, -slope, len(rows))
    residuals = [stored / max(1e-9, line(offered)) - 1 for offered, stored in zip(x, y, strict=True)]
    return dataclasses.replace(line, noise=statistics.pstdev(residuals))


def local_pipeline(run: MeasuredRun) -> Pipeline:
    """The local stack as the model sees it: the stack's mapping and queue, the run's batch and emulator."""
    s = run.settings
    scaling = MappingScaling.for_stack(s).capped(LOCAL_POLLER_LIMIT)
    emulator = fit_emulator_capacity(run)
    # Locally the emulator, not the pollers, sets the pace (GUIDE: moto_server's per-request handling): a
    # poller's slot lasts what lets the mapping's floor take all the emulator serves with no producer.
    slot_seconds = scaling.floor * s.batch_size / emulator.at_zero
    return Pipeline(
        name=f"local {run.name}",
        scaling=scaling,
        batch_size=s.batch_size,
        batching_window_s=s.batching_window_seconds,
        visibility_timeout_s=s.queue_visibility_timeout_seconds,
        max_receive_count=s.max_receive_count,
        function_limit=min(s.reserved_concurrency, scaling.maximum),
        timing=BatchTiming(slot_seconds, 0.0, run.batch_spread),
        receive_seconds=RECEIVE_SECONDS_LOCAL,
        table=None,  # the emulator's table takes far more than one machine's pipeline writes
        intake_limit=emulator,
        intake_noise=emulator.noise,
        environments_ramp=False,  # the local pollers are warm before the load
    )


# ---- the curves ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Curves:
    backlog_peak: float
    emptied_at: float | None  # the first second the queue is empty after its peak (None: never)
    pollers: tuple[float, ...]
    visible: tuple[float, ...] = ()  # on the measured run's clock
    offered_into_peak: float = 0.0  # messages offered from the last empty queue before the peak to the peak
    backlog_start: float = 0.0  # the last second the queue was empty before its peak (0: it started full)


def _backlog_start(run: MeasuredRun) -> int:
    """The row of the last second the queue was empty before its peak (0: the run starts with its backlog)."""
    peak = max(range(len(run.t_s)), key=lambda i: run.queue_visible[i])
    return max((i for i in range(peak + 1) if run.queue_visible[i] < 1), default=0)


def offered_into_peak(run: MeasuredRun) -> float:
    """Messages offered from the last second the queue was empty before its peak, to the peak."""
    peak = max(range(len(run.t_s)), key=lambda i: run.queue_visible[i])
    start = _backlog_start(run)
    return sum(
        run.offered_msgs_per_s[i] * (run.t_s[i] - run.t_s[i - 1]) for i in range(max(1, start + 1), peak + 1)
    )


def measured_curves(run: MeasuredRun) -> Curves:
    curves = _curves(run.t_s, run.queue_visible, run.queue_in_flight, run.pollers)
    return dataclasses.replace(
        curves,
        visible=tuple(run.queue_visible),
        offered_into_peak=offered_into_peak(run),
        backlog_start=run.t_s[_backlog_start(run)] if run.initial_backlog <= 0 else 0.0,
    )


def model_curves(run: MeasuredRun, model: Run) -> Curves:
    """The model's curves: its backlog peak and drain over its whole run (it may drain after the measured
    series ends), its pollers on the run's clock (the model's second ending at each measured t_s)."""
    floor = float(model.pipeline.scaling.floor)
    t_s = (0.0, *(s.t_s for s in model.seconds))
    own = _curves(
        t_s,
        (run.initial_backlog, *(s.queue_visible for s in model.seconds)),
        (0.0, *(s.queue_in_flight for s in model.seconds)),
        (floor, *(s.pollers for s in model.seconds)),
    )
    by_second = {round(s.t_s): s for s in model.seconds}
    last = model.seconds[-1]
    rows = [by_second.get(round(t), last) for t in run.t_s]
    pollers = tuple(floor if t <= 0 else row.pollers for t, row in zip(run.t_s, rows, strict=True))
    visible = tuple(
        run.initial_backlog if t <= 0 else row.queue_visible for t, row in zip(run.t_s, rows, strict=True)
    )
    return dataclasses.replace(own, pollers=pollers, visible=visible)


def _curves(
    t_s: Sequence[float], visible: Sequence[float], in_flight: Sequence[float], pollers: Sequence[float]
) -> Curves:
    top = max(range(len(visible)), key=lambda i: visible[i])
    return Curves(
        backlog_peak=float(visible[top]),
        emptied_at=next((t_s[i] for i in range(top, len(t_s)) if visible[i] < 1), None),
        pollers=tuple(float(p) for p in pollers),
    )


@dataclasses.dataclass(frozen=True)
class CurveError:
    curve: str
    measured: float | None
    model: float | None
    error: float  # relative
    held: bool = True  # False: reported beside the others, not held to the tolerance

    @property
    def within(self) -> bool:
        return self.error <= TOLERANCE


@dataclasses.dataclass(frozen=True)
class Calibration:
    run: MeasuredRun
    pipeline: Pipeline
    model: Run
    errors: tuple[CurveError, ...]

    @property
    def passed(self) -> bool:
        return all(e.within for e in self.errors if e.held)


def _relative(measured: float | None, model: float | None) -> float:
    if measured is None or model is None:
        return 0.0 if measured == model else math.inf
    return abs(model - measured) / max(abs(measured), 1e-9)


def _since(at: float | None, start: float) -> float | None:
    return None if at is None else round(at - start, 1)


def _after_first_drain(visible: Sequence[float]) -> float:
    """The largest backlog once the queue first emptied (make capacity's search, after its backlog)."""
    first_empty = next((i for i, v in enumerate(visible) if v < 1), len(visible))
    return max(visible[first_empty:], default=0.0)


def compare(measured: Curves, model: Curves) -> tuple[CurveError, ...]:
    """The three curves, held to the tolerance: backlog peak (its error over the messages that built it, see
    the module's docstring), drain time (from the measured backlog's start, see there), and the pollers as
    poller-seconds over the run (the area under the curve: how much mapping the load took). The pollers' mean
    absolute difference second by second is reported too, not held: near the knee the local mapping flickers
    between its floor and its maximum as the queue crosses one round of its pollers, and a flicker a second
    early or late counts there as a whole difference."""
    seconds = len(measured.pollers)
    area_measured, area_model = sum(measured.pollers), sum(model.pollers[:seconds])
    drain_measured = _since(measured.emptied_at, measured.backlog_start)
    drain_model = _since(model.emptied_at, measured.backlog_start)
    per_second = sum(abs(a - b) for a, b in zip(model.pollers, measured.pollers, strict=True))
    return (
        CurveError(
            "backlog peak",
            measured.backlog_peak,
            model.backlog_peak,
            abs(model.backlog_peak - measured.backlog_peak)
            / max(1e-9, measured.backlog_peak, measured.offered_into_peak),
        ),
        CurveError("drain time", drain_measured, drain_model, _relative(drain_measured, drain_model)),
        CurveError("poller-seconds", area_measured, area_model, _relative(area_measured, area_model)),
        CurveError(
            "pollers second by second (mean abs. difference / mean; reported)",
            area_measured / max(1, seconds),
            area_model / max(1, seconds),
            per_second / max(1e-9, area_measured),
            held=False,
        ),
        CurveError(
            "backlog second by second (mean abs. difference / peak; reported)",
            statistics.fmean(measured.visible),
            statistics.fmean(model.visible),
            statistics.fmean(abs(a - b) for a, b in zip(model.visible, measured.visible, strict=True))
            / max(1.0, measured.backlog_peak),
            held=False,
        ),
        *_knee(measured, model),
    )


def _knee(measured: Curves, model: Curves) -> tuple[CurveError, ...]:
    """For a run that starts with a backlog (make capacity): the backlog of its search near the knee, where
    the queue is the running sum of two close rates (offered, and what the emulator serves that minute)."""
    if not measured.visible or measured.visible[0] < 1:
        return ()
    after_measured, after_model = _after_first_drain(measured.visible), _after_first_drain(model.visible)
    return (
        CurveError(
            "backlog peak after the first drain (reported)",
            after_measured,
            after_model,
            _relative(after_measured, after_model),
            held=False,
        ),
    )


def calibrate(run: MeasuredRun, seeds: Sequence[int] = CALIBRATION_SEEDS) -> Calibration:
    """The model on the run's parameters, once per seed; its curves are the seeds' medians (the pollers: their
    mean, second by second), compared with the run's."""
    pipeline = local_pipeline(run)
    models = [
        simulate(
            pipeline, run.curve(), seed=seed, horizon_s=LOCAL_HORIZON_S, initial_backlog=run.initial_backlog
        )
        for seed in seeds
    ]
    curves = [model_curves(run, model) for model in models]
    emptied = [c.emptied_at for c in curves]
    median = Curves(
        backlog_peak=statistics.median(c.backlog_peak for c in curves),
        emptied_at=None if None in emptied else statistics.median(emptied),
        pollers=tuple(statistics.fmean(column) for column in zip(*(c.pollers for c in curves), strict=True)),
        visible=tuple(statistics.median(column) for column in zip(*(c.visible for c in curves), strict=True)),
    )
    return Calibration(run, pipeline, models[0], compare(measured_curves(run), median))


# ---- reading a run ------------------------------------------------------------------------------------
def from_record(data: Mapping[str, Any], name: str) -> MeasuredRun:
    """A run record (loadtest/analysis/run_record.py's JSON: series, settings, batch_durations). What the
    queue held in the first row (make capacity's backlog, sent before the consumers started) is the initial
    backlog;
    the offered rate of each later row is the load."""
    series = data["series"]
    if not series.get("t_s"):
        raise ValueError(f"{name}: the record keeps no per-second series")
    durations = data["batch_durations"]

    def column(key: str) -> tuple[float, ...]:
        return tuple(float(v or 0) for v in series[key])

    t_s, visible, in_flight = column("t_s"), column("queue_visible"), column("queue_in_flight")
    return MeasuredRun(
        name=name,
        settings=StackSettings.from_raw(
            {key: value for key, value in data["settings"].items() if value is not None and key in KEYS}
        ),
        t_s=t_s,
        offered_msgs_per_s=column("offered_msgs_per_s"),
        stored_msgs_per_s=column("stored_msgs_per_s"),
        queue_visible=visible,
        queue_in_flight=in_flight,
        pollers=column("pollers"),
        batch_p50_ms=float(durations["p50_ms"]),
        batch_spread=_spread_from_quantiles(durations["p50_ms"], durations["p95_ms"]),
        initial_backlog=visible[0] + in_flight[0] if t_s[0] < FIRST_ROW_S else 0.0,
    )


def has_series(path: Path) -> bool:
    return path.exists() and bool(json.loads(path.read_text()).get("series", {}).get("t_s"))


def _spread_from_quantiles(p50: float, p95: float) -> float:
    """A lognormal's coefficient of variation from its median and 95th percentile."""
    if p50 <= 0 or p95 <= p50:
        return 0.0
    sigma = math.log(p95 / p50) / statistics.NormalDist().inv_cdf(0.95)
    return math.sqrt(math.exp(sigma**2) - 1)


def load(path: Path, name: str | None = None) -> MeasuredRun:
    return from_record(json.loads(Path(path).read_text()), name or Path(path).stem)


# The runs the model is checked against, each the newest committed record with a per-second series: the run
# record `make demo` / `make capacity` commit, else the what-if's own recording of an earlier run.
CALIBRATION_RECORDS = (
    ("demo-dev-lambda", "whatif-calibration-demo"),
    ("capacity-dev", "whatif-calibration-capacity"),
)


def committed_runs(data_dir: Path) -> list[Path]:
    found = []
    for candidates in CALIBRATION_RECORDS:
        path = next(
            (data_dir / f"{name}.json" for name in candidates if has_series(data_dir / f"{name}.json")), None
        )
        if path is not None:
            found.append(path)
    return found
