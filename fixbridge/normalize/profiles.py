"""What each dictionary profile leaves out or writes differently: a pure table, and the one
function that applies it to a rendered body.

The body renderers write the ``exchange`` profile (the exchange's own FIX drop copy and
fixbridge's other message kinds); :func:`conform` then turns that body into the session's
profile. ``fix50sp2`` may only carry what the original FIX 5.0 SP2 dictionary (QuickFIX 1.15.1,
QuickFIX/J) defines for the message, so tags without a home there are left out and values that
dictionary lacks are replaced by the nearest one it has; specs/mapping.md says why for each.
Values that need the event's own facts (which cancel reason, which report of a trade) are
chosen by the renderers instead: ``enums.LATEST_*`` for ``latest`` (which has no entry here)
and ``enums.FIX50SP2_TRADE_REPORT_VERSION`` for a bust first reported to a fix50sp2 session.

Never adds a tag: a profile can only be narrower than, or as wide as, ``exchange``. Pure: no
I/O, no configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from fixbridge.normalize.body import Fields
from fixbridge.normalize.style import Profile

# Profile -> MsgType -> tags the profile's dictionary does not define in that message.
LEFT_OUT: Final[Mapping[Profile, Mapping[str, frozenset[int]]]] = {
    Profile.FIX50SP2: {
        # ExecutionReport has no TrdType, TrdSubType or SecondaryTrdType before the extension
        # packs; the TradeCaptureReport of the same trade carries them.
        "8": frozenset({828, 829, 855}),
        # SecurityStatus has no TradeDate; TransactTime (60) stays.
        "f": frozenset({75}),
        # PositionReport has no TransactTime, and PositionAmountData no PosAmtStreamDesc
        # (the entry's PosAmtType says which amount it is).
        "AP": frozenset({60, 2096}),
        # MarketDataSnapshotFullRefresh has no LastUpdateTime, and MDFullGrp no SettlPriceType:
        # the entry's MDEntryDate/MDEntryTime and OpenCloseSettlFlag (286) say the same.
        "W": frozenset({779, 731}),
    },
}

# Profile -> (MsgType, tag) -> value -> the value sent instead (None: the field is left out).
REPLACED: Final[Mapping[Profile, Mapping[tuple[str, int], Mapping[str, str | None]]]] = {
    Profile.FIX50SP2: {
        # SecurityStatus(965) is 1 Active or 2 Inactive only. Inactive is "was active, not
        # traded now, not expired, may become active again": a suspended or halted instrument
        # (9). Expired (4), delisted (5) and not yet active (10) are none of that, so 965 is
        # left out (it is optional); SecurityTradingStatus(326) and Text(58) say the state.
        ("f", 965): {"9": "2", "4": None, "5": None, "10": None},
        # TrdRptStatus(939) has no 2 Cancelled: a bust's report leaves it out; 487=1 Cancel
        # and 856=6 Trade Report Cancel (or 150=H on a first report) say the trade is void.
        ("AE", 939): {"2": None},
    },
}


def conform(profile: Profile, msg_type: str, body: Fields) -> Fields:
    """``body`` (rendered for the exchange profile) as ``profile`` sends it."""
    left_out = LEFT_OUT.get(profile, {}).get(msg_type, frozenset())
    replaced = REPLACED.get(profile, {})
    if not left_out and not replaced:
        return body
    out: Fields = []
    for tag, value in body:
        if tag in left_out:
            continue
        table = replaced.get((msg_type, tag))
        if table is not None and value in table:
            substitute = table[value]
            if substitute is None:
                continue
            value = substitute
        out.append((tag, value))
    return out
