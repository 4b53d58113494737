"""Prometheus metrics of one app: requests, latency and documents by verdict. Labels never carry text.

Each app has its own registry, so several apps in one process (tests) do not share counters. With
``--workers N`` every worker process counts its own requests and a scrape reaches one of them.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from screening.results import ScreeningResult

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The service's counters and histogram, in their own registry."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, ready: Callable[[], bool]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("screening_http_requests", "HTTP requests answered, by route template and status.",
                                ("method", "route", "status"), registry=self.registry)
        self.latency = Histogram("screening_http_request_duration_seconds", "Time to answer an HTTP request.",
                                 ("method", "route"), buckets=LATENCY_BUCKETS, registry=self.registry)
        self.documents = Counter("screening_documents", "Documents screened, by profile and verdict "
                                 "('error' when a document could not be screened).", ("profile", "verdict"),
                                 registry=self.registry)
        self.ready = Gauge("screening_ready", "1 when every configured profile's engine is loaded.",
                           registry=self.registry)
        self.ready.set_function(lambda: 1.0 if ready() else 0.0)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request; ``route`` is the route template, never the raw path."""
        method = method if method in _METHODS else "OTHER"
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def observe_result(self, result: ScreeningResult) -> None:
        """Count one screened document by its verdict."""
        self.documents.labels(result.profile, "error" if result.error else (result.verdict or "none")).inc()

    def render(self) -> bytes:
        """The exposition text of every metric."""
        return generate_latest(self.registry)
