"""The acceptor's meters: bounded labels, counts derived from what was written, lag in seconds;
and the journal's two operational reads (writable? how big?)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixbridge.fix.codec import encode_fields, frame
from fixbridge.fix.meters import SessionMeters, frame_msg_type, msg_type_label
from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.journal.store import JournalError
from fixbridge.ops.metrics import Metrics


def value(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_msg_type_labels_are_known_fix_types_or_other() -> None:
    assert [msg_type_label(t) for t in ("8", "AE", "A", "0", "j", "ZZ", "", "8\x00")] == [
        "8",
        "AE",
        "A",
        "0",
        "j",
        "other",
        "other",
        "other",
    ]


def test_frame_msg_type_reads_tag_35_of_a_built_frame() -> None:
    header = encode_fields([(49, "B"), (56, "C"), (34, "7"), (52, "20260101-00:00:00")])
    assert frame_msg_type(frame("AE", header, b"")) == "AE"
    assert frame_msg_type(frame("4", header, encode_fields([(123, "Y")]))) == "4"
    assert frame_msg_type(b"garbage") == ""


def test_sent_and_received_count_by_type_and_rejects_by_kind() -> None:
    metrics = Metrics()
    meters = SessionMeters(metrics, "s")
    meters.sent("8", 3)
    meters.sent("3")
    meters.sent("j")
    for msg_type in ("0", "2", "3", "j", "ZZ", "YY"):
        meters.received(msg_type)
    sent = "fixbridge_session_messages_sent_total"
    received = "fixbridge_session_messages_received_total"
    assert value(metrics, sent, session="s", msg_type="8") == 3
    assert value(metrics, "fixbridge_session_rejects_sent_total", session="s", kind="session") == 1
    assert value(metrics, "fixbridge_session_rejects_sent_total", session="s", kind="business") == 1
    assert value(metrics, received, session="s", msg_type="other") == 2
    assert value(metrics, "fixbridge_session_resend_requests_total", session="s") == 1
    rejects_received = "fixbridge_session_rejects_received_total"
    assert value(metrics, rejects_received, session="s", kind="session") == 1
    assert value(metrics, rejects_received, session="s", kind="business") == 1


def test_replayed_frames_are_counted_by_their_own_msg_type() -> None:
    metrics = Metrics()
    meters = SessionMeters(metrics, "s")
    header = encode_fields([(34, "1")])
    meters.sent_frames([frame("4", header, b""), frame("8", header, b""), frame("8", header, b"")])
    sent = "fixbridge_session_messages_sent_total"
    assert value(metrics, sent, session="s", msg_type="4") == 1
    assert value(metrics, sent, session="s", msg_type="8") == 2


def test_lag_is_seconds_from_each_time_to_the_write_and_never_negative() -> None:
    metrics = Metrics()
    meters = SessionMeters(metrics, "s")
    written = 10_000_000_000
    meters.written(written, [(written - 2_000_000, written - 500_000), (written + 5, written)])
    exchange = "fixbridge_lag_exchange_to_fix_write_seconds"
    receipt = "fixbridge_lag_receipt_to_fix_write_seconds"
    assert value(metrics, exchange + "_count", session="s") == 2
    assert value(metrics, exchange + "_sum", session="s") == pytest.approx(0.002)
    assert value(metrics, receipt + "_sum", session="s") == pytest.approx(0.0005)
    assert value(metrics, exchange + "_bucket", session="s", le="0.0005") == 1


def test_a_message_without_an_exchange_time_counts_for_the_receipt_lag_only() -> None:
    metrics = Metrics()
    meters = SessionMeters(metrics, "s")
    written = 10_000_000_000
    meters.written(written, [(None, written - 300_000_000)])
    exchange = "fixbridge_lag_exchange_to_fix_write_seconds"
    receipt = "fixbridge_lag_receipt_to_fix_write_seconds"
    assert value(metrics, exchange + "_count", session="s") == 0
    assert value(metrics, receipt + "_count", session="s") == 1
    assert value(metrics, receipt + "_sum", session="s") == pytest.approx(0.3)


def test_journal_write_check_passes_fails_with_a_reason_and_recovers(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.db", synchronous="normal")
    try:
        journal.check_writable(1)
        journal._wdb.execute("PRAGMA query_only=ON")  # as a read-only file system would
        with pytest.raises(JournalError, match="not writable"):
            journal.check_writable(2)
        assert not journal._db.in_transaction
        journal._wdb.execute("PRAGMA query_only=OFF")
        journal.check_writable(3)
    finally:
        journal.close()


def test_journal_size_counts_the_database_and_its_wal(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = SqliteJournal(path, synchronous="normal")
    try:
        journal.check_writable(1)
        wal = tmp_path / "j.db-wal"
        assert wal.exists()
        assert journal.size_bytes() == path.stat().st_size + wal.stat().st_size > 0
    finally:
        journal.close()
