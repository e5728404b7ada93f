"""The readers-writer lock the vector indexes hold (`node.rwlock`): readers
share it, a writer has it alone and goes before new readers, readers agree
on a setting, and every waiter is woken when what it waits for happens.

Threads wait on events, never on sleeps; a timeout only turns a deadlock
into a failure."""

from __future__ import annotations

import threading
from collections.abc import Callable

from vektra.node.rwlock import RWLock

TIMEOUT_S = 10.0


def _start(target: Callable[[], None]) -> threading.Thread:
    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t


def _waiting(lock: RWLock, n: int) -> None:
    """Until n threads wait inside the lock."""
    for _ in range(int(TIMEOUT_S * 1000)):
        with lock._cond:
            if lock._waiting >= n:
                return
        threading.Event().wait(0.001)
    raise AssertionError(f"{n} waiters never came")


def test_readers_share_and_a_writer_waits_for_them() -> None:
    lock = RWLock()
    wrote = threading.Event()

    def write() -> None:
        with lock.exclusive():
            wrote.set()

    with lock.shared(), lock.shared():  # two readers at once
        writer = _start(write)
        _waiting(lock, 1)
        assert not wrote.is_set()
    assert wrote.wait(TIMEOUT_S)  # woken by the last reader out
    writer.join(TIMEOUT_S)
    assert lock._waiting == 0


def test_a_waiting_writer_goes_before_new_readers() -> None:
    lock = RWLock()
    order: list[str] = []

    def write() -> None:
        with lock.exclusive():
            order.append("writer")

    def read() -> None:
        with lock.shared():
            order.append("reader")

    with lock.shared():
        writer = _start(write)
        _waiting(lock, 1)
        reader = _start(read)
        _waiting(lock, 2)  # the new reader waits behind the writer
    writer.join(TIMEOUT_S)
    reader.join(TIMEOUT_S)
    assert order == ["writer", "reader"]


def test_readers_woken_when_a_writer_leaves() -> None:
    lock = RWLock()
    done = threading.Barrier(4, timeout=TIMEOUT_S)

    def read() -> None:
        with lock.shared():
            pass
        done.wait()

    with lock.exclusive():
        readers = [_start(read) for _ in range(3)]
        _waiting(lock, 3)
    done.wait()  # every reader got in once the writer left
    for r in readers:
        r.join(TIMEOUT_S)


def test_readers_agree_on_a_setting() -> None:
    lock = RWLock()
    applied: list[object] = []
    entered = threading.Event()

    def read_with_64() -> None:
        with lock.shared(setting=64, apply=applied.append):
            entered.set()

    with lock.shared(setting=32, apply=applied.append):
        with lock.shared(setting=32, apply=applied.append):  # same setting: no wait
            assert applied == [32]
        other = _start(read_with_64)
        _waiting(lock, 1)  # another setting waits for the readers of this one
        assert not entered.is_set()
    assert entered.wait(TIMEOUT_S)
    other.join(TIMEOUT_S)
    assert applied == [32, 64]
