"""Hybrid logical clock versions.

A version is (physical_ms, logical, writer). Versions compare as tuples, so
last-writer-wins picks the highest HLC, never bare wall-clock time: two writes
in the same millisecond are ordered by the logical counter, and two writers
that tie on both are ordered by writer id, the same way on every replica.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ZERO", "HybridClock", "Version", "wall_clock_ms"]


@dataclass(frozen=True, slots=True, order=True)
class Version:
    physical_ms: int
    logical: int
    writer: str

    def as_tuple(self) -> tuple[int, int, str]:
        return (self.physical_ms, self.logical, self.writer)

    @classmethod
    def from_tuple(cls, t: tuple[int, int, str] | list[object]) -> Version:
        physical_ms, logical, writer = t
        return cls(int(physical_ms), int(logical), str(writer))  # type: ignore[call-overload]

    def __str__(self) -> str:
        return f"{self.physical_ms}.{self.logical}@{self.writer}"


ZERO = Version(0, 0, "")


def wall_clock_ms(offset_s: float = 0.0) -> Callable[[], int]:
    """The wall clock in ms, shifted by `offset_s` (a clock-skew fault in tests)."""
    offset_ns = round(offset_s * 1e9)
    return lambda: (time.time_ns() + offset_ns) // 1_000_000


class HybridClock:
    """Issues strictly increasing versions for one writer, and absorbs versions
    seen from others so that a later local write always wins over them."""

    def __init__(self, writer: str, now_ms: Callable[[], int] | None = None) -> None:
        self._writer = writer
        self._now_ms = now_ms or wall_clock_ms()
        self._physical = 0
        self._logical = 0
        self._lock = threading.Lock()

    @property
    def writer(self) -> str:
        return self._writer

    def now(self) -> Version:
        with self._lock:
            wall = self._now_ms()
            if wall > self._physical:
                self._physical, self._logical = wall, 0
            else:
                self._logical += 1
            return Version(self._physical, self._logical, self._writer)

    def observe(self, seen: Version) -> None:
        """Move the clock past a version seen elsewhere (or stored before a restart)."""
        with self._lock:
            if (seen.physical_ms, seen.logical) > (self._physical, self._logical):
                self._physical, self._logical = seen.physical_ms, seen.logical
