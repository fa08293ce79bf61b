"""Each symbol's price and quantity scales, learned from the instrument stream.

Position changes carry scaled integers but no scales; the instrument stream sends a snapshot
of every instrument on each connect, so the scales arrive quickly. A position for a symbol
whose scales are not known yet waits for them here (bounded) instead of being guessed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


class ScaleBook:
    def __init__(self) -> None:
        self._scales: dict[str, tuple[int, int]] = {}
        self._changed = asyncio.Event()

    def update(self, symbol: str, price_scale: int, quantity_scale: int) -> None:
        if self._scales.get(symbol) != (price_scale, quantity_scale):
            self._scales[symbol] = (price_scale, quantity_scale)
            self._changed.set()
            self._changed = asyncio.Event()

    def get(self, symbol: str) -> tuple[int, int] | None:
        return self._scales.get(symbol)

    async def wait_for(self, symbols: Iterable[str], timeout: float) -> bool:
        """True once every symbol has scales; False if ``timeout`` seconds pass first."""
        wanted = set(symbols)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not wanted <= self._scales.keys():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                # asyncio.timeout: on 3.11 wait_for can swallow a cancellation.
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                return False
        return True
