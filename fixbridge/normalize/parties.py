"""Who an event belongs to: firms, accounts and users, and how a session sees them in FIX.

Upstream names are gRPC resource names (spec §4.1): ``firms/<F>/accounts/<A>`` for a trading
account, ``firms/<F>/users/<U>`` for a user. The exchange's own FIX drop copy sends short,
exchange-assigned ids instead (spec §2.2: ``1=account1``; PartyIDs like
``20251118-yourfirm-api-account-1``, PartyIDSource D), so by default
(:attr:`Identifiers.EXCHANGE`) a resource name goes out as its last segment; a session may ask
for the full names (:attr:`Identifiers.RESOURCE_NAMES`), which are unique across firms.

Party roles, as the exchange's drop copy documents them (spec §2.2, Parties):

====  =====================  ==========================================================
452   meaning                upstream source
====  =====================  ==========================================================
1     executing firm         the firm of ``order.account`` (else of ``order.participant``)
3     client id (end client) ``order.client_participant_id``, when the order names one
24    customer account       ``order.account``
36    entering trader        ``order.participant``, the user who entered the order
38    position account       ``Position.account`` (PositionReport only)
====  =====================  ==========================================================

The exchange's role 1 is "clearing member or executing broker"; the gRPC Order names no
clearing member, so the participant firm, which executes its own orders, is sent.

Scope filters always compare full names and firm ids, whatever the style. Pure; never invents
an id: an empty upstream value sends no party.
"""

from __future__ import annotations

import functools
import re
from typing import Final

from fixbridge.normalize.body import Fields
from fixbridge.normalize.style import Identifiers, RenderStyle

ACCOUNT_NAME: Final = re.compile(r"firms/([^/]+)/accounts/([^/]+)")
_USER_NAME: Final = re.compile(r"firms/([^/]+)/users/.+")
_ANY_NAME: Final = re.compile(r"firms/[^/]+/[a-z]+/([^/]+)")

PARTY_ID_SOURCE_PROPRIETARY: Final = "D"
ROLE_EXECUTING_FIRM: Final = "1"
ROLE_CLIENT_ID: Final = "3"
ROLE_CUSTOMER_ACCOUNT: Final = "24"
ROLE_ENTERING_TRADER: Final = "36"
ROLE_POSITION_ACCOUNT: Final = "38"


@functools.lru_cache(maxsize=4096)
def firm_of(account: str, participant: str = "") -> str:
    """``F`` from ``firms/F/accounts/A``, else from ``firms/F/users/U``, else ``""``.
    Cached: a firm's few accounts and users come back with every execution."""
    for pattern, value in ((ACCOUNT_NAME, account), (_USER_NAME, participant)):
        match = pattern.fullmatch(value)
        if match:
            return match.group(1)
    return ""


def identifier(name: str, style: RenderStyle) -> str:
    """How ``name`` (a resource name such as ``firms/F/accounts/A``) appears to a session."""
    if style.identifiers is Identifiers.RESOURCE_NAMES:
        return name
    return short_name(name)


@functools.lru_cache(maxsize=65536)
def short_name(name: str) -> str:
    """The last segment of a resource name (the same few accounts and users come again and
    again: matched once each); what :func:`identifier` gives in the exchange style."""
    match = _ANY_NAME.fullmatch(name)
    return match.group(1) if match else name


def firm_identifier(firm: str, style: RenderStyle) -> str:
    """A firm id ``F`` as a session sees it: ``F``, or ``firms/F`` with resource names."""
    if firm and style.identifiers is Identifiers.RESOURCE_NAMES:
        return f"firms/{firm}"
    return firm


def parties(entries: list[tuple[str, str]]) -> Fields:
    """Parties component from (PartyID, PartyRole) pairs: 453, then 448, 447=D, 452 each.

    Pairs with an empty PartyID are left out; no parties at all sends no 453.
    """
    known = [(party_id, role) for party_id, role in entries if party_id]
    if not known:
        return []
    out: Fields = [(453, str(len(known)))]
    for party_id, role in known:
        out += [(448, party_id), (447, PARTY_ID_SOURCE_PROPRIETARY), (452, role)]
    return out


def order_parties(
    *, firm: str, end_client: str, account: str, participant: str, style: RenderStyle
) -> Fields:
    """The Parties of an order's ExecutionReport or TradeCaptureReport side."""
    return parties(
        [
            (firm_identifier(firm, style), ROLE_EXECUTING_FIRM),
            (identifier(end_client, style), ROLE_CLIENT_ID),
            (identifier(account, style), ROLE_CUSTOMER_ACCOUNT),
            (identifier(participant, style), ROLE_ENTERING_TRADER),
        ]
    )
