"""Prometheus metrics shared by every server role.

Named `vektra_<component>_<what>_<unit>`. Every RPC is counted and timed by
`vektra.common.interceptors.StatusInterceptor`.
"""

from __future__ import annotations

from typing import TypeVar

from prometheus_client import Counter, Histogram, start_http_server

__all__ = ["REQUESTS", "REQUEST_SECONDS", "serve_metrics"]

SelfT = TypeVar("SelfT")
ReqT = TypeVar("ReqT")
CtxT = TypeVar("CtxT")
R = TypeVar("R")

REQUESTS = Counter(
    "vektra_requests_total",
    "RPCs handled, by component, method and status code",
    ["component", "method", "code"],
)
REQUEST_SECONDS = Histogram(
    "vektra_request_duration_seconds",
    "RPC handling time",
    ["component", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def serve_metrics(listen: str) -> int:
    """Expose /metrics over HTTP on host:port; returns the bound port."""
    host, _, port = listen.rpartition(":")
    server, _thread = start_http_server(int(port), addr=host or "0.0.0.0")
    return int(server.server_port)
