"""``/metrics`` in Prometheus' text format (through ``prometheus_client``): requests by route and
status, latency histograms by route, and the version each route serves.

With several workers, each worker is a process with its own counters: the server then points
``PROMETHEUS_MULTIPROC_DIR`` at a directory they share, and any worker's ``/metrics`` sums them
all (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class ServingMetrics:
    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = None if self.multiprocess else CollectorRegistry()
        registry = {} if self.multiprocess else {"registry": self.registry}
        self.requests = Counter("sparktrack_serving_requests", "Requests answered, by route and status.",
                                ["endpoint", "route", "status"], **registry)
        self.latency = Histogram("sparktrack_serving_request_seconds",
                                 "Time from a request's arrival to its response, by route.",
                                 ["endpoint", "route"], buckets=_BUCKETS, **registry)
        self.version = Gauge("sparktrack_serving_route_version", "The model version each route serves.",
                             ["endpoint", "route", "model"], multiprocess_mode="livemax", **registry)

    def observe(self, route: str | None, status: int, seconds: float) -> None:
        label = route or "-"
        self.requests.labels(self.endpoint, label, str(status)).inc()
        self.latency.labels(self.endpoint, label).observe(seconds)

    def serving(self, route: str, model: str, version: int | None) -> None:
        self.version.labels(self.endpoint, route, model).set(-1 if version is None else version)

    def render(self) -> bytes:
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
