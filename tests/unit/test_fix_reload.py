"""What a configuration reload changes, decided from the two configurations alone."""

from __future__ import annotations

from fixbridge.config import BridgeConfig, parse_config
from fixbridge.fix.reload import restart_only_changes, session_changes


def config(*sessions: dict[str, object], **sections: object) -> BridgeConfig:
    return parse_config({"sessions": list(sessions), **sections})


A = {"name": "a", "sender_comp_id": "FB", "target_comp_id": "A"}
B = {"name": "b", "sender_comp_id": "FB", "target_comp_id": "B"}
C = {"name": "c", "sender_comp_id": "FB", "target_comp_id": "C"}


def test_sessions_are_matched_by_name_and_any_difference_is_a_change() -> None:
    running = config(A, B, C)
    new = config({**A, "scope": {"message_kinds": ["trades"]}}, C, {**B, "name": "b2"})
    changes = session_changes(running.sessions, new.sessions)
    assert [s.name for s in changes.added] == ["b2"]
    assert [s.name for s in changes.removed] == ["b"]
    assert [(old.name, new.scope.message_kinds) for old, new in changes.changed] == [
        ("a", ("trades",))
    ]
    assert [s.name for s in changes.kept] == ["c"]
    assert changes.summary() == "sessions added: b2; removed: b; changed: a; unchanged: 1"


def test_the_same_sessions_in_another_order_change_nothing() -> None:
    changes = session_changes(config(A, B).sessions, config(B, A).sessions)
    assert not changes.any and len(changes.kept) == 2


def test_a_new_start_from_alone_leaves_a_running_session_as_it_is() -> None:
    """start_from is read only when the journal first sees a session: a running one is known
    already, so its client is not logged out for it; a new session takes its start_from."""
    later = {**A, "start_from": "2026-11-21T09:30:00Z"}
    changes = session_changes(config(A).sessions, config(later, B).sessions)
    assert [s.name for s in changes.kept] == ["a"] and not changes.changed
    assert [str(s.start_from) for s in changes.added] == ["head"]


def test_sockets_journal_and_upstream_wait_for_a_restart_logging_does_not() -> None:
    running = config(A)
    new = config(A, fix={"port": 19878}, journal={"path": "other.db"}, log_level="DEBUG")
    assert restart_only_changes(running, new) == ["journal", "fix"]
    assert restart_only_changes(running, config(A, log_level="DEBUG")) == []
