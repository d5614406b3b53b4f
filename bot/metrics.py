"""What this process counts as it works, for Prometheus (`GET /metrics`, bot/metrics_endpoint.py).

Every process has its own endpoint and its own counts (docs/deployment.md, Metrics):
Prometheus scrapes each `bot web` and `bot worker` process and adds them up, as it does
for any service with several instances. The figures that describe the state of the
whole service (backlog, queue, outbox, agents, training runs) are not counted here but
read from the database at scrape time (bot/storage/metrics.py).

The metrics are module-level, unlike the rest of the service's parts: a process has one
exposition, and the recording functions are called from places (the alerting, the
webhooks' hot path) where handing a registry in would cost more than it says. Each call
is an increment or one histogram observation, a few microseconds, with no I/O.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.process_collector import ProcessCollector

PREFIX = "assistant_"

# No `_created` series beside each counter: Prometheus's rate() does not need them, and
# they would double the exposition.
disable_created_metrics()

# Our own registry, not the library's global one: the exposition holds our metrics and
# this process's CPU and memory, nothing a dependency happens to register.
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

MESSAGES_ACCEPTED = Counter(
    f"{PREFIX}messages_accepted", "Customer messages committed to the inbox (redeliveries not counted).",
    ["channel"], registry=REGISTRY)
ACKNOWLEDGEMENT_SECONDS = Histogram(
    f"{PREFIX}webhook_ack_seconds",
    "Time from a webhook's arrival to its acknowledgement (messages committed; for REST, to the "
    "commit before the answer is waited for).",
    ["channel"], registry=REGISTRY,
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
REPLY_SECONDS = Histogram(
    f"{PREFIX}reply_seconds",
    "Time from a customer message's acceptance to its first reply's send (for REST, to the answer "
    "in the response).",
    ["channel"], registry=REGISTRY,
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0))
HANDOVERS = Counter(
    f"{PREFIX}handovers", "Conversations handed to the human queue, by reason.", ["reason"], registry=REGISTRY)
OUTBOX_DELIVERIES = Counter(
    f"{PREFIX}outbox_deliveries",
    "Send attempts of outbox replies by outcome: sent, retried (will be tried again), failed (given up).",
    ["channel", "outcome"], registry=REGISTRY)
ALERTS = Counter(f"{PREFIX}alerts", "Alerts fired, by kind.", ["kind"], registry=REGISTRY)


# Children by label value, kept here: `labels()` checks and locks on every call, about
# half the cost of an increment on the acknowledgement path.
_accepted: dict[str, Counter] = {}
_acknowledgements: dict[str, Histogram] = {}


def message_accepted(channel: str) -> None:
    counter = _accepted.get(channel)
    if counter is None:
        counter = _accepted[channel] = MESSAGES_ACCEPTED.labels(channel)
    counter.inc()


def acknowledged(channel: str, seconds: float) -> None:
    histogram = _acknowledgements.get(channel)
    if histogram is None:
        histogram = _acknowledgements[channel] = ACKNOWLEDGEMENT_SECONDS.labels(channel)
    histogram.observe(seconds)


def replied(channel: str, seconds: float) -> None:
    REPLY_SECONDS.labels(channel).observe(max(seconds, 0.0))


def handed_over(reason: str) -> None:
    HANDOVERS.labels(reason).inc()


def outbox_delivery(channel: str, outcome: str) -> None:
    OUTBOX_DELIVERIES.labels(channel, outcome).inc()


def record_alert(kind: str) -> None:
    """Count an alert of this kind (for the alerting: one call per alert fired)."""
    ALERTS.labels(kind).inc()
