"""One keepalive policy for every gRPC channel and server of Vektra.

Channels ping an idle connection every `interval_s` so a dead peer (a killed
node, a coordinator behind a dropped connection) is noticed in seconds, not
at the next TCP timeout; long-lived streams (the routers' map watch) need it
most. A gRPC server, by default, counts a ping that comes sooner than five
minutes after the last one as a strike and after two strikes drops the
connection with GOAWAY "too_many_pings" — which is what the first admin call
after an idle spell used to fail with. So every server here accepts pings as
often as any of our channels sends them, with slack, and every channel pings
no more often than that.

The floor a server accepts never rises above the default's half: a server
configured with a longer interval must still accept clients (the SDK, other
processes) that run the default.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_INTERVAL_S", "Keepalive"]

DEFAULT_INTERVAL_S = 10.0


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


@dataclass(frozen=True, slots=True)
class Keepalive:
    interval_s: float = DEFAULT_INTERVAL_S  # ping an idle connection this often
    timeout_s: float = 5.0  # a ping unanswered this long closes the connection

    def __post_init__(self) -> None:
        if not (self.interval_s > 0 and self.timeout_s > 0):
            raise ValueError(f"keepalive interval and timeout must be > 0, got {self}")

    @property
    def accepted_interval_s(self) -> float:
        """The shortest gap between pings a server takes without a strike."""
        return min(self.interval_s, DEFAULT_INTERVAL_S) / 2

    def channel_options(self) -> list[tuple[str, int]]:
        return [
            ("grpc.keepalive_time_ms", _ms(self.interval_s)),
            ("grpc.keepalive_timeout_ms", _ms(self.timeout_s)),
            # Ping idle connections too (a watch waiting for the next map is
            # one), and keep pinging when no data flows: the default stops
            # after two pings without data, exactly when pings matter.
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
        ]

    def server_options(self) -> list[tuple[str, int]]:
        return [
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", _ms(self.accepted_interval_s)),
            ("grpc.http2.max_ping_strikes", 2),
            # The server pings its clients as well, so a stream to a client
            # that vanished (a killed router's watch) is closed.
            ("grpc.keepalive_time_ms", _ms(2 * self.interval_s)),
            ("grpc.keepalive_timeout_ms", _ms(self.timeout_s)),
        ]
