"""A what-if study: stacks × load profiles × mapping modes, each simulated (whatif_model) and priced
(whatif_cost), with the measured inputs it rests on (what the handler costs, what an event writes and logs)
read from the committed run records under report/data/ (a fresh clone has them).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

from infra.settings import PROJECT_ROOT, StackSettings
from loadtest.analysis.aws_prices import PriceBook, load_prices
from loadtest.analysis.cost_inputs import Usage
from loadtest.analysis.whatif_calibration import _spread_from_quantiles
from loadtest.analysis.whatif_cost import BurstCost, burst_cost, usage_from_dict
from loadtest.analysis.whatif_load import LoadCurve
from loadtest.analysis.whatif_model import Run, simulate
from loadtest.analysis.whatif_scenarios import HandlerCost, Overrides, aws_pipeline, describe, stack_settings

DATA_DIR = PROJECT_ROOT / "report" / "data"
MAIN_RUN = "demo-dev-lambda.json"  # make demo's record: the batches' spread, the cost model's usage
BENCH = "bench.json"  # make bench: the handler's CPU per record
# When a record is missing, the figures REPORT.md's Benchmarks and cost sections showed from the runs of
# 2026-11-25 on this machine (make bench: consumer cpu_ms_per_record_tracing_on; make demo: item sizes and
# write units; batch durations' spread): used, and said so in the study's inputs.
FALLBACK_CPU_MS_PER_RECORD = 0.244
FALLBACK_SPREAD = 0.5
FALLBACK_MESSAGE_BYTES = 400.0
HORIZON_S = 3600.0  # seconds after the load a run may take to drain before it is cut


@dataclasses.dataclass(frozen=True)
class Inputs:
    cost: HandlerCost
    usage: Usage | None  # None: no measured usage, no price
    prices: PriceBook


def measured_inputs(data_dir: Path = DATA_DIR) -> Inputs:
    """What the handler costs and what an event uses, from the committed records (fallbacks named)."""
    sources = []
    bench = _read(data_dir / BENCH).get("benchmarks", {}).get("consumer", {})
    cpu = bench.get("cpu_ms_per_record_tracing_on", _figures(bench).get("cpu_ms_per_record_tracing_on"))
    if cpu is None:
        cpu = FALLBACK_CPU_MS_PER_RECORD
        sources.append(f"CPU {cpu} ms/record (make bench of 2026-11-25; no report/data/{BENCH})")
    else:
        sources.append(f"CPU {cpu} ms/record (report/data/{BENCH}, {bench.get('date', '')})")
    main = _read(data_dir / MAIN_RUN)
    durations = main.get("batch_durations") or {}
    spread = (
        _spread_from_quantiles(durations["p50_ms"], durations["p95_ms"])
        if durations.get("p50_ms") and durations.get("p95_ms")
        else FALLBACK_SPREAD
    )
    usage = usage_from_dict(main["cost_usage"]) if main.get("cost_usage") else None
    message_bytes = usage.item_bytes[0] if usage and usage.item_bytes[0] else FALLBACK_MESSAGE_BYTES
    table_units = usage.table_write_units_per_event if usage else 1.0
    index_units = usage.index_write_units_per_event if usage else 1.0
    sources.append(
        f"batches, item sizes and usage: report/data/{MAIN_RUN}"
        if main
        else f"no report/data/{MAIN_RUN}: spread {FALLBACK_SPREAD}, {FALLBACK_MESSAGE_BYTES:g}-byte events, "
        "no price"
    )
    cost = HandlerCost(
        cpu_ms_per_record=float(cpu),
        batch_spread=spread,
        message_bytes=message_bytes,
        write_units_per_event=table_units,
        index_write_units_per_event=index_units,
        source="; ".join(sources),
    )
    return Inputs(cost, usage, load_prices())


def _figures(benchmark: dict) -> dict[str, float]:
    """A benchmark's `figures` when it keeps them as one "name=value, name=value" line."""
    found = {}
    for part in str(benchmark.get("figures", "")).split(","):
        name, _, value = part.strip().partition("=")
        try:
            found[name] = float(value)
        except ValueError:
            continue
    return found


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


@dataclasses.dataclass(frozen=True)
class Scenario:
    stack: str
    curve: LoadCurve
    mode: str
    overrides: Overrides = dataclasses.field(default_factory=Overrides)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One scenario's figures, as the table, the report and whatif.json give them."""

    stack: str
    profile: str
    mode: str
    mapping: str
    limited_by: str
    peak_concurrency: float
    backlog_peak: float
    oldest_age_s: float
    e2e_p50_s: float | None
    e2e_p99_s: float | None
    throttles: float
    write_throttled: float
    dead_letters: float
    drain_s: float | None  # None: not drained within the horizon
    stored: float
    cost_usd: float | None
    cost_per_million_usd: float | None


def run_scenario(scenario: Scenario, inputs: Inputs, seed: int) -> tuple[Run, Outcome]:
    settings = stack_settings(scenario.stack)
    pipeline = aws_pipeline(scenario.stack, settings, scenario.mode, inputs.cost, scenario.overrides)
    run = simulate(pipeline, scenario.curve, seed=seed, horizon_s=HORIZON_S)
    cost = _price(run, scenario.stack, settings, inputs)
    outcome = Outcome(
        stack=scenario.stack,
        profile=scenario.curve.name,
        mode=scenario.mode,
        mapping=describe(pipeline.scaling),
        limited_by=run.limited_by(),
        peak_concurrency=run.peak("running"),
        backlog_peak=run.peak("queue_visible"),
        oldest_age_s=run.peak("oldest_age_s"),
        e2e_p50_s=run.latency_quantile(0.5),
        e2e_p99_s=run.latency_quantile(0.99),
        throttles=run.throttles,
        write_throttled=run.write_throttled,
        dead_letters=run.dead_letters,
        drain_s=run.drain_seconds,
        stored=run.stored,
        cost_usd=None if cost is None else cost.dollars,
        cost_per_million_usd=None if cost is None else cost.per_million_events,
    )
    return run, outcome


def _price(run: Run, stack: str, settings: StackSettings, inputs: Inputs) -> BurstCost | None:
    if inputs.usage is None:
        return None
    return burst_cost(run, stack, settings, inputs.usage, inputs.prices)


def run_study(
    stacks: Sequence[str], curves: Sequence[LoadCurve], modes: Sequence[str], overrides: Overrides, seed: int
) -> list[tuple[Scenario, Run, Outcome]]:
    inputs = measured_inputs()
    results = []
    for stack in stacks:
        for curve in curves:
            for mode in modes:
                scenario = Scenario(stack, curve, mode, overrides)
                run, outcome = run_scenario(scenario, inputs, seed)
                results.append((scenario, run, outcome))
    return results
