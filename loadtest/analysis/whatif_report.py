"""The what-if's figures as the terminal table, as report/data/whatif.json, and as REPORT.md's "At AWS scale"
section (rendered from that file alone)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadtest.analysis.whatif_calibration import Calibration
from loadtest.analysis.whatif_study import Outcome

HEADING = "## At AWS scale (`make whatif`)"
COLUMNS = (
    "stack",
    "load",
    "mapping",
    "limited by",
    "peak concurrency",
    "backlog peak",
    "oldest message",
    "e2e p50 / p99",
    "Lambda throttles",
    "writes throttled",
    "dead letters",
    "drain",
    "cost",
)
# The rules the model applies, each with the page it comes from (aws_runtime_rules.py and mapping_rules.py
# hold the constants beside the same pages).
RULES = (
    (
        "standard mode: 5 concurrent batches when messages appear, +300 a minute, at most 1,250 (and "
        "maxConcurrency 2–1,000); back to 5 when traffic is low",
        "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
    ),
    (
        "provisioned mode: minimum pollers always on, each up to 10 concurrent invokes, 10 polls a "
        "second (of up to 10 messages) and 1 MB/s; +1,000 concurrency a minute up to maximum pollers × 10 "
        "(≤ 20,000)",
        "https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html; AWS News Blog, "
        "14 Nov 2025",
    ),
    (
        "back-off: a throttled invoke is retried while its messages are invisible and the mapping gives up "
        "concurrency; reported item failures cause none (ReportBatchItemFailures); the pace is assumed "
        "(one concurrent batch a second, mapping_rules.py)",
        "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html",
    ),
    (
        "Lambda: 1,000 concurrent executions an account by default, 100 of them never reservable; a "
        "function scales by 1,000 environments every 10 s; CPU in proportion to memory (1 vCPU at 1,769 MB)",
        "https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html; .../scaling-behavior.html; "
        ".../configuration-memory.html",
    ),
    (
        "DynamoDB: provisioned WCU a second with 300 s of burst; on-demand 4,000 WRU a second for a new "
        "table, 2× the previous peak, a new peak adopted after 30 minutes, 40,000 per table; an index "
        "that cannot take its entry throttles the write",
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html; "
        ".../burst-adaptive-capacity.html; .../ServiceQuotas.html",
    ),
    (
        "SQS: a failed message returns after the visibility timeout; after maxReceiveCount receives it moves "
        "to the DLQ; about 120,000 in flight per standard queue; FIFO 300 calls a second (3,000 msgs/s "
        "batched)",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
        "sqs-dead-letter-queues.html; .../quotas-queues.html; .../quotas-messages.html",
    ),
)


def seconds(value: float | None) -> str:
    if value is None:
        return "not drained in 1 h"
    if value < 1:
        return f"{value * 1000:,.0f} ms"
    if value < 120:
        return f"{value:,.1f} s"
    if value < 7200:
        return f"{value / 60:,.1f} min"
    return f"{value / 3600:,.1f} h"


def count(value: float) -> str:
    return f"{value:,.0f}"


def dollars(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"${value:,.2f}" if value >= 0.1 else f"${value:,.4f}"


def row(outcome: Outcome) -> list[str]:
    return [
        outcome.stack,
        outcome.profile,
        outcome.mapping,
        outcome.limited_by,
        count(outcome.peak_concurrency),
        count(outcome.backlog_peak),
        seconds(outcome.oldest_age_s),
        f"{seconds(outcome.e2e_p50_s)} / {seconds(outcome.e2e_p99_s)}",
        count(outcome.throttles),
        count(outcome.write_throttled),
        count(outcome.dead_letters),
        seconds(outcome.drain_s),
        dollars(outcome.cost_usd),
    ]


def terminal_table(outcomes: Sequence[Outcome]) -> str:
    rows = [list(COLUMNS), *(row(o) for o in outcomes)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def calibration_lines(calibrations: Sequence[Calibration]) -> list[str]:
    lines = []
    for c in calibrations:
        parts = [f"{e.curve} {_figure(e.measured)} → {_figure(e.model)} ({e.error:.1%})" for e in c.errors]
        verdict = "within" if c.passed else "NOT within"
        lines.append(f"{c.run.name}: {'; '.join(parts)}: {verdict} 15%")
    return lines


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"


# ---- whatif.json --------------------------------------------------------------------------------------
def data(
    outcomes: Sequence[Outcome],
    calibrations: Sequence[Calibration],
    charts: Sequence[str],
    command: str,
    date: str,
    seed: int,
    inputs: str,
) -> dict[str, Any]:
    return {
        "command": command,
        "date": date,
        "seed": seed,
        "inputs": inputs,
        "rules": [{"rule": rule, "source": source} for rule, source in RULES],
        "scenarios": [dataclasses.asdict(o) for o in outcomes],
        "calibration": [
            {
                "run": c.run.name,
                "emulator_msgs_per_s": {
                    "at_zero_offered": round(c.pipeline.intake_limit.at_zero, 1),
                    "per_offered": round(c.pipeline.intake_limit.per_offered, 3),
                    "noise": round(c.pipeline.intake_noise, 3),
                },
                "batch_seconds": round(c.pipeline.timing.fixed_s, 4),
                "curves": [dataclasses.asdict(e) for e in c.errors],
                "within": c.passed,
            }
            for c in calibrations
        ],
        "charts": list(charts),
    }


def write(path: Path, payload: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, sort_keys=False) + "\n")
    return path


# ---- REPORT.md ----------------------------------------------------------------------------------------
def section(payload: dict[str, Any] | None) -> list[str]:
    """REPORT.md's "At AWS scale", from whatif.json (None: not computed yet)."""
    if not payload:
        return [HEADING, "", "*Not computed yet: `make whatif` computes it.*", ""]
    outcomes = [Outcome(**o) for o in payload["scenarios"]]
    lines = [
        HEADING,
        "",
        f"*From `{payload['command']}` on {payload['date']} (seed {payload['seed']});"
        " data: [`report/data/whatif.json`](report/data/whatif.json). Measured inputs: "
        f"{payload['inputs']}.*",
        "",
        "The deployed pipeline simulated by AWS's documented rules (below, with their pages) under bursts "
        "far beyond the embedded AWS's ceiling: `loadtest/analysis/whatif_model.py`, one-second decisions, "
        "0.1-second steps, messages in cohorts. A batch lasts what the handler's measured CPU takes at the "
        "stack's memory, plus its DynamoDB writes. Every table is a new on-demand table (4,000 write units a "
        "second) unless `--table-warm-wru` says it has served more before.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *("| " + " | ".join(row(o)) + " |" for o in outcomes),
        "",
        "*Peak concurrency: batches running at once (ConcurrentExecutions). Backlog: messages visible. "
        "Writes throttled: records DynamoDB refused (each comes back after the visibility timeout). Drain: "
        "from the end of the load until nothing is visible or in flight. Cost: what the burst adds to the "
        "bill (the cost model's line items for these events, plus provisioned pollers).*",
        "",
        "What it teaches, read from the rows: a new on-demand table (4,000 write units a second; an event "
        "is one write, two with eventIdIndex) is the first limit of any mapping allowed more than about "
        "4,000 msgs/s: its refused "
        "records come back a visibility timeout later (60 s dev, 182 s prod), fill SQS's in-flight quota, "
        "and with maxReceiveCount 5 some reach the DLQ at 50k msgs/s; dev's maxConcurrency 10 keeps under "
        "the table and simply queues. Provisioned mode (the stack's pollers, or for a standard stack "
        "2–90 pollers: 900 concurrent invokes, what one function can reserve on a default account) is no "
        "faster here: each poller takes at most 10 polls of 10 messages a second, so its 2-poller floor "
        "takes 200 msgs/s and a 1k burst waits seconds while pollers are added, and beyond that the table "
        "binds. The lever is the table (`--table-warm-wru`, DynamoDB's warm throughput), then concurrency.",
        "",
        "**Calibrated on the local stack.** Given a local run's own measured parameters (its batches' "
        "receive-to-delete time; the emulator's capacity as a line in the offered rate, fitted to the run's "
        "seconds with three rounds of every poller waiting, and its second-to-second variation), the same "
        "model with the same mapping rules reproduces the run's curves (median of five seeds). Held to 15%: "
        "backlog peak (its error over the messages offered while it built, so that near the knee it is the "
        "model's error in the rate served, not the difference of two close rates), drain time (from the "
        "backlog's start, the last empty second before the run's peak, until the queue is empty again: model "
        "and run from the same instant) and "
        "poller-seconds; reported beside them: the curves second by second and, for make capacity (whose "
        "peak is the 10,000 messages it starts with), its backlog near the knee, where the queue is the sum "
        "of two close rates and the emulator's minute-to-minute variation on a shared machine shows.",
        "",
        "| run | curve | measured | model | error | held |",
        "|---|---|---|---|---|---|",
    ]
    for c in payload["calibration"]:
        for e in c["curves"]:
            held = ("within 15%" if e["error"] <= 0.15 else "NOT within 15%") if e["held"] else "reported"
            lines.append(
                f"| {c['run']} | {e['curve']} | {_figure(e['measured'])} | {_figure(e['model'])} |"
                f" {e['error']:.1%} | {held} |"
            )
    if not payload["calibration"]:
        lines.append("| — | no committed demo or capacity record | | | |")
    lines += ["", *(f"![{name}](report/{name})" for name in payload["charts"]), ""]
    lines += ["| rule | source |", "|---|---|"]
    lines += [f"| {r['rule']} | {r['source']} |" for r in payload["rules"]]
    return [*lines, ""]
