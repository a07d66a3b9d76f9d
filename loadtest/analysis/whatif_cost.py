"""What a what-if run costs, priced by the project's cost model (cost_model.lambda_month) from what the run
did: its events, deliveries (retries count again), invocations and their billed duration, the writes the
table took; the rest per event (log bytes, item sizes, metrics) as the local run measured it
(`cost_inputs.Usage`). Two corrections for a burst, which the monthly model spreads over a month:

- X-Ray's reservoir is per second: over a burst of S seconds it records at most S traces, then 5% of the
  rest (the monthly model would give the burst a month of reservoir);
- provisioned mode adds its event pollers, per poller-second (aws_runtime_rules.SQS_POLLER_HOUR_USD).

The fixed monthly part (dashboards, alarms, idle pollers) is left out: a burst adds only the variable part.
"""

from __future__ import annotations

import dataclasses

from infra.settings import StackSettings
from loadtest.analysis import aws_runtime_rules as rules
from loadtest.analysis.aws_prices import PriceBook
from loadtest.analysis.cost_inputs import Line, Usage
from loadtest.analysis.cost_model import LambdaDesign, LineItem, fixed, lambda_month, total
from loadtest.analysis.whatif_model import Run

XRAY_ITEM = "traces recorded"


@dataclasses.dataclass(frozen=True)
class BurstCost:
    dollars: float  # what the run added to the bill
    per_million_events: float
    poller_dollars: float  # of which provisioned event pollers
    items: tuple[LineItem, ...]


def usage_of(run: Run, base: Usage, settings: StackSettings) -> Usage:
    """The measured usage with the run's own deliveries, batches, duration and writes."""
    events = max(1.0, run.curve.messages - run.rejected_sends)
    invocations = max(1e-9, run.invocations)
    written = run.stored / events  # failed and dead-lettered events are never written (nor billed)
    return dataclasses.replace(
        base,
        events=int(events),
        deliveries_per_event=run.deliveries / events,
        records_per_invocation=run.deliveries / invocations,
        batch_size=settings.batch_size,
        batch_ms=Line(run.billed_batch_seconds / invocations * 1000, 0.0, int(invocations)),
        messages_per_receive=min(float(rules.MESSAGES_PER_RECEIVE), run.deliveries / invocations),
        dlq_sends_per_event=0.0,  # dead letters move by the redrive policy: no SendMessage is billed
        table_write_units_per_event=base.table_write_units_per_event * written,
        index_write_units_per_event=base.index_write_units_per_event * written,
    )


def burst_cost(run: Run, stack: str, settings: StackSettings, base: Usage, prices: PriceBook) -> BurstCost:
    usage = usage_of(run, base, settings)
    events = float(usage.events)
    items = lambda_month(LambdaDesign.for_stack(stack, settings), usage, prices, events)
    invocations = run.invocations
    reservoir = min(invocations, prices.rule("xray_reservoir_per_second") * max(1.0, run.curve.seconds))
    traces = reservoir + prices.rule("xray_fixed_rate") * (invocations - reservoir)
    items = [dataclasses.replace(i, quantity=traces) if i.item == XRAY_ITEM else i for i in items]
    pollers = run.poller_seconds / 3600 * rules.SQS_POLLER_HOUR_USD
    variable = total(items) - fixed(items) + pollers
    return BurstCost(variable, variable / events * 1e6, pollers, tuple(i for i in items if not i.fixed))


def usage_from_dict(data: dict) -> Usage:
    """A `Usage` as a run record keeps it (its Lines as dicts)."""
    fields = {f.name for f in dataclasses.fields(Usage)}
    values = {key: value for key, value in data.items() if key in fields}
    for key in ("batch_ms", "log_bytes"):
        if isinstance(values.get(key), dict):
            values[key] = Line(**values[key])
    if isinstance(values.get("item_bytes"), list):
        values["item_bytes"] = tuple(values["item_bytes"])
    return Usage(**values)
