"""What a session receives for a settlement: the settlement message, the SecurityStatus of the
closed instrument with its outcome, a PositionReport with the settlement price for every
position in scope as it stood when the settlement was journaled, and (exchange profile, final
resolution) a MarketSettlementReport per account in scope; never another firm's position.

Expected values follow the issue and the exchange's market-data page: a YES resolution is a
settlement price of 1.00 ("settlement_px" 1000 with price_scale 1000), preliminary first, final
after; SettlPrice(730) is that price and PriorSettlPrice(734) the one set before it."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from fixbridge.config import ScopeConfig, SessionConfig
from fixbridge.fix.codec import split_fields
from fixbridge.fix.outbound import RenderCache, Rendered, render
from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.journal.store import JournalEvent, NewEvent
from fixbridge.normalize.instrument import InstrumentEvent, normalize_instrument
from fixbridge.normalize.position import PositionEvent
from fixbridge.normalize.settlement import Settlement
from fixbridge.normalize.style import Profile
from fixbridge.proto.polymarket.v1 import enums_pb2 as pb
from fixbridge.proto.polymarket.v1 import refdata_pb2
from tests.unit.test_journal_symbol_index import position, settlement

T0 = 1_795_000_000_000_000_000
KINDS = ("instruments", "positions", "settlements")


def expired(symbol: str, at: int) -> InstrumentEvent:
    message = refdata_pb2.Instrument(
        symbol=symbol, state=pb.INSTRUMENT_STATE_EXPIRED, price_scale=1000
    )
    return normalize_instrument(message, received_at_ns=at)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    j = SqliteJournal(tmp_path / "j.db")
    yield j
    j.close()


def put(
    journal: SqliteJournal, stream: str, event: InstrumentEvent | PositionEvent | Settlement
) -> JournalEvent:
    """Journal ``event`` as its stream's subscriber would; the stored event back."""
    if isinstance(event, InstrumentEvent):
        upstream_id, at = event.symbol, event.transact_time_ns
    elif isinstance(event, PositionEvent):
        upstream_id, at = event.upstream_id, event.update_time_ns
    else:
        upstream_id, at = event.upstream_id, event.set_time_ns or T0
    new = NewEvent(upstream_id, at, event.to_payload(), b"raw", decoded=event)
    (offset,) = journal.append(stream, [new], b"", T0).offsets
    (stored,) = journal.read_events(offset - 1, 1)
    return stored


def session(
    firms: tuple[str, ...] = (),
    kinds: tuple[str, ...] = KINDS,
    profile: Profile = Profile.EXCHANGE,
    symbols: tuple[str, ...] = (),
    reports: bool = True,
) -> SessionConfig:
    scope = ScopeConfig(firms=firms, message_kinds=kinds, symbols=symbols)  # type: ignore[arg-type]
    return SessionConfig(
        name="s", sender_comp_id="A", target_comp_id="B", scope=scope, fix_profile=profile,
        send_settlement_reports=reports,
    )


def fields(message: Rendered) -> dict[int, str]:
    return dict(split_fields(message.body))


def other_firm(symbol: str, net: str, at: int) -> PositionEvent:
    base = position("C", symbol, net, at)
    return PositionEvent(**{**_as_dict(base), "account": "firms/G/accounts/C", "firm": "G"})


def _as_dict(event: PositionEvent) -> dict[str, object]:
    return {name: getattr(event, name) for name in event.__dataclass_fields__}


@pytest.fixture
def resolved(journal: SqliteJournal) -> tuple[JournalEvent, JournalEvent]:
    put(journal, "instruments", expired("S", T0))
    put(journal, "positions", position("A", "S", "5", T0 + 1))
    put(journal, "positions", position("B", "S", "-2", T0 + 2))
    put(journal, "positions", other_firm("S", "1", T0 + 3))
    put(journal, "positions", position("A", "OTHER", "4", T0 + 4))
    preliminary = put(journal, "settlements", settlement("S", "1", True, T0 + 5))
    final = put(journal, "settlements", settlement("S", "1", False, T0 + 6))
    return preliminary, final


def test_a_preliminary_resolution_marks_every_position_in_scope(
    journal: SqliteJournal, resolved: tuple[JournalEvent, JournalEvent]
) -> None:
    preliminary, _ = resolved
    out = render(preliminary, session(firms=("F",)), memory=journal)
    # Before the final: no MarketSettlementReport, and no outcome on the SecurityStatus yet.
    assert [m.msg_type for m in out] == ["W", "AP", "AP"]
    reports = [fields(m) for m in out[1:]]
    assert [r[1] for r in reports] == ["A", "B"]  # firm G's account C never appears
    assert all(r[730] == "1" for r in reports)  # SettlPrice: the settlement price, $1.00
    assert all(734 not in r for r in reports)  # nothing was set before it
    own = {position("A", "S", "5", T0 + 1), position("B", "S", "-2", T0 + 2)}
    # A report of its own (PosMaintRptID), not a resend of the position's last report.
    assert not {r[721] for r in reports} & {p.upstream_id for p in own}
    assert not any("|" in r[721] for r in reports)
    # The report is of the day and time the price was set, not of the position's last change.
    assert {r[60] for r in reports} == {"20261118-11:06:40.000000005"}
    assert {r[715] for r in reports} == {"20261118"}
    assert not out[1].exchange_timed and out[0].exchange_timed


def test_the_final_resolution_adds_a_settlement_report_per_account(
    journal: SqliteJournal, resolved: tuple[JournalEvent, JournalEvent]
) -> None:
    _, final = resolved
    out = render(final, session(firms=("F",)), memory=journal)
    assert [m.msg_type for m in out] == ["W", "f", "AP", "AP", "UMS", "UMS"]
    assert any("YES won" in v for v in fields(out[1]).values())  # the outcome, now final
    assert all(fields(m)[734] == "1" for m in out[2:4])  # PriorSettlPrice: the preliminary's
    # Kalshi: YES holders get $1 a contract, NO holders (a short YES position) nothing.
    payouts = {fields(m)[20109]: fields(m)[1704] for m in out[4:]}
    assert payouts == {"A": "5", "B": "0"}
    assert len({fields(m)[721] for m in out[2:4]}) == 2
    everyone = render(final, session(), memory=journal)
    assert [m.msg_type for m in everyone].count("UMS") == 3  # A, B and firm G's C


@pytest.mark.parametrize(
    ("config", "types"),
    [
        (session(profile=Profile.FIX50SP2, firms=("F",)), ["W", "f", "AP", "AP"]),
        (session(reports=False), ["W", "f", "AP", "AP", "AP"]),
        (session(kinds=("settlements",)), ["W", "UMS", "UMS", "UMS"]),
        (session(kinds=("positions",), firms=("F",)), ["AP", "AP"]),
        (session(kinds=("instruments",)), ["f"]),
        (session(kinds=("executions", "trades")), []),
        (session(symbols=("OTHER",)), []),
    ],
)
def test_what_each_scope_receives_for_a_final_resolution(
    journal: SqliteJournal,
    resolved: tuple[JournalEvent, JournalEvent],
    config: SessionConfig,
    types: list[str],
) -> None:
    _, final = resolved
    assert [m.msg_type for m in render(final, config, memory=journal)] == types


def test_positions_are_those_journaled_before_the_settlement(
    journal: SqliteJournal, resolved: tuple[JournalEvent, JournalEvent]
) -> None:
    preliminary, _ = resolved
    before = render(preliminary, session(firms=("F",)), memory=journal)
    put(journal, "positions", position("A", "S", "9", T0 + 9))  # journaled after both
    put(journal, "positions", position("D", "S", "3", T0 + 9))
    again = render(preliminary, session(firms=("F",)), memory=journal)
    assert [m.body for m in again] == [m.body for m in before]


def test_a_position_carries_its_instruments_latest_settlement(
    journal: SqliteJournal, resolved: tuple[JournalEvent, JournalEvent]
) -> None:
    first = journal.read_events(0, 10)[1]  # A's position, before any settlement
    (plain,) = render(first, session(kinds=("positions",)), memory=journal)
    assert 730 not in fields(plain)
    later = put(journal, "positions", position("A", "S", "0", T0 + 9))
    (marked,) = render(later, session(kinds=("positions",)), memory=journal)
    assert (fields(marked)[730], fields(marked)[734]) == ("1", "1")


def test_a_daily_mark_is_no_resolution(journal: SqliteJournal) -> None:
    put(journal, "instruments", expired("M", T0))
    put(journal, "positions", position("A", "M", "2", T0 + 1))
    tier_2 = "SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_2"
    mark = Settlement("M", Decimal("0.42"), False, False, tier_2, "", T0 + 2)
    event = put(journal, "settlements", mark)
    out = render(event, session(), memory=journal)
    assert [m.msg_type for m in out] == ["W", "AP"]  # no outcome, no settlement report
    assert fields(out[1])[730] == "0.42"


def test_without_the_journal_a_settlement_is_the_message_alone(
    journal: SqliteJournal, resolved: tuple[JournalEvent, JournalEvent]
) -> None:
    _, final = resolved
    assert [m.msg_type for m in render(final, session())] == ["W"]


def test_a_shared_cache_renders_the_same_bytes(
    journal: SqliteJournal, resolved: tuple[JournalEvent, JournalEvent]
) -> None:
    cache = RenderCache()
    for event in resolved:
        alone = render(event, session(firms=("F",)), memory=journal)
        shared = render(event, session(firms=("F",)), cache=cache, memory=journal)
        again = render(event, session(firms=("F",)), cache=cache, memory=journal)
        assert [m.body for m in alone] == [m.body for m in shared] == [m.body for m in again]


def test_settlement_reports_take_the_position_held_when_the_price_was_set(
    journal: SqliteJournal,
) -> None:
    put(journal, "positions", position("A", "S", "5", T0 + 1))
    put(journal, "positions", position("B", "S", "3", T0 + 2))
    put(journal, "positions", position("C", "S", "0", T0 + 3))  # flat: nothing to settle
    # Journaled before the settlement, but changed after its set time (the contract closed).
    put(journal, "positions", position("A", "S", "0", T0 + 9))
    final = put(journal, "settlements", settlement("S", "1", False, T0 + 5))
    out = render(final, session(kinds=("settlements",)), memory=journal)
    held = {fields(m)[20109]: (fields(m)[704], fields(m)[1704]) for m in out[1:]}
    assert held == {"A": ("5", "5"), "B": ("3", "3")}


def test_a_corrected_final_price_reports_the_difference(journal: SqliteJournal) -> None:
    put(journal, "positions", position("A", "S", "5", T0 + 1))
    put(journal, "settlements", settlement("S", "1", False, T0 + 5))
    corrected = put(journal, "settlements", settlement("S", "0", False, T0 + 6))
    (_, report) = render(corrected, session(kinds=("settlements",)), memory=journal)
    # Kalshi's 1704 is a change of balance: $5 paid at YES, so -$5 when it becomes NO.
    assert (fields(report)[730], fields(report)[1704]) == ("0.00", "-5")


def test_a_correction_takes_back_what_an_account_flat_by_then_was_paid(
    journal: SqliteJournal,
) -> None:
    put(journal, "positions", position("A", "S", "5", T0 + 1))
    put(journal, "settlements", settlement("S", "1", False, T0 + 5))
    put(journal, "positions", position("A", "S", "0", T0 + 7))  # closed after the first final
    corrected = put(journal, "settlements", settlement("S", "0", False, T0 + 8))
    (_, report) = render(corrected, session(kinds=("settlements",)), memory=journal)
    # It held 5 at the first final ($5 at YES) and nothing at the second: -$5.
    assert (fields(report)[20109], fields(report)[704], fields(report)[1704]) == ("A", "0", "-5")


def test_a_report_for_a_settlement_shows_the_position_held_when_it_was_set(
    journal: SqliteJournal,
) -> None:
    put(journal, "positions", position("A", "S", "5", T0 + 1))
    put(journal, "positions", position("A", "S", "0", T0 + 20))  # after the set time
    final = put(journal, "settlements", settlement("S", "1", False, T0 + 10))
    (_, report, ums) = render(final, session(kinds=("positions", "settlements")), memory=journal)
    net = [v for t, v in split_fields(report.body) if t in (703, 704)]
    assert net[net.index("NET") + 1] == "5" and fields(ums)[704] == "5"


def test_the_outcome_survives_a_later_daily_mark(journal: SqliteJournal) -> None:
    put(journal, "settlements", settlement("S", "1", False, T0 + 5))
    tier_2 = "SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_2"
    put(journal, "settlements", Settlement("S", Decimal("1"), False, False, tier_2, "", T0 + 6))
    status = put(journal, "instruments", expired("S", T0 + 7))
    (message,) = render(status, session(kinds=("instruments",)), memory=journal)
    assert fields(message)[58] == "EXPIRED: YES won"


ROLL = 1_770_501_600_000_000_000  # 2026-02-07T22:00:00Z, 17:00 in New York: the day's roll


@pytest.mark.parametrize(
    ("resolution", "business_day"),
    # spec §1.4: the trade date rolls at 17:00 New York. A mark set at the roll closes the
    # day that ends there; a resolution at that instant belongs to the new day.
    [(False, "20260207"), (True, "20260208")],
)
def test_a_daily_mark_at_the_roll_belongs_to_the_day_it_closes(
    journal: SqliteJournal, resolution: bool, business_day: str
) -> None:
    put(journal, "positions", position("A", "S", "5", ROLL - 10**9))
    method = "SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_" + ("1" if resolution else "2")
    price = Settlement("S", Decimal("0.62"), False, resolution, method, "", ROLL)
    event = put(journal, "settlements", price)
    (report,) = render(event, session(kinds=("positions",)), memory=journal)
    assert fields(report)[715] == business_day
