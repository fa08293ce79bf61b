"""How one FIX session wants journal events rendered: its per-session rendering choices.

The journal keeps normalized events, not FIX bytes, because sessions differ in what they want
on the wire. A :class:`RenderStyle` is built once per session from its configuration and
passed to every body renderer. It changes formatting and identifiers only, never which events
a session receives (that is the scope filter's job, in ``fix/outbound.py``).

Pure data: no I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from fixbridge.normalize.timestamps import Precision


class Profile(enum.StrEnum):
    """Which FIX dictionary generation a session's messages are written for (``fix_profile``).

    Each profile has its own QuickFIX dictionaries in specs/dictionaries/ (written by
    ``fixbridge dictionary``); what differs is tabled in ``normalize/profiles.py`` and
    specs/mapping.md.
    """

    # The tags and values of the exchange's own FIX drop copy (spec §2.2, 828 and 1057 on
    # ExecutionReports included), plus fixbridge's other message kinds: a client written for
    # the exchange's drop copy works unchanged. Needs a dictionary with the extension packs.
    EXCHANGE = "exchange"
    # Only what the original FIX 5.0 SP2 dictionary defines for each message (QuickFIX 1.15.1,
    # QuickFIX/J): a stock engine of that generation accepts every message.
    FIX50SP2 = "fix50sp2"
    # The current FIX (extension packs) where it has a more precise field or value.
    LATEST = "latest"


class Identifiers(enum.StrEnum):
    """How accounts, firms and users appear in Account(1) and PartyID(448)."""

    # As the exchange's own FIX drop copy sends them (spec §2.2: `1=account1`, PMX-assigned
    # proprietary ids): the last segment of the gRPC resource name, `firms/F/accounts/A` -> `A`.
    EXCHANGE = "exchange"
    # The full gRPC resource names, `firms/F/accounts/A`, unique across firms.
    RESOURCE_NAMES = "resource_names"


@dataclass(frozen=True, slots=True)
class RenderStyle:
    precision: Precision = Precision.NANOS  # fractional-second digits in UTCTimestamp fields
    identifiers: Identifiers = Identifiers.EXCHANGE
    # Realized P&L in the user-defined tag RealizedPnL (see normalize/position.py); FIX has no
    # standard PosAmtType for it, so it is sent only to sessions that ask for it.
    realized_pnl: bool = False
    profile: Profile = Profile.EXCHANGE


DEFAULT_STYLE = RenderStyle()
