"""The vehicle pipeline's rules as CrossGuard policies, one module per concern; `POLICIES` is the pack."""

from . import access, buckets, cost_tags, dead_letter, encryption, event_source, observability, table_recovery

POLICIES = [
    *event_source.POLICIES,
    *dead_letter.POLICIES,
    *encryption.POLICIES,
    *access.POLICIES,
    *table_recovery.POLICIES,
    *observability.POLICIES,
    *buckets.POLICIES,
    *cost_tags.POLICIES,
]
