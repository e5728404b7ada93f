"""The harness side of fault injection: the failpoint rules of one process.

A process started with fault injection on (`Cluster(..., failpoints=True)`)
serves `vektra.v1.Faults/SetFaults`, which replaces all of its rules at once
(see src/vektra/common/failpoints.py). `Faults` keeps the rules a test has
added to one process and sends the whole set on every change, so a test
adds and removes rules one at a time:

    node1 = cluster.faults("node-1")
    node1.drop("/vektra.v1.Node/Apply", caller="router-0")   # stays until cleared
    with node1.hold("/vektra.v1.Node/Fetch"):                 # removed (held calls
        ...                                                   # released) on exit
    node1.clear()

Only unary calls can be faulted (the interceptor leaves streams such as
ScanRange and WatchMap alone). Method names are checked against the
generated descriptors, so a typo fails at once instead of matching nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import TracebackType

import grpc
from google.protobuf import descriptor_pool

from vektra.v1 import coordinator_pb2, faults_pb2, faults_pb2_grpc, node_pb2, vektra_pb2

__all__ = ["Faults", "Installed", "Rule", "check_method"]

# Imported for their side effect: their services are then in the default pool.
_GENERATED = (coordinator_pb2, faults_pb2, node_pb2, vektra_pb2)
_CODES = frozenset(c.name for c in grpc.StatusCode)


@dataclass(frozen=True, slots=True)
class Rule:
    """One failpoint rule as the harness keeps it (see faults.proto)."""

    method: str
    action: str  # drop, hold, delay, fail
    caller: str = ""  # "" = any caller
    delay_ms: int = 0
    code: str = ""

    def to_pb(self) -> faults_pb2.FaultRule:
        return faults_pb2.FaultRule(
            method=self.method,
            caller=self.caller,
            action=self.action,
            delay_ms=self.delay_ms,
            code=self.code,
        )


def check_method(method: str) -> str:
    """`method` if it names an RPC of Vektra's protos (/vektra.v1.Node/Apply);
    ValueError otherwise."""
    service, _, name = method.removeprefix("/").partition("/")
    if not method.startswith("/") or not name:
        raise ValueError(f"a full method name looks like /vektra.v1.Node/Apply, not {method!r}")
    try:
        svc = descriptor_pool.Default().FindServiceByName(service)
    except KeyError:
        raise ValueError(f"{method!r}: there is no service {service!r}") from None
    if name not in svc.methods_by_name:
        known = ", ".join(sorted(svc.methods_by_name))
        raise ValueError(f"{method!r}: {service} has no method {name!r} (it has {known})")
    return method


class Installed:
    """A rule that was added; `remove()` (or leaving the `with` block) takes
    out just this rule, releasing the calls it held."""

    def __init__(self, faults: Faults, rule: Rule) -> None:
        self._faults = faults
        self.rule = rule

    def remove(self) -> None:
        self._faults.remove(self.rule)

    def __enter__(self) -> Installed:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()


class Faults:
    """The failpoint rules of the process at `address` (named `process` in
    messages). Every change sends the whole accumulated set."""

    def __init__(self, process: str, address: str, timeout_s: float = 5.0) -> None:
        self.process = process
        self.address = address
        self.timeout_s = timeout_s
        self.matched = 0  # calls the process's rules matched since it started
        self._rules: list[Rule] = []
        self._lock = threading.Lock()

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(self._rules)

    def count(self) -> int:
        """How many calls the process's rules have matched since it started,
        asked now (by sending the same rules again, which leaves held calls
        held): `wait_until(lambda: faults.count() > n, ...)` tells when a
        call has reached a `hold`."""
        with self._lock:
            self._send(list(self._rules))
        return self.matched

    # ------------------------------------------------------------ adding

    def drop(self, method: str, caller: str | None = None) -> Installed:
        """Never answer `method` (from `caller`, or anyone): the caller's deadline passes."""
        return self.add(Rule(check_method(method), "drop", caller or ""))

    def hold(self, method: str, caller: str | None = None) -> Installed:
        """Hold `method` until this rule is removed, then let it proceed."""
        return self.add(Rule(check_method(method), "hold", caller or ""))

    def delay(self, method: str, ms: int, caller: str | None = None) -> Installed:
        """Let `method` proceed after `ms` milliseconds."""
        if ms < 0:
            raise ValueError(f"delay must be >= 0 ms, got {ms}")
        return self.add(Rule(check_method(method), "delay", caller or "", delay_ms=ms))

    def fail(self, method: str, code: str = "UNAVAILABLE", caller: str | None = None) -> Installed:
        """Fail `method` with the status `code` (a grpc.StatusCode name)."""
        if code not in _CODES or code == "OK":
            raise ValueError(f"{code!r} is not a failing grpc.StatusCode name")
        return self.add(Rule(check_method(method), "fail", caller or "", code=code))

    def add(self, rule: Rule) -> Installed:
        with self._lock:
            self._send([*self._rules, rule])
        return Installed(self, rule)

    # ------------------------------------------------------------ removing

    def remove(self, rule: Rule) -> None:
        """Take out one rule (its first occurrence); absent rules are ignored."""
        with self._lock:
            if rule in self._rules:
                rules = list(self._rules)
                rules.remove(rule)
                self._send(rules)

    def clear(self) -> None:
        """No rules: held calls proceed."""
        with self._lock:
            self._send([])

    def forget(self) -> None:
        """The process restarted without rules: drop the harness's record of
        them without calling it."""
        with self._lock:
            self._rules = []

    def __enter__(self) -> Faults:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.clear()

    # ------------------------------------------------------------ the call

    def _send(self, rules: list[Rule]) -> None:
        """SetFaults with `rules`; the record changes only once the process took them."""
        request = faults_pb2.SetFaultsRequest(rules=[r.to_pb() for r in rules])
        with grpc.insecure_channel(self.address) as channel:
            stub = faults_pb2_grpc.FaultsStub(channel)
            try:
                reply = stub.SetFaults(request, timeout=self.timeout_s)
            except grpc.RpcError as exc:
                code = exc.code().name if isinstance(exc, grpc.Call) else "?"
                hint = " (was it started with failpoints=True?)" if code == "UNIMPLEMENTED" else ""
                raise RuntimeError(
                    f"SetFaults on {self.process} at {self.address} failed: {code}{hint}"
                ) from exc
        self._rules = rules
        self.matched = reply.matched
