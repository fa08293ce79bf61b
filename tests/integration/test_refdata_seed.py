"""Start-up scales from RefDataAPI.ListInstruments, against the simulated exchange over gRPC."""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest

from fixbridge.config import UpstreamConfig
from fixbridge.simulator.faults import FaultPlan
from fixbridge.simulator.server import SimulatorThread
from fixbridge.upstream.refdata import seed_scales
from fixbridge.upstream.scales import ScaleBook

pytestmark = pytest.mark.integration


def _seed(port: int, symbols: tuple[str, ...] = ()) -> tuple[int, ScaleBook]:
    config = UpstreamConfig(target=f"127.0.0.1:{port}", symbols=symbols)
    scales = ScaleBook()
    learned = asyncio.run(seed_scales(config, scales))
    return learned, scales


def test_every_listed_symbol_teaches_its_scales() -> None:
    with SimulatorThread(seed=3, rate=0, max_executions=0) as sim:
        listed = {i.symbol: (i.price_scale, i.fractional_qty_scale or 1)
                  for i in sim.instruments()}  # fmt: skip
        learned, scales = _seed(sim.port)
    assert learned == len(listed) == 8
    for symbol, pair in listed.items():
        assert scales.get(symbol) == pair
    assert {pair for pair in listed.values()} >= {(100, 1), (1000, 100)}  # both kinds of scale


def test_the_configured_symbols_only() -> None:
    with SimulatorThread(seed=3, rate=0, max_executions=0) as sim:
        wanted = sim.instruments()[0].symbol
        learned, scales = _seed(sim.port, (wanted,))
    assert learned == 1 and scales.get(wanted) is not None


def test_a_refused_list_is_logged_and_nothing_else_happens(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plan = FaultPlan(seed=1)
    plan.refuse_list_instruments(1, grpc.StatusCode.PERMISSION_DENIED,
                                 "permission denied: missing required scope read:instruments")
    with (
        SimulatorThread(seed=3, rate=0, max_executions=0, faults=plan) as sim,
        caplog.at_level(logging.WARNING, logger="fixbridge.upstream"),
    ):
        learned, scales = _seed(sim.port)
    assert learned == 0 and scales.get(sim.instruments()[0].symbol) is None
    assert "instrument list unavailable (PERMISSION_DENIED" in caplog.text
    assert "scales come from the instrument stream" in caplog.text
