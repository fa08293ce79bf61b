"""The ingest path's fast paths give exactly what the general paths give.

Payload encoding (pydantic-core's writer for plain values, ``json.dumps`` of the converted
document otherwise), the trade date's per-hour cache, and the journal append that inserts a
response's events with one statement and reads back which of them were new.
"""

from __future__ import annotations

import dataclasses
import json
import zoneinfo
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.journal.store import NewEvent, OrderRecord
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.execution import CODEC as EXECUTION_CODEC
from fixbridge.normalize.execution import ExecutionEvent
from fixbridge.normalize.fills import Fill, OrderTotals
from fixbridge.normalize.tradedate import checked_trade_date, trade_date
from fixbridge.simulator.market import MarketModel
from fixbridge.upstream.streams import NO_MEMORY, executions_to_events

_NS = 1_000_000_000


def general(event: ExecutionEvent) -> bytes:
    """The general path: the converted document through json.dumps."""
    document = EXECUTION_CODEC.document(event)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sample_events() -> list[ExecutionEvent]:
    model, now, made = MarketModel(7), 1_795_000_000_000_000_000, []
    while len(made) < 400:
        now += 1_000_000
        made += model.step(now).executions
    return [e.decoded for e in executions_to_events(made, NO_MEMORY)]  # type: ignore[misc]


def test_market_model_payloads_are_the_general_encoding() -> None:
    for event in sample_events():
        assert event.to_payload() == general(event)
        assert ExecutionEvent.from_payload(event.to_payload()) == event


TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)  # no lone surrogates
DECIMALS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=None),
    st.sampled_from([Decimal("-0"), Decimal("1E+5"), Decimal("0E-8"), Decimal("1e-30")]),
)


@settings(max_examples=300, deadline=None)
@given(
    text=TEXT, ident=TEXT, number=st.integers(-(2**80), 2**80), price=DECIMALS,
    quantity=st.one_of(st.none(), DECIMALS), flag=st.one_of(st.none(), st.booleans()),
)  # fmt: skip
def test_any_plain_values_encode_as_the_general_path(
    text: str, ident: str, number: int, price: Decimal, quantity: Decimal | None,
    flag: bool | None,
) -> None:  # fmt: skip
    base = sample_events()[0]
    event = dataclasses.replace(
        base, exec_id=ident, text=text or None, transact_time_ns=number, price=price,
        min_qty=quantity, manual_order_indicator=flag, cl_ord_id=text,
    )  # fmt: skip
    assert event.to_payload() == general(event)


def test_a_value_with_no_encoding_is_still_refused() -> None:
    event = dataclasses.replace(sample_events()[0], price=0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        event.to_payload()


NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def edges() -> list[int]:
    """Instants around rolls and clock changes, and the ends of the range."""
    out = [1, 253_402_300_799 * _NS]
    for year in (1970, 2026, 9999):
        for month, day in ((3, 8), (11, 1), (12, 31)):
            for hour in (1, 2, 3, 16, 17, 21, 22, 23):
                local = datetime(year, month, day, hour, tzinfo=NEW_YORK)
                base = int(local.timestamp()) * _NS
                out += [base - _NS, base - 1, base, base + 1, base + 59 * 60 * _NS]
    return out


def same_trade_date(ns: int) -> None:
    """The cached answer is the uncached one, a refusal included."""
    try:
        expected: Any = trade_date(ns)
    except ValueError:
        expected = NormalizationError
    try:
        got: Any = checked_trade_date(ns, "transact_time")
    except NormalizationError:
        got = NormalizationError
    assert got == expected


@pytest.mark.parametrize("ns", edges())
def test_cached_trade_date_is_the_trade_date(ns: int) -> None:
    same_trade_date(ns)


@settings(max_examples=500, deadline=None)
@given(st.integers(1, 253_402_300_799 * _NS))
def test_cached_trade_date_is_the_trade_date_anywhere(ns: int) -> None:
    same_trade_date(ns)


def order(order_id: str, cl: str, at: int, fill: str | None) -> OrderRecord:
    totals = OrderTotals(at, "1", Decimal(10), Decimal(at), Decimal(10 - at), Decimal(at))
    filled = None if fill is None else Fill(fill, Decimal(1), Decimal("0.5"), at)
    return OrderRecord(order_id, cl, totals, filled)


def test_append_in_one_statement_finds_the_new_events_and_their_offsets(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.db", synchronous="normal")
    try:
        journal.append("trades", [NewEvent("a", 1, b"{}", b"r")], b"t0", 1)
        first = journal.append(
            "executions",
            [
                NewEvent("a", 1, b"{}", b"r", order=order("o1", "c1", 1, "a")),
                NewEvent("b", 2, b"{}", b"r", order=order("o1", "c2", 2, "b")),
                NewEvent("a", 3, b"{}", b"r2", order=order("o1", "c9", 3, None)),  # repeated
            ],
            b"t1",
            5,
        )
        assert (first.stored, first.duplicates) == (2, 1)
        assert first.offsets == (2, 3, 0) and first.head_offset == 3
        second = journal.append(
            "executions",
            [
                NewEvent("b", 2, b"{}", b"r", order=order("o1", "c7", 7, None)),  # journaled
                NewEvent("c", 4, b"{}", b"r", order=order("o1", "", 4, "c")),
            ],
            b"t2",
            6,
        )
        # An ignored insert uses up an offset (AUTOINCREMENT), as it always did: gaps are fine.
        assert second.offsets == (0, 6) and (second.stored, second.duplicates) == (1, 1)
        known = journal.latest_orders(["o1"])["o1"]
        # Totals of the newest execution stored; ClOrdID kept when the new one has none.
        assert known.cl_ord_id == "c2" and known.totals.transact_time_ns == 4
        assert [f.exec_id for f in journal.order_fills(["o1"])["o1"]] == ["a", "b", "c"]
        assert journal.resume_token("executions") == b"t2"
        assert journal.read_events(1, 10)[0].payload == b"{}"
        assert [e.upstream_id for e in journal.read_events(0, 10)] == ["a", "a", "b", "c"]
        empty = journal.append("executions", [], b"t3", 7)
        assert (empty.stored, empty.head_offset, empty.offsets) == (0, 6, ())
    finally:
        journal.close()


def test_with_orig_cl_ord_id_is_replace() -> None:
    for event in sample_events()[:50]:
        for orig in ("previous", None):
            linked = event.with_orig_cl_ord_id(orig)
            replaced = dataclasses.replace(event, orig_cl_ord_id=orig)
            assert linked == replaced and linked.to_payload() == replaced.to_payload()
