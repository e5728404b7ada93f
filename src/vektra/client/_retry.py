"""The retry and fail-over policy both clients follow, free of any transport.

Every call has a deadline shared by all its attempts. UNAVAILABLE moves the
client to the next address; idempotent calls (reads, and upsert/delete, which
write whole objects or tombstones) are then retried there, with a short
backoff once every address has been tried. Other calls (schema changes) may
have landed on the first attempt, so they are re-sent only when the request
provably never left the client (connection refused).

The clients own the loop (a blocking or an awaited call, a blocking or an
awaited sleep); `Attempts` makes every decision in it.
"""

from __future__ import annotations

import random
import time

import grpc

from vektra.common.errors import DeadlineExceeded
from vektra.common.grpc_errors import from_rpc_error

__all__ = ["Attempts", "attempts_allowed", "backoff_s", "is_unavailable", "never_sent"]

# gRPC core's messages for a call that failed before any byte was sent.
_UNSENT_MARKERS = ("failed to connect to all addresses", "DNS resolution failed")


def never_sent(exc: grpc.RpcError) -> bool:
    details = exc.details() if hasattr(exc, "details") else None
    return any(marker in (details or "") for marker in _UNSENT_MARKERS)


def attempts_allowed(retries: int, idempotent: bool, n: int, never_sent: bool) -> int:
    """How many attempts a call may make in all. Idempotent calls: 1 +
    retries, and at least one per address. Others: one, unless the request
    provably never left the client (connection refused), which is safe to
    send to each other address once."""
    if not retries:
        return 1
    if idempotent:
        return 1 + max(retries, n - 1)
    return n if never_sent else 1


def backoff_s(failures: int, n: int) -> float:
    """Pause after `failures` failed attempts over `n` addresses: none until a
    full round is done (an untried address deserves an immediate attempt),
    then jittered exponential, capped at 1 s."""
    if failures % n:
        return 0.0
    return min(1.0, 0.05 * 2.0 ** (failures // n)) * random.uniform(0.5, 1.0)


def is_unavailable(exc: grpc.RpcError) -> bool:
    """Whether the address looks down, so the client should move on."""
    return bool(exc.code() == grpc.StatusCode.UNAVAILABLE)


class Attempts:
    """The budget of one call: its deadline and how many attempts failed."""

    def __init__(
        self, method: str, *, timeout_s: float, retries: int, addresses: int, idempotent: bool
    ) -> None:
        self._method = method
        self._deadline = time.monotonic() + timeout_s
        self._retries = retries
        self._addresses = addresses
        self._idempotent = idempotent
        self._failures = 0

    def timeout(self) -> float:
        """The time left for the next attempt; raises `DeadlineExceeded` when
        none is left."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded(
                f"{self._method}: deadline passed after {self._failures} attempts"
            )
        return remaining

    def failed(self, exc: grpc.RpcError) -> float:
        """Count a failed attempt. Raises the typed error when the call must
        stop; otherwise returns how long to pause (0: retry at once), never
        past the deadline. Call from the `except` block that caught `exc`."""
        error = from_rpc_error(exc)
        if not is_unavailable(exc):
            raise error from exc
        self._failures += 1
        allowed = attempts_allowed(
            self._retries, self._idempotent, self._addresses, never_sent(exc)
        )
        if self._failures >= allowed:
            raise error from exc
        pause = backoff_s(self._failures, self._addresses)
        return max(0.0, min(pause, self._deadline - time.monotonic())) if pause else 0.0
