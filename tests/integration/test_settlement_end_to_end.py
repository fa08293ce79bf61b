"""A resolution end to end: simulator (market data over gRPC) -> fixbridge (subprocess) ->
QuickFIX initiators with validation on, one per dictionary generation.

Expected values come from the simulator's own settlement and position logs and the documents,
never from the bridge's code: the exchange's market-data page (seed 003_6157fb6ab5205f94)
says ``settlement_px`` divided by the instrument's price_scale is the price, that
``settlement_preliminary`` true may still change and false is final, and that the method
SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_1 is the event's resolution (any other is a
daily mark). FIX 5.0 SP2 puts a settlement price in a MarketDataSnapshotFullRefresh (35=W)
entry with MDEntryType(269)=6 and OpenCloseSettlFlag(286): 3 "Expected entry" while the price
may still change, 2 "Delivery settlement entry" for the final resolution, 0 "Daily settlement
entry" for a daily mark (specs/mapping.md); a PositionReport's SettlPrice(730) is the price.
The MarketSettlementReport (35=UMS) follows Kalshi's published layout:
MarketSettlementPartyID(20109), LongQty(704), ShortQty(705), SettlPrice(730).
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest

from fixbridge.simulator.server import SimulatorThread
from tests.integration.bridge_proc import bridge_for
from tests.integration.oracle import short
from tests.integration.qfharness import FixMessage, QuickFixClient, quickfix_spec_dir
from tests.integration.test_end_to_end import _shipped_dictionaries

pytestmark = pytest.mark.integration

CLIENT, BRIDGE = "BACKOFFICE", "FIXBRIDGE"
LAL = "nba-lal-bos-2026-11-21-lal"  # the simulator's expiring contract
TIER_1 = "SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_1"
KINDS = ["instruments", "positions", "settlements"]


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.parametrize(
    ("profile", "dictionary"),
    [("exchange", "shipped"), ("fix50sp2", "1.15.1"), ("latest", "1.16.0")],
)
def test_a_resolution_reaches_quickfix_as_settlement_positions_and_reports(
    profile: str, dictionary: str, tmp_path: Path
) -> None:
    spec_dir = (
        _shipped_dictionaries(tmp_path, profile)
        if dictionary == "shipped"
        else quickfix_spec_dir(dictionary)
    )
    session = {
        "name": "backoffice", "sender_comp_id": BRIDGE, "target_comp_id": CLIENT,
        "fix_profile": profile, "scope": {"message_kinds": KINDS},
    }  # fmt: skip
    with SimulatorThread(seed=2, rate=500, max_executions=1_500, heartbeat_interval=0.5) as sim:
        bridge = bridge_for(tmp_path, sim.port, [session])
        with bridge:
            client = QuickFixClient(
                port=bridge.fix_port, sender=CLIENT, target=BRIDGE, workdir=tmp_path / "qf",
                spec_dir=str(spec_dir),
            )  # fmt: skip
            with client:
                client.wait_for_logon(timeout=20)

                def final_logged() -> bool:
                    return any(
                        c.symbol == LAL and c.settlement.method == TIER_1
                        and not c.settlement.preliminary
                        for c in sim.settlements()
                    )  # fmt: skip

                _wait(final_logged, 60, "the simulator's final resolution")

                def final_received() -> bool:
                    return any(
                        m.msg_type == "W" and m.get(55) == LAL and m.get(286) == "2"
                        for m in client.app_messages()
                    )

                _wait(final_received, 60, "the final settlement message")
                time.sleep(1.0)  # anything else the resolution yields arrives now
                received = client.app_messages()
                rejects = client.rejects_sent()
            assert bridge.stop() == 0, bridge.tail()
        logged = [c.settlement for c in sim.settlements() if c.symbol == LAL]
        lal = [i for i in sim.instruments() if i.symbol == LAL]
        ((scale, qty_scale),) = {(i.price_scale, i.fractional_qty_scale or 1) for i in lal}
        changes = [p for p in sim.position_changes() if p.position.symbol == LAL]

    assert rejects == [], f"QuickFIX ({profile}) rejected: {rejects[:3]}"
    final = logged[-1]
    assert final.method == TIER_1 and not final.preliminary
    price = Decimal(final.px) / scale

    # One settlement message per price the exchange set, in order, with its price and text.
    shown = [m for m in received if m.msg_type == "W" and m.get(55) == LAL]
    assert [(Decimal(m.get(270)), m.get(58)) for m in shown] == [
        (Decimal(s.px) / scale, s.text) for s in logged
    ]
    assert [m.get(269) for m in shown] == ["6"] * len(logged)
    expected_flags = ["3" if s.preliminary else "2" if s.method == TIER_1 else "0" for s in logged]
    assert [m.get(286) for m in shown] == expected_flags

    # The expired instrument's SecurityStatus carries the outcome.
    statuses = [m.get(58) for m in received if m.msg_type == "f" and m.get(55) == LAL]
    assert any(final.text in (text or "") for text in statuses), statuses

    # Every account holding the instrument gets a PositionReport at the final price.
    holders = {short(c.position.account) for c in changes}
    assert holders, "the scenario must hold positions in the resolved contract"
    marked = {
        m.get(1) for m in received
        if m.msg_type == "AP" and m.get(55) == LAL and m.get(730) is not None
        and Decimal(m.get(730)) == price
    }  # fmt: skip
    assert holders <= marked

    reports = [m for m in received if m.msg_type == "UMS"]
    if profile != "exchange":
        assert reports == []
        return
    _check_settlement_reports(reports, changes, final.set_time_ns, price, qty_scale)


def _check_settlement_reports(
    reports: list[FixMessage],
    changes: list[object],
    set_time_ns: int,
    price: Decimal,
    qty_scale: int,
) -> None:
    """One MarketSettlementReport per account holding the contract when the final price was
    set (its last change not after the set time; a flat account settles nothing, Kalshi:
    "Only net positions are settled"), with that position, the price in cents (Kalshi's 730)
    and the payout: YES holders $1 a contract at a YES outcome, NO holders (a short YES
    position) $1 at a NO outcome, i.e. long * price + short * (1 - price)."""
    net: dict[str, Decimal] = {}
    for change in changes:
        position = change.position  # type: ignore[attr-defined]
        at = position.update_time.seconds * 10**9 + position.update_time.nanos
        if at <= set_time_ns:
            net[short(position.account)] = Decimal(position.net_position) / qty_scale
    held = {account: qty for account, qty in net.items() if qty}
    by_account = {m.get(20109): m for m in reports if m.get(55) == LAL}
    assert set(by_account) == set(held)
    for account, report in by_account.items():
        long_qty, short_qty = Decimal(report.get(704)), Decimal(report.get(705))
        assert long_qty - short_qty == held[account], account
        assert Decimal(report.get(730)) == price * 100
        assert Decimal(report.get(1704)) == long_qty * price + short_qty * (1 - price)
