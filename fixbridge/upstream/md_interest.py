"""Which symbols the bridge wants settlement prices for, from the sessions and the journal.

A session wants settlements when its scope's message kinds include ``settlements`` (the
settlement facts themselves) or ``positions`` (a position report carries its settlement
price). For such a session the symbols are:

* its scope's ``symbols`` when it lists some (the symbols it can see);
* otherwise, with ``settlements``: every instrument the journal knows (the instrument stream
  lists them all), since a session unrestricted by symbol sees every market's settlement;
* otherwise (``positions`` only): the symbols where a position it can see (scope firms and
  accounts) is held, i.e. the account's latest net position is not zero.

``upstream.symbols``, when set, bounds all of it (the exchange is asked for nothing else). A
symbol leaves once its final resolution (an event resolution, not preliminary) is journaled:
no later settlement can follow it.

Pure: events in (the journal's ``stream`` name and payload), sets out; no I/O, no clock. It
never reads a flagged event (its payload is empty) and never guesses a symbol.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from decimal import Decimal
from typing import Final

from fixbridge.config import ScopeConfig, SessionConfig
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.instrument import InstrumentEvent
from fixbridge.normalize.position import PositionEvent
from fixbridge.normalize.settlement import Settlement

WANTS_SETTLEMENTS: Final = frozenset({"settlements", "positions"})
STREAMS_READ: Final = frozenset({"instruments", "positions", "settlements"})
"""The journal streams whose events change the interest; others can be skipped unread."""


def wants_settlements(session: SessionConfig) -> bool:
    return not WANTS_SETTLEMENTS.isdisjoint(session.scope.message_kinds)


def _sees(scope: ScopeConfig, firm: str, account: str) -> bool:
    return (not scope.firms or firm in scope.firms) and (
        not scope.accounts or account in scope.accounts
    )


class Interest:
    """What the journal has said so far about instruments, positions and final settlements."""

    def __init__(self) -> None:
        self.known: set[str] = set()  # every instrument the journal has listed
        self.settled: set[str] = set()  # symbols whose final resolution is journaled
        # (account, symbol) -> (firm, whether a position is held)
        self._positions: dict[tuple[str, str], tuple[str, bool]] = {}

    def observe(self, stream: str, payload: bytes) -> None:
        """Take one journaled, unflagged event into account; an undecodable payload is
        ignored (check-journal reports it)."""
        if stream not in STREAMS_READ or not payload:
            return
        try:
            if stream == "instruments":
                self.known.add(InstrumentEvent.from_payload(payload).symbol)
            elif stream == "positions":
                position = PositionEvent.from_payload(payload)
                held = position.net_position != Decimal(0)
                self._positions[(position.account, position.symbol)] = (position.firm, held)
            else:
                settlement = Settlement.from_payload(payload)
                if settlement.resolution and not settlement.preliminary:
                    self.settled.add(settlement.symbol)
        except NormalizationError:
            return

    def held(self, scope: ScopeConfig) -> set[str]:
        """Symbols where a position ``scope`` can see is held."""
        return {
            symbol
            for (account, symbol), (firm, held) in self._positions.items()
            if held and _sees(scope, firm, account)
        }

    def wanted(
        self, sessions: Iterable[SessionConfig], upstream_symbols: Collection[str] = ()
    ) -> frozenset[str]:
        """The symbols to subscribe (module rules)."""
        out: set[str] = set()
        for session in sessions:
            if not wants_settlements(session):
                continue
            scope = session.scope
            if scope.symbols:
                out.update(scope.symbols)
            elif "settlements" in scope.message_kinds:
                out.update(self.known)
            else:
                out.update(self.held(scope))
        if upstream_symbols:
            out.intersection_update(upstream_symbols)
        return frozenset(out - self.settled)
