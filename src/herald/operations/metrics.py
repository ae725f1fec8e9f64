"""Prometheus metrics (SPEC 7), the same whichever server process answers.

Counters and histograms are kept by prometheus-client; under `herald serve`
every child writes them to one shared folder (PROMETHEUS_MULTIPROC_DIR, set
by the supervisor) and a scrape adds them up. What the database knows (the
queue, messages by state, the freshness of periodic jobs) is read from it
at scrape time, so it is true across machines too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from herald.core.models import DeliveryStatus, MessageState

MAIL_ATTEMPTS = Counter(
    "herald_mail_attempts",
    "Attempts to hand a mail over, by outcome (sent, deferred, failed, stale)",
    ["outcome"],
)
SMTP_REPLIES = Counter(
    "herald_smtp_replies",
    "Replies of the mail server (or transport) to a mail, by class: 2xx, 4xx, 5xx, error",
    ["reply_class"],
)
HTTP_REQUESTS = Counter(
    "herald_http_requests",
    "API requests by route template, method and status",
    ["route", "method", "status"],
)
SLOW_CLIENTS = Counter(
    "herald_http_slow_clients",
    "Connections closed because their request head was too slow (HERALD_HEADER_TIMEOUT) "
    "or too large (64 kB)",
)
STREAMS_CUT = Counter(
    "herald_http_streams_cut",
    "List responses cut after their first byte because the database failed while they "
    "streamed (the client sees an incomplete response)",
    ["route"],
)
HTTP_DURATION = Histogram(
    "herald_http_request_duration_seconds",
    "API request latency by route template",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def reply_class(detail: str, ok: bool) -> str:
    """2xx for an accepted mail; 4xx or 5xx from an SMTP reply code; else error."""
    if ok:
        return "2xx"
    code = detail[:3]
    if code.isdigit() and code[0] in "45":
        return f"{code[0]}xx"
    return "error"


@dataclass
class Snapshot:
    """What the database says at scrape time."""

    deliveries: dict[DeliveryStatus, int] = field(default_factory=dict)
    oldest_due_age: float = 0.0  # seconds the oldest due delivery has waited
    messages: dict[MessageState, int] = field(default_factory=dict)
    job_ages: dict[str, float] = field(default_factory=dict)  # seconds since the last success
    job_durations: dict[str, float] = field(default_factory=dict)  # seconds the last run took
    job_failing: dict[str, bool] = field(default_factory=dict)  # whether the last run failed
    directory: dict[str, int] = field(default_factory=dict)  # rows by section
    bounces: dict[str, int] = field(default_factory=dict)  # bounces recorded, by kind
    suppressed: int = 0  # addresses on the suppression list
    reviews_waiting: int = 0  # scoped senders' sends and schedules waiting for staff
    oldest_review_age: float = 0.0  # seconds the oldest of them has waited


Label = TypeVar("Label", bound=str)  # a status, a state, a job's name


def _by_label(
    name: str, description: str, label: str, values: Mapping[Label, float]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, description, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], float(value))
    return family


class _DatabaseCollector(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        yield _by_label(
            "herald_deliveries", "Deliveries in the outbox by status", "status", s.deliveries
        )
        yield GaugeMetricFamily(
            "herald_deliveries_queued",
            "Deliveries still to be sent (pending)",
            value=s.deliveries.get(DeliveryStatus.PENDING, 0),
        )
        yield GaugeMetricFamily(
            "herald_oldest_due_delivery_age_seconds",
            "How long the oldest delivery that is due has waited (0: none is due)",
            value=s.oldest_due_age,
        )
        yield _by_label("herald_messages", "Broadcast messages by state", "state", s.messages)
        yield _by_label(
            "herald_job_last_success_age_seconds",
            "Seconds since a periodic job (scheduler, directory_sync) last succeeded",
            "job",
            s.job_ages,
        )
        yield _by_label(
            "herald_job_last_duration_seconds", "How long a job's last run took", "job",
            s.job_durations,
        )  # fmt: skip
        yield _by_label(
            "herald_job_last_run_failed", "1 when a job's last run failed", "job",
            {job: 1.0 if failed else 0.0 for job, failed in s.job_failing.items()},
        )  # fmt: skip
        yield _by_label(
            "herald_directory_rows", "Rows of the directory by section (after the last sync)",
            "section", s.directory,
        )  # fmt: skip
        # Read from the bounces table, so it counts what every process and the
        # webhook recorded (and falls only when `herald prune` removes old ones).
        bounces = CounterMetricFamily(
            "herald_bounces", "Bounces recorded, by kind (hard, soft, complaint, unrecognised)",
            labels=["kind"],
        )  # fmt: skip
        for kind, number in sorted(s.bounces.items()):
            bounces.add_metric([kind], float(number))
        yield bounces
        yield GaugeMetricFamily(
            "herald_suppressed_addresses",
            "Addresses on the suppression list (never mailed)",
            value=s.suppressed,
        )
        yield GaugeMetricFamily(
            "herald_messages_waiting_for_review",
            "Scoped senders' sends and schedules waiting for staff review (SPEC 9)",
            value=s.reviews_waiting,
        )
        yield GaugeMetricFamily(
            "herald_oldest_review_wait_seconds",
            "How long the oldest request for review has waited (0: none waits)",
            value=s.oldest_review_age,
        )


def render(snapshot: Snapshot) -> bytes:
    """The Prometheus text for this scrape: every process's counters plus the snapshot."""
    registry: CollectorRegistry
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = CollectorRegistry()
        for collector in _own_collectors():
            registry.register(collector)
    registry.register(_DatabaseCollector(snapshot))
    return generate_latest(registry)


def _own_collectors() -> list[Collector]:
    return [MAIL_ATTEMPTS, SMTP_REPLIES, HTTP_REQUESTS, HTTP_DURATION, SLOW_CLIENTS, STREAMS_CUT]
