"""The journal's symbol index: what a settlement finds of the positions it marks, as of a
journal offset, and the migration that builds the index for a journal written before it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.journal.store import NewEvent
from fixbridge.normalize.position import PositionEvent
from fixbridge.normalize.settlement import Settlement


def position(account: str, symbol: str, net: str, at: int) -> PositionEvent:
    return PositionEvent(
        account=f"firms/F/accounts/{account}",
        firm="F",
        symbol=symbol,
        net_position=Decimal(net),
        bod_position=Decimal(0),
        bought=max(Decimal(net), Decimal(0)),
        sold=max(-Decimal(net), Decimal(0)),
        cost=Decimal(0),
        realized=Decimal(0),
        expired=False,
        price_scale=1000,
        quantity_scale=1,
        update_time_ns=at,
        clearing_business_date="20261205",
    )


def settlement(symbol: str, price: str, preliminary: bool, at: int) -> Settlement:
    method = "SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_1"
    return Settlement(symbol, Decimal(price), preliminary, True, method, "YES won", at)


def put(journal: SqliteJournal, stream: str, event: PositionEvent | Settlement) -> int:
    new = NewEvent(event.upstream_id, 1, event.to_payload(), b"raw", decoded=event)
    (offset,) = journal.append(stream, [new], b"", 1).offsets
    return offset


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    j = SqliteJournal(tmp_path / "j.db")
    yield j
    j.close()


def test_each_accounts_position_is_found_as_it_was_at_an_offset(journal: SqliteJournal) -> None:
    first = put(journal, "positions", position("A", "S", "5", 1))
    put(journal, "positions", position("B", "S", "2", 2))
    put(journal, "positions", position("A", "OTHER", "9", 3))
    mark = put(journal, "settlements", settlement("S", "1", True, 4))
    later = put(journal, "positions", position("A", "S", "7", 5))

    at_mark = journal.latest_by_account("positions", "S", mark)
    assert [PositionEvent.from_payload(e.payload).net_position for e in at_mark] == [5, 2]
    assert at_mark[0].offset == first
    now = journal.latest_by_account("positions", "S", later + 1)
    assert [PositionEvent.from_payload(e.payload).net_position for e in now] == [7, 2]
    assert journal.latest_by_account("positions", "S", first) == []


def test_settlements_of_a_symbol_newest_first(journal: SqliteJournal) -> None:
    put(journal, "settlements", settlement("S", "1", True, 1))
    put(journal, "settlements", settlement("T", "0", True, 1))
    changed = put(journal, "settlements", settlement("S", "0", True, 2))
    final = put(journal, "settlements", settlement("S", "0", False, 3))
    found = journal.latest_of_symbol("settlements", "S", final, 2)
    assert [e.offset for e in found] == [changed, changed - 2]
    assert [Settlement.from_payload(e.payload).price for e in found] == [0, 1]


def test_flagged_and_unreadable_events_are_not_indexed(journal: SqliteJournal) -> None:
    journal.append("positions", [NewEvent("x", 1, b"{}", b"raw", "no scale")], b"", 1)
    journal.append("positions", [NewEvent("y", 1, b"not json", b"raw")], b"", 1)
    assert journal.count_events("positions") == 2
    assert journal.latest_by_account("positions", "S", 100) == []


def test_a_version_5_journal_gets_its_index_from_the_events_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = SqliteJournal(path)
    offset = put(journal, "positions", position("A", "S", "3", 1))
    journal.close()
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE symbol_events; UPDATE meta SET value='5';")
    db.commit()
    db.close()

    journal = SqliteJournal(path)
    (found,) = journal.latest_by_account("positions", "S", offset + 1)
    assert found.offset == offset
    journal.close()
    db = sqlite3.connect(path)
    version = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    db.close()
    assert version == ("10",)


def test_symbol_events_are_read_in_journal_order_without_the_rest(journal: SqliteJournal) -> None:
    journal.append("executions", [NewEvent("e1", 1, b"{}", b"raw")], b"", 1)
    first = put(journal, "positions", position("A", "S", "5", 1))
    journal.append("executions", [NewEvent("e2", 1, b"{}", b"raw")], b"", 1)
    second = put(journal, "settlements", settlement("S", "1", True, 2))
    third = put(journal, "positions", position("B", "T", "1", 3))
    assert [e.offset for e in journal.read_symbol_events(0, 10)] == [first, second, third]
    assert [e.stream for e in journal.read_symbol_events(first, 1)] == ["settlements"]
