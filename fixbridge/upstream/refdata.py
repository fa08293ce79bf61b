"""Every symbol's scales at start-up, from the exchange's instrument list, so positions never wait.

Position changes carry scaled integers but no scales (spec §4.6). The instrument-state stream
teaches them too, but only once it has connected and sent its snapshot; the exchange's own
guidance is to "use ListInstruments to get and cache the initial state for each instrument"
(market-data streaming guide). So the bridge reads ``RefDataAPI.ListInstruments`` once when it
starts, page by page (at most 1000 a page; the call is limited to 6 a minute, so it is never
repeated in a loop), for the configured symbols, and puts every usable pair of scales in the
:class:`~fixbridge.upstream.scales.ScaleBook`.

This is a head start, not a dependency: a refusal, an old exchange without the method or a
broken instrument is logged and the bridge goes on, learning the scales from the stream. It
never journals anything and never holds up a stream.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import grpc

from fixbridge.config import UpstreamConfig
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.instrument import instrument_scales
from fixbridge.proto.polymarket.v1 import refdata_pb2, refdata_pb2_grpc
from fixbridge.upstream.auth import TokenSource
from fixbridge.upstream.channel import open_channel
from fixbridge.upstream.scales import ScaleBook

log = logging.getLogger("fixbridge.upstream")

PAGE_SIZE: Final = 1000  # the largest page ListInstruments serves
MAX_PAGES: Final = 100  # 100,000 instruments: far more than the exchange lists
CALL_TIMEOUT_S: Final = 30.0


async def seed_scales(
    config: UpstreamConfig, scales: ScaleBook, token_source: TokenSource | None = None
) -> int:
    """Put the scales of every listed instrument in ``scales``; how many symbols it learned.

    Never raises for what the exchange answers: a refused or failed call is logged and 0 (or
    what the pages before it taught) is returned.
    """
    channel = open_channel(config)
    learned = 0
    try:
        stub: Any = refdata_pb2_grpc.RefDataAPIStub(channel)  # type: ignore[no-untyped-call]
        metadata = await token_source.metadata() if token_source is not None else None
        page_token = ""
        for _ in range(MAX_PAGES):
            request = refdata_pb2.ListInstrumentsRequest(
                page_size=PAGE_SIZE, page_token=page_token, symbols=list(config.symbols)
            )
            response = await stub.ListInstruments(
                request, metadata=metadata, timeout=CALL_TIMEOUT_S
            )
            learned += _learn(response.instruments, scales)
            page_token = response.next_page_token
            if response.eof or not page_token:
                break
    except grpc.aio.AioRpcError as exc:
        log.warning(
            "instrument list unavailable (%s: %s); scales come from the instrument stream",
            exc.code().name,
            exc.details(),
        )
    finally:
        await channel.close()
    if learned:
        log.info("scales of %d symbol(s) learned from RefDataAPI.ListInstruments", learned)
    return learned


def _learn(instruments: Any, scales: ScaleBook) -> int:
    learned = 0
    for instrument in instruments:
        if not instrument.symbol:
            continue
        try:
            price_scale, quantity_scale = instrument_scales(instrument)
        except NormalizationError as exc:
            log.warning("instrument list: %s: unusable scales (%s)", instrument.symbol, exc)
            continue
        scales.update(instrument.symbol, price_scale, quantity_scale)
        learned += 1
    return learned
