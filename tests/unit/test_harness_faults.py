"""The harness's failpoint client (tests/harness/faults.py) without a
server: method names checked against the protos, and the rule set each
change sends (every change replaces all of a process's rules)."""

from __future__ import annotations

import pytest

from tests.harness.faults import Faults, Rule, check_method

APPLY = "/vektra.v1.Node/Apply"
FETCH = "/vektra.v1.Node/Fetch"


class Recorded(Faults):
    """Faults whose SetFaults is a list of the rule sets it would send."""

    def __init__(self) -> None:
        super().__init__("node-1", "127.0.0.1:1")
        self.sent: list[list[Rule]] = []

    def _send(self, rules: list[Rule]) -> None:
        self.sent.append(list(rules))
        self._rules = rules


def test_method_names_are_checked_against_the_protos() -> None:
    assert check_method(APPLY) == APPLY
    assert check_method("/vektra.v1.Coordinator/GetMap")
    assert check_method("/vektra.v1.Vektra/Upsert")
    with pytest.raises(ValueError, match="no method 'Aply'"):
        check_method("/vektra.v1.Node/Aply")
    with pytest.raises(ValueError, match=r"no service 'vektra\.v1\.Nod'"):
        check_method("/vektra.v1.Nod/Apply")
    with pytest.raises(ValueError, match="full method name"):
        check_method("Node/Apply")


def test_each_change_sends_the_whole_accumulated_set() -> None:
    f = Recorded()
    f.drop(APPLY, caller="router-0")
    f.delay(FETCH, 250)
    f.fail(APPLY, "DEADLINE_EXCEEDED")
    assert f.sent == [
        [Rule(APPLY, "drop", "router-0")],
        [Rule(APPLY, "drop", "router-0"), Rule(FETCH, "delay", delay_ms=250)],
        [
            Rule(APPLY, "drop", "router-0"),
            Rule(FETCH, "delay", delay_ms=250),
            Rule(APPLY, "fail", code="DEADLINE_EXCEEDED"),
        ],
    ]
    f.clear()
    assert f.sent[-1] == [] and f.rules == ()


def test_a_rule_added_in_a_with_block_is_removed_on_leaving_it() -> None:
    f = Recorded()
    f.drop(APPLY)
    with f.hold(FETCH) as held:
        inside = f.rules
    assert inside == (Rule(APPLY, "drop"), held.rule)
    assert f.rules == (Rule(APPLY, "drop"),)
    assert f.sent[-1] == [Rule(APPLY, "drop")]


def test_the_process_form_clears_everything_on_leaving() -> None:
    f = Recorded()
    with f:
        f.drop(APPLY)
        f.hold(FETCH)
    assert f.rules == () and f.sent[-1] == []


def test_forget_drops_the_record_without_a_call() -> None:
    f = Recorded()
    f.drop(APPLY)
    f.forget()
    assert f.rules == () and len(f.sent) == 1
    f.hold(FETCH)
    assert f.sent[-1] == [Rule(FETCH, "hold")], "the old process's rules are not sent again"


def test_bad_arguments_fail_before_any_call() -> None:
    f = Recorded()
    with pytest.raises(ValueError, match=r"grpc\.StatusCode"):
        f.fail(APPLY, "NOPE")
    with pytest.raises(ValueError, match=r"grpc\.StatusCode"):
        f.fail(APPLY, "OK")
    with pytest.raises(ValueError, match=">= 0 ms"):
        f.delay(APPLY, -1)
    assert f.sent == []


def test_a_process_without_fault_injection_says_so() -> None:
    # Nothing listens on port 1: the call fails, and the record is unchanged.
    f = Faults("node-1", "127.0.0.1:1", timeout_s=1)
    with pytest.raises(RuntimeError, match=r"SetFaults on node-1 at 127\.0\.0\.1:1 failed"):
        f.drop(APPLY)
    assert f.rules == ()


def test_count_asks_the_process_with_the_same_rules() -> None:
    f = Recorded()
    f.hold(APPLY)
    f.matched = 3  # as a reply would set it
    assert f.count() == 3
    assert f.sent == [[Rule(APPLY, "hold")], [Rule(APPLY, "hold")]]
