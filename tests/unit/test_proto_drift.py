"""The committed generated modules are exactly what protos/ generates today."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixbridge.proto import generate

pytest.importorskip("grpc_tools")


def test_generated_code_matches_protos(tmp_path: Path) -> None:
    fresh = generate.generate(tmp_path)
    stale = []
    for path in fresh:
        rel = path.relative_to(tmp_path)
        committed = generate.PACKAGE_ROOT / rel
        if not committed.exists() or committed.read_text() != path.read_text():
            stale.append(str(rel))
    assert not stale, f"run `python -m fixbridge.proto.generate`; stale: {stale}"


def test_field_numbers_follow_the_exchange_contract() -> None:
    from fixbridge.proto.polymarket.v1 import trading_pb2

    order = trading_pb2.Order.DESCRIPTOR.fields_by_name
    execution = trading_pb2.Execution.DESCRIPTOR.fields_by_name
    assert order["price_scale"].number == 48
    assert order["fractional_quantity_scale"].number == 49
    assert order["good_till_time"].number == 34
    assert execution["trade_id"].number == 10
    assert execution["commission_notional_collected"].number == 12
    assert execution["transact_trade_date"].number == 16
