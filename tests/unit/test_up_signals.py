"""`vektra up` stops on a signal that arrives at any moment (a bug found
while profiling issue 9: once, `vektra up` under load ignored SIGTERM until
it was killed, logging nothing).

A Python signal handler runs in the main thread between two bytecodes. The
main thread of `vektra up` spends its life in `stop.wait(0.25)`, and for a
few bytecodes of every call it holds the Event's own lock, which is not
reentrant: a handler that sets the Event there waits for that lock forever,
and every later signal's handler joins it. The signal is sent here, for
real, at exactly that moment, in a child interpreter with a deadline."""

from __future__ import annotations

import subprocess
import sys
import textwrap

_CHILD = textwrap.dedent(
    """
    import os, signal, threading
    from vektra.cli import up

    stop = threading.Event()
    with up._stop_signals(stop):
        with stop._cond:  # where stop.wait() is between its checks
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # bytecodes: the handler runs among them
                pass
        print("stopped" if stop.wait(10) else "not stopped", flush=True)
    # The handlers are restored on the way out.
    print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, flush=True)
    """
)


def test_a_stop_signal_inside_the_events_lock_still_stops_up() -> None:
    try:
        out = subprocess.run(
            [sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("the signal handler deadlocked on the stop Event's lock") from None
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["stopped", "True"]
