"""REPORT.md's sections, each from its own run's record in report/data/ (report_data.py), each headed by
where and when its figures were measured. A section whose data is missing still appears, saying which
command measures it: no section disappears because a run has not been made on this machine."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from loadtest.analysis import aws_runtime_rules as rules
from loadtest.analysis import capacity_charts, run_charts, whatif_report
from loadtest.analysis.aws_prices import load_prices
from loadtest.analysis.mapping_rules import INVOKES_PER_POLLER
from loadtest.analysis.run_record import RunRecord, Step
from loadtest.analysis.scaling_model import drain_table
from loadtest.analysis.whatif_calibration import LOCAL_POLLER_LIMIT

HEADINGS = {
    "result": "## Result",
    "capacity": "## Capacity: the knee (`make capacity`)",
    "producer": "## Producer (Locust)",
    "charts": "## Charts",
    "run": "## Run",
    "other_runs": "## Other runs",
    "chaos": "## Fault injection (`make chaos`)",
    "drills": "## Drills (`make drills`)",
    "cost": "## What it costs",
    "bench": "## Benchmarks (`make bench`)",
    "model": "## Scale-out on AWS, modelled",
    "whatif": whatif_report.HEADING,
    "reproduce": "## Reproduce",
}


def provenance(record: RunRecord) -> list[str]:
    """The line under a heading: which run measured it, when, on what machine, and its data file."""
    note = f" {record.note}" if record.note else ""
    return [
        f"*From `{record.command}` on {record.date} ({record.machine.describe()});"
        f" data: [`report/data/{record.run}.json`](report/data/{record.run}.json).{note}*",
        "",
    ]


def not_measured(heading: str, command: str) -> list[str]:
    return [heading, "", f"*Not measured yet: `{command}` measures it.*", ""]


def ledger_verdict(ledger) -> str:
    return "no message lost, pending or stored twice" if ledger.clean else "FAILED"


def _ms(value: float) -> str:
    return f"{value:,.0f}"


# ---- the main run: `make demo` ----------------------------------------------------------------------------
def result_section(run: RunRecord | None) -> list[str]:
    if run is None:
        return not_measured(HEADINGS["result"], "make demo")
    ledger, throughput, runner, latency = run.ledger, run.throughput, run.runner, run.latency_ms
    backlog = max((v for v in run.series.queue_visible if v is not None), default=None)
    return [
        HEADINGS["result"],
        "",
        *provenance(run),
        f"**`{ledger.line()}`** — {ledger_verdict(ledger)}.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| plateau offered (msgs/s) and where it comes from | {run.plan.peak_rate_msgs_per_s:,.0f}"
        f" ({run.plan.source}) |",
        f"| messages produced / s (over the shape) | {throughput.produced_msgs_per_s} |",
        f"| messages stored / s (first to last store) | {throughput.stored_msgs_per_s} |",
        f"| emulator ceiling for the pipeline's call mix, msgs/s (same run) | {_ceiling(run)} |",
        f"| stored throughput / emulator ceiling | {_or_na(throughput.stored_vs_ceiling)} |",
        f"| largest backlog (messages) | {'n/a' if backlog is None else f'{backlog:,}'} |",
        f"| end-to-end latency p50 / p95 / p99 (ms) | {_ms(latency.p50)} / {_ms(latency.p95)} / {_ms(latency.p99)} |",
        f"| pollers: floor → max (maxConcurrency {run.settings.get('maxConcurrency')}) |"
        f" {runner.get('min_pollers', 'n/a')} → {runner.get('max_pollers', 'n/a')} |",
        f"| invocations / records delivered | {runner.get('invocations', 'n/a')} / {runner.get('records', 'n/a')} |",
        f"| failed records / whole-batch failures | {runner.get('failed_records', 'n/a')} /"
        f" {runner.get('failed_invocations', 'n/a')} |",
        "",
        "The plateau offers more than the pipeline sustains (the knee, below), so a backlog builds, pollers scale out"
        " to maxConcurrency by AWS's rule (5 at once, up to 300 more a minute), the backlog drains on the way down,"
        " and pollers step back to the floor once it is gone.",
        "",
    ]


def _ceiling(run: RunRecord) -> str:
    return "n/a" if run.ceiling_msgs_per_s is None else f"{run.ceiling_msgs_per_s:,.1f}"


def _or_na(value) -> str:
    return "n/a" if value is None else f"{value}"


def producer_section(run: RunRecord | None) -> list[str]:
    if run is None:
        return not_measured(HEADINGS["producer"], "make demo")
    rows = [
        "| request | requests | failures | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {r['request']} | {r['requests']} | {r['failures']} | {r['requests_per_s']:.1f} | {r['p50_ms']:.0f}"
            f" | {r['p95_ms']:.0f} | {r['p99_ms']:.0f} |"
            for r in run.producer
        ),
    ]
    return [HEADINGS["producer"], "", *provenance(run), *rows, ""]


def charts_section(run: RunRecord | None, charts_dir: Path, rel: str) -> list[str]:
    if run is None:
        return not_measured(HEADINGS["charts"], "make demo")
    drawn = run_charts.main_run_charts(run, charts_dir)
    if not drawn:
        return [
            HEADINGS["charts"],
            "",
            *provenance(run),
            "*This run's record holds no per-second series.*",
            "",
        ]
    return [
        HEADINGS["charts"],
        "",
        *provenance(run),
        "Every chart runs on one clock, seconds since the load started, so a moment can be found on each.",
        "",
        *(line for chart in drawn for line in chart.markdown(rel)),
    ]


def run_section(run: RunRecord | None) -> list[str]:
    if run is None:
        return not_measured(HEADINGS["run"], "make demo")
    plan = run.plan
    return [
        HEADINGS["run"],
        "",
        *provenance(run),
        f"Stack `{run.stack}` ({run.mode} mode), {run.started_at} → {run.finished_at}.",
        "",
        f"Plan: {plan.peak_users} Locust users at the plateau, each sending {plan.user_rate:g} batches of"
        f" {plan.batch_size} a second, stages of {plan.stage_seconds:g} s; poison ratio {plan.poison_ratio:g};"
        f" faults `{plan.faults or 'none'}`.",
        "",
        "| phase | seconds |",
        "|---|---|",
        *[f"| {p.name} | {p.seconds} |" for p in run.phases],
        "",
        "Settings (as the stack file spells them): `" + json.dumps(run.settings, default=str) + "`",
        "",
    ]


def model_section(run: RunRecord | None) -> list[str]:
    if run is None:
        return not_measured(HEADINGS["model"], "make demo")
    return [
        HEADINGS["model"],
        "",
        "Time to drain a backlog of N messages with Lambda's SQS poller (starts at 5 concurrent batches, adds up to"
        " 300 per minute, up to `maxConcurrency`: the rule the local event source mapping follows) against seed 000's"
        " EC2 loop (checks depth every 60 s, one instance per 1,000 messages up to a maximum, instances take 60 s to"
        " boot). A batch is taken to last 0.1 s (the local handler needs less); "
        "`loadtest/analysis/scaling_model.py` states every assumption. The stack's settings are those of"
        f" `{run.command}` ({run.date}).",
        "",
        *drain_table({"settings": run.settings}),
        "",
    ]


# ---- `make capacity` -------------------------------------------------------------------------------------
CPU_NOTES = {
    "emulator": "moto_server is one Python process (one GIL) serving every SQS and DynamoDB call of the producer,"
    " the pollers and the sampler. With the SQS performance layer a call no longer grows with the backlog (make"
    " bench: the same cost at 10,000 waiting as at 100); a profile of the server under load puts moto's SQS"
    " models at about 7% of its time and the rest in moto_server's own request handling (werkzeug's"
    " thread-per-request server, dispatch, botocore-shaped parsing and serialization). That per-request cost, on"
    " 2 cores shared with the pollers and the producer, is what limits the ratio.",
    "pollers": "the handler's own work (validation, item building, BatchWriteItem serialization, logs and metrics)"
    " dominates; see the consumer benchmark.",
    "producer": "the producer's boto3 calls dominate; more producer threads or processes would be the next step.",
}


def _held(step: Step) -> str:
    return f"{step.seconds_held:.0f}"


def capacity_section(run: RunRecord | None, charts_dir: Path, rel: str) -> list[str]:
    if run is None or run.capacity is None:
        return not_measured(HEADINGS["capacity"], "make capacity")
    c, hold = run.capacity, run.capacity.hold
    ceiling = run.ceiling_msgs_per_s or 0
    rows = [
        HEADINGS["capacity"],
        "",
        *provenance(run),
        f"Stack `{run.stack}` (maxConcurrency {run.settings.get('maxConcurrency')}, batchSize"
        f" {run.settings.get('batchSize')}). The emulator's ceiling for the pipeline's call mix (per 10 messages one"
        " SendMessageBatch, ReceiveMessage, BatchWriteItem and DeleteMessageBatch, driven flat out from as many"
        " client processes as the pipeline runs: every poller and the producer) was"
        f" **{ceiling:.0f} msgs/s**, the best of its measurements in the same run: {_ceilings(c)}.",
        *_noise_lines(c),
        "",
        "| figure | value | goal |",
        "|---|---|---|",
        f"| maximum sustained stored msgs/s (held {_held(hold)} s) | {c.sustained_msgs_per_s:.0f} | |",
        f"| sustained / ceiling | **{_share(c)}** | ≥ {c.goal_sustained_share} |",
        f"| {c.backlog:,}-message backlog drained in (s) / at msgs/s | {c.backlog_drain_seconds} /"
        f" {c.backlog_drain_msgs_per_s:.0f} | |",
        f"| backlog drain rate / sustained rate | **{c.backlog_drain_share_of_sustained:.2f}** | ≥ {c.goal_drain_share} |",
        f"| queue bounded during the hold | {'yes' if hold.sustainable else 'no: ' + hold.why} | yes |",
        *[
            f"| an earlier hold, at {h.target_msgs_per_s:.0f} msgs/s, not bounded over {_held(h)} s | {h.why} | |"
            for h in c.failed_holds
        ],
        f"| hold p50 / p95 / p99 (ms) | {hold.p50_ms:.0f} / {hold.p95_ms:.0f} / {hold.p99_ms:.0f} |"
        f" p99 ≤ {c.p99_bound_ms:.0f} |",
        f"| ledger | `{run.ledger.line()}` | all 0 but stored |",
        "",
        "| step | offered msgs/s | stored msgs/s | backlog start → end | backlog slope msgs/s | pollers mean / max |"
        " p50 / p95 / p99 ms | sustainable |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, step in capacity_charts.labelled_steps(run):
        rows.append(
            f"| {label} | {step.offered_msgs_per_s:.0f} | {step.stored_msgs_per_s:.0f} | {step.backlog_start} →"
            f" {step.backlog_end} | {step.backlog_slope:.0f} | {step.pollers_mean} / {step.pollers_max} |"
            f" {step.p50_ms:.0f} / {step.p95_ms:.0f} / {step.p99_ms:.0f} |"
            f" {'yes' if step.sustainable else 'no: ' + step.why} |"
        )
    rows += ["", *_cpu_lines(run), ""]
    for chart in capacity_charts.draw(run, charts_dir):
        rows += chart.markdown(rel)
    return rows


def _ceilings(c) -> str:
    """'before the search 612 (best of 3 rounds: 590–612, 11 clients), after it 640 (…)'."""
    parts = []
    for when, ceiling in (("before the search", c.ceiling_before), ("after it", c.ceiling_after)):
        if ceiling:
            parts.append(
                f"{when} {ceiling['msgs_per_s']:.0f} (best of {len(ceiling['rounds_msgs_per_s'])} rounds of"
                f" {ceiling['seconds_per_round']:g} s: {ceiling['min_msgs_per_s']:.0f}–{ceiling['max_msgs_per_s']:.0f},"
                f" {ceiling['clients']} clients)"
            )
    return ", ".join(parts) or "one measurement"


def _share(c) -> str:
    """Sustained ÷ ceiling, never above 1: a ceiling the pipeline beat is no ceiling, and the run said why."""
    if c.ceiling_note:
        return f"{min(c.sustained_share_of_ceiling, 1.0):.2f} (at most: {c.ceiling_note})"
    return f"{min(c.sustained_share_of_ceiling, 1.0):.2f}"


def _noise_lines(c) -> list[str]:
    noise = c.noise
    if not noise:
        return []
    load = noise["load_average"]
    others_busy = noise.get("others_busy", noise["noisy"])  # records before the speed check: noisy alone
    busy = (
        f"**noisy**: other processes kept {noise['other_processes_cores']:.1f} of {noise['cores']} cores busy"
        " during the search and the hold, so its figures are lower than a quiet machine gives"
        if others_busy
        else f"quiet: other processes kept {noise['other_processes_cores']:.2f} of {noise['cores']} cores busy"
    )
    lines = [
        "",
        f"The machine during the search and the hold: {busy} (load average {load[0]:.1f} → {load[1]:.1f}).",
    ]
    if "ceiling_rounds_msgs_per_s" in noise:  # records from before the speed check have no such entry
        low, high = noise["ceiling_rounds_msgs_per_s"]
        steadiness = (
            "steady"
            if noise["speed_steady"]
            else "so **noisy**: the shared host slowed the machine with no process here to show for it, and the"
            " share of the ceiling is uncertain by as much"
        )
        lines[-1] += (
            f" Its speed: the emulator's ceiling rounds ranged {low:,.0f}–{high:,.0f} msgs/s"
            f" ({low / high:.2f} of the best), {steadiness}."
        )
    return lines


def _cpu_lines(run: RunRecord) -> list[str]:
    cpu = run.capacity.cpu_cores_during_hold
    if not cpu:
        return []
    busiest = max(cpu, key=cpu.get)
    return [
        f"Where the CPU went during the hold, in cores of this machine's {run.machine.cores}: "
        + ", ".join(f"{name} {cores}" for name, cores in cpu.items())
        + f". The {busiest} is the largest consumer: "
        + CPU_NOTES.get(busiest, "")
        + " Pollers were warm before the load (all maxConcurrency of them imported the handler in"
        f" {run.capacity.warm_start_seconds} s), so a scale-out step switched a poller on instead of starting a"
        " process."
    ]


# ---- the other demo runs --------------------------------------------------------------------------------
def other_runs_section(
    runs: list[RunRecord], charts_dir: Path, rel: str, standard: list[RunRecord] = ()
) -> list[str]:
    """The other demo runs, a row and a chart each; with `standard` (make demo's run) and a provisioned run,
    the two mappings side by side."""
    heading = [
        HEADINGS["other_runs"],
        "",
        "The same scale shape and ledger check on other stacks and compute modes.",
        "",
    ]
    if not runs:
        return [
            *heading,
            "*Not measured yet: `make demo STACK=fifo` and `make demo MODE=worker` measure it.*",
            "",
        ]
    rows = [
        "| command | date | ledger | produced / stored msgs/s | latency p50 / p95 / p99 (ms) | max consumers |"
        " per-vehicle order violations | data |",
        "|---|---|---|---|---|---|---|---|",
    ]
    charts = []
    for run in runs:
        ledger, latency = run.ledger, run.latency_ms
        consumers = run.consumers
        order = "—" if run.order_violations is None else run.order_violations
        rows.append(
            f"| `{run.command}` | {run.date} | lost={ledger.lost} pending={ledger.pending}"
            f" duplicated={ledger.duplicated} stored={ledger.stored} | {run.throughput.produced_msgs_per_s} /"
            f" {run.throughput.stored_msgs_per_s} | {_ms(latency.p50)} / {_ms(latency.p95)} / {_ms(latency.p99)}"
            f" | {run.runner.get('max_pollers', 'n/a')} {consumers} | {order} |"
            f" [`{run.run}.json`](report/data/{run.run}.json) |"
        )
        if run.note:
            rows.append(f"| | | *{run.note}* | | | | | |")
        if len(run.series):
            charts += run_charts.scaling_chart(run, charts_dir).markdown(rel)
    return [*heading, *rows, "", *mapping_comparison([*standard, *runs]), *charts]


def mapping_comparison(runs: list[RunRecord]) -> list[str]:
    """Standard against provisioned mode on the same scale shape (the Lambda runs on standard queues)."""
    lambda_runs = [r for r in runs if r.mode == "lambda" and not r.settings.get("fifo") and len(r.series)]
    if not any(r.settings.get("provisionedPollers") for r in lambda_runs) or len(lambda_runs) < 2:
        return []
    rows = [
        "Standard against provisioned mode, the same scale shape (each plateau from the ceiling its run"
        " measured):",
        "",
        "| command | mapping | plateau offered msgs/s | concurrent batches (local poller processes): floor → max"
        " | seconds from the load start to the max | backlog peak | p99 ms | pollers' own charge |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in lambda_runs:
        s, provisioned = run.series, run.settings.get("provisionedPollers")
        peak = max(s.pollers)
        reached = next(t for t, pollers in zip(s.t_s, s.pollers, strict=True) if pollers == peak)
        if provisioned:
            low, high = provisioned
            mapping = (
                f"provisioned, {low}–{high} pollers (up to {INVOKES_PER_POLLER * high} concurrent batches;"
                f" one machine runs {LOCAL_POLLER_LIMIT})"
            )
            # Billed in Event Poller Units whatever the load (aws_runtime_rules: a poller-hour's price).
            month = low * rules.SQS_POLLER_HOUR_USD * load_prices().rule("hours_per_month")
            charge = (
                f"${month:.2f} a month at its floor of {low} (${rules.SQS_POLLER_HOUR_USD:.5f} a poller-hour)"
            )
        else:
            mapping = f"standard, maxConcurrency {run.settings.get('maxConcurrency')}"
            charge = "none (standard pollers are not billed)"
        rows.append(
            f"| `{run.command}` | {mapping} | {run.plan.peak_rate_msgs_per_s:,.0f} | {s.pollers[0]:.0f} →"
            f" {peak:.0f} | {reached:.0f} | {max(s.queue_visible):,.0f} | {_ms(run.latency_ms.p99)} | {charge} |"
        )
    return [*rows, ""]


def chaos_section(run: RunRecord | None) -> list[str]:
    if run is None:
        return not_measured(HEADINGS["chaos"], "make chaos")
    ledger, totals = run.ledger, run.runner
    return [
        HEADINGS["chaos"],
        "",
        *provenance(run),
        f"At once: {run.plan.poison_ratio:.0%} poison bodies from the producer, handler faults"
        f" `{run.plan.faults}` (throttling-style write failures, invocations overrunning the timeout), and"
        f" {totals.get('pollers_killed', 0)} poller SIGKILLed mid-run (its batch came back after the visibility"
        " timeout).",
        "",
        f"**`{ledger.line()}`** — {ledger_verdict(ledger)}.",
        "",
        "| count | value |",
        "|---|---|",
        f"| events accepted by SQS | {ledger.accepted} |",
        f"| poison bodies accepted | {ledger.poison_accepted} |",
        f"| poison routed to the DLQ by the consumer (with a reason) | {totals.get('routed_to_dlq', 'n/a')} |",
        f"| transient write failures injected (retried by SQS) | {totals.get('write_failures', 'n/a')} |",
        f"| invocations that overran the timeout (whole batch retried) | {totals.get('timeouts', 'n/a')} |",
        f"| deliveries to the handler / retries beyond the first | {totals.get('records', 0)} /"
        f" {totals.get('records', 0) - ledger.accepted} |",
        f"| stored / in DLQ / lost / duplicated | {ledger.stored} / {ledger.in_dlq} / {ledger.lost} / {ledger.duplicated} |",
        f"| DLQ by reason | {json.dumps(run.dlq_reasons)} |",
        "| poison messages dead-lettered twice (routed, then the poller was killed before its delete) |"
        f" {ledger.extra_dead_letter_copies} |",
        "",
    ]


# ---- drills and benchmarks (their own data files) -------------------------------------------------------
DRILL_WHAT = {
    "outage": "every DynamoDB write fails for longer than maxReceiveCount × the visibility timeout under steady"
    " load; the store comes back; the runbook's redrive sends the DLQ back",
    "deploy": "mid-load, every poller is replaced by a new, cold one (a new function version); the old ones"
    " finish their batch and exit",
    "poison": "a stage of 50% invalid bodies after a clean stage of the same length and rate",
    "duplicates": "the producer resends 30% of its events (same eventId, a new message)",
    "distributed": "a Locust master and two workers on 127.0.0.1 drive the scale shape",
    "backoff": "the function's reserved concurrency (3) below the mapping's maximum (10), slow invocations,"
    " 2 receives before the DLQ: Lambda throttles, the mapping backs off",
    "throttling": "a provisioned table of 40 write units a second under 100 msgs/s: DynamoDB pushes back, the"
    " store retries, SQS redelivers",
}
PROVENANCE_KEYS = {"command", "date", "note"}


def drills_section(data: dict) -> list[str]:
    drills = data.get("drills", {})
    if not drills:
        return not_measured(HEADINGS["drills"], "make drills")
    rows = [
        HEADINGS["drills"],
        "",
        "*Each drill's row says which run measured it and when; data:"
        " [`report/data/drills.json`](report/data/drills.json).*",
        "",
        "On the embedded AWS with the real handler and the local event source mapping, on a drill stack (dev"
        " with a 1 s function timeout, so a 6 s visibility timeout, and maxReceiveCount 3). Each ends with the"
        " ledger check. The outage drill is the proof of the README's DLQ runbook.",
        "",
        "| drill | what was done | figures | ledger | result | from |",
        "|---|---|---|---|---|---|",
    ]
    order = [*DRILL_WHAT, *sorted(set(drills) - set(DRILL_WHAT))]
    for name in (n for n in order if n in drills):
        r = drills[name]
        skip = {"name", "passed", "problems", "ledger", *PROVENANCE_KEYS}
        figures = r.get("figures") or "; ".join(  # a seeded row keeps its figures as the report printed them
            f"{k.replace('_', ' ')} {v}" for k, v in r.items() if k not in skip
        )
        result = "passed" if r["passed"] else "FAILED: " + "; ".join(r["problems"])
        source = f"`{r.get('command', 'make drills')}`, {r.get('date', '?')}" + (
            f" ({r['note']})" if r.get("note") else ""
        )
        what = DRILL_WHAT.get(name, "")
        rows.append(f"| {name} | {what} | {figures} | `{r['ledger']}` | {result} | {source} |")
    return [*rows, ""]


def bench_section(data: dict) -> list[str]:
    benchmarks = data.get("benchmarks", {})
    if not benchmarks:
        return not_measured(HEADINGS["bench"], "make bench")
    rows = [
        HEADINGS["bench"],
        "",
        "*Each benchmark's row says when it was measured; data: [`report/data/bench.json`](report/data/bench.json).*",
        "",
        "| benchmark | ratio | goal | met | figures | from |",
        "|---|---|---|---|---|---|",
    ]
    for name, figures in benchmarks.items():
        skip = {"ratio", "goal", "met", *PROVENANCE_KEYS}
        detail = figures.get("figures") or ", ".join(f"{k}={v}" for k, v in figures.items() if k not in skip)
        source = f"`{figures.get('command', 'make bench')}`, {figures.get('date', '?')}" + (
            f" ({figures['note']})" if figures.get("note") else ""
        )
        rows.append(
            f"| {name} | {figures.get('ratio', '')} | {figures.get('goal', '')} | {figures.get('met', '')}"
            f" | {detail} | {source} |"
        )
    return [*rows, ""]


REPRODUCE = [
    HEADINGS["reproduce"],
    "",
    "Each section comes from one run's data file in `report/data/` and is replaced only by that run:"
    " `make demo` (Result, Producer, Charts, Run, the cost's measured usage), `make capacity` (the knee),"
    " `make demo STACK=fifo`, `make demo MODE=worker` (other runs; the worker run also gives the cost its fleet"
    " throughput), `make chaos` (fault injection), `make drills` (recovery drills), `make bench`;"
    " `python -m loadtest.analysis.report` renders this file from that data alone. On AWS: `pulumi up -s dev`,"
    " then `locust -f loadtest/locustfile.py --stack-outputs build/dev-outputs.json`, then"
    " `python -m loadtest.analysis.report --source cloudwatch …` (section On AWS).",
]


SectionMaker = Callable[..., list[str]]
