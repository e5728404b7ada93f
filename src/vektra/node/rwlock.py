"""A readers-writer lock whose readers may also agree on a shared setting.

hnswlib's search-time `ef` is a property of the index, not of a query. Readers
that want the same `ef` run together; a reader that wants another `ef` waits
until the current readers are done, then sets it. Writers (add, delete,
resize, save) are exclusive and are preferred over new readers so a stream of
searches cannot starve them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["RWLock"]


class RWLock:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0
        self._waiting = 0  # threads in a wait: nobody to wake when none
        self._setting: object = None

    def shared(
        self, setting: object = None, apply: Callable[[object], None] | None = None
    ) -> _Shared:
        """Hold the lock shared. With `setting`, every concurrent reader holds the
        same setting; `apply(setting)` runs (alone) when it has to change."""
        # A plain object, not a @contextmanager generator: every LMDB read and
        # every search takes this lock, and the generator cost 3 µs a use.
        return _Shared(self, setting, apply)

    def _enter_shared(self, setting: object, apply: Callable[[object], None] | None) -> None:
        with self._cond:
            while (
                self._writer
                or self._writers_waiting
                or (setting is not None and self._readers and self._setting != setting)
            ):
                self._wait()
            if setting is not None and self._setting != setting:
                if apply is not None:
                    apply(setting)
                self._setting = setting
            self._readers += 1

    def _exit_shared(self) -> None:
        with self._cond:
            self._readers -= 1
            # Condition.notify_all is Python code: skipped when nobody waits.
            if not self._readers and self._waiting:
                self._cond.notify_all()

    def _wait(self) -> None:
        """Wait for a change, holding the condition's lock (as its wait)."""
        self._waiting += 1
        try:
            self._cond.wait()
        finally:
            self._waiting -= 1

    def forget_setting(self) -> None:
        """The thing the setting applies to was replaced (call it holding the
        lock exclusive): the next reader with a setting applies it again."""
        self._setting = None

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                if self._waiting:
                    self._cond.notify_all()


class _Shared:
    """`RWLock.shared`'s context manager."""

    __slots__ = ("_apply", "_lock", "_setting")

    def __init__(
        self, lock: RWLock, setting: object, apply: Callable[[object], None] | None
    ) -> None:
        self._lock = lock
        self._setting = setting
        self._apply = apply

    def __enter__(self) -> None:
        self._lock._enter_shared(self._setting, self._apply)

    def __exit__(self, *exc_info: object) -> None:
        self._lock._exit_shared()
