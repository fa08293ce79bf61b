#!/usr/bin/env python3
"""Write fixbridge's QuickFIX data dictionaries, one pair per ``fix_profile``: the stock ones of
the profile's FIX generation cut down to what fixbridge sends in that profile.

Usage: ``python specs/generate_dictionary.py --stock 1.16.0=DIR --stock 1.15.1=DIR [--out DIR]``.
Each DIR holds that QuickFIX release's stock FIXT11.xml and FIX50SP2.xml (its sdist's spec/);
:data:`PROFILE_STOCK` says which release each profile is cut from. The output folder (default:
this script's ``dictionaries/``, installed as the package ``fixbridge.dictionaries``) receives
``<profile>/FIXT11-fixbridge.xml`` (header, trailer, session messages) and
``<profile>/FIX50SP2-fixbridge.xml`` (the application messages), to be loaded as
TransportDataDictionary / AppDataDictionary.

What is kept is measured, not listed by hand:

* sent, application: the bodies the bridge renders in the profile for a seeded simulator run,
  through its own ingestion and rendering (:func:`simulator_messages`), each tag placed in the
  message or repeating group it belongs to;
* sent, session: the frames :class:`~fixbridge.fix.session.FixSession` writes in a scripted
  conversation (:func:`session_conversation`), BusinessMessageReject included;
* received: the tags FixSession reads from the client's frames in that conversation.

A message keeps exactly those fields, groups and components, in stock order with the stock
``required`` flags; a field keeps its full stock list of enum values. Components are shared in
QuickFIX, so a component keeps the union of what the messages using it need (Instrument thus
also declares SecurityStatus(965) and SecurityDesc(107), which only 35=f sends).

The cut is also a check: a tag the stock dictionary does not define where fixbridge sends it,
or a value outside the stock field's enum, stops the generator with the message, tag and
value, since the profile's stock dictionary would refuse it too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Final
from xml.sax.saxutils import escape

from fixbridge.config import ScopeConfig, SessionConfig
from fixbridge.fix.codec import FixMessage, FrameParser, encode_fields, frame, split_fields
from fixbridge.fix.credentials import hash_password
from fixbridge.fix.history import COMPLETE as EVENT_RESEND_COMPLETE
from fixbridge.fix.history import REJECT as EVENT_RESEND_REJECT
from fixbridge.fix.history import REQUEST as EVENT_RESEND_REQUEST
from fixbridge.fix.history import UNKNOWN_BEGIN, EventResendRequest, complete_body, reject_body
from fixbridge.fix.outbound import POSS_RESEND, SessionTradeHistory, render
from fixbridge.fix.session import (
    Action,
    FixSession,
    LogonPolicy,
    Resend,
    Send,
    SessionIdentity,
)
from fixbridge.journal.records import OutboundMessage
from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.journal.store import JournalEvent
from fixbridge.normalize.instrument import OUTCOME_STATES, InstrumentEvent, security_status_body
from fixbridge.normalize.position import REALIZED_PNL_TAG, PositionEvent, position_report_body
from fixbridge.normalize.settlement import EVENT_RESOLUTION, Settlement
from fixbridge.normalize.settlement_report import (
    MARKET_SETTLEMENT_MSG_TYPE,
    SETTLEMENT_MSG_TYPE,
    market_settlement_report_body,
    settlement_message_body,
)
from fixbridge.normalize.style import Identifiers, Profile, RenderStyle
from fixbridge.normalize.timestamps import Precision, format_utc_timestamp
from fixbridge.simulator.market import MarketModel
from fixbridge.upstream.scales import ScaleBook
from fixbridge.upstream.streams import build_stream_specs

STOCK_TRANSPORT: Final = "FIXT11.xml"
STOCK_APPLICATION: Final = "FIX50SP2.xml"
TRANSPORT_FILE: Final = "FIXT11-fixbridge.xml"
APPLICATION_FILE: Final = "FIX50SP2-fixbridge.xml"
DICTIONARIES: Final = Path(__file__).resolve().parent / "dictionaries"

# The QuickFIX release whose stock dictionaries each profile is cut from (and is validated
# against): 1.16 has the extension packs, 1.15.1 the original FIX 5.0 SP2 (as QuickFIX/J).
PROFILE_STOCK: Final[Mapping[Profile, str]] = {
    Profile.EXCHANGE: "1.16.0",
    Profile.FIX50SP2: "1.15.1",
    Profile.LATEST: "1.16.0",
}

# The simulator run that measures the application messages (deterministic: seed and clock).
SIM_SEED: Final = 7
SIM_STEPS: Final = 6_000
SIM_START_NS: Final = 1_795_000_000_000_000_000  # 2026-11-18
SIM_STEP_NS: Final = 20_000_000

# Message kinds rendered from upstream events; each has its own table in mapping.md.
EXECUTION_REPORT: Final = "ExecutionReport"
TRADE_CANCEL: Final = "ExecutionReport trade cancel"
TRADE_CAPTURE_REPORT: Final = "TradeCaptureReport"
SECURITY_STATUS: Final = "SecurityStatus"
POSITION_REPORT: Final = "PositionReport"
SETTLEMENT: Final = "MarketDataSnapshotFullRefresh"
MARKET_SETTLEMENT_REPORT: Final = "MarketSettlementReport"
KIND_MSG_TYPE: Final[Mapping[str, str]] = {
    EXECUTION_REPORT: "8",
    TRADE_CANCEL: "8",
    TRADE_CAPTURE_REPORT: "AE",
    SECURITY_STATUS: "f",
    POSITION_REPORT: "AP",
    SETTLEMENT: SETTLEMENT_MSG_TYPE,
    MARKET_SETTLEMENT_REPORT: MARKET_SETTLEMENT_MSG_TYPE,
}
# Kinds sent in some profiles only (every other kind is sent in all of them).
KIND_PROFILES: Final[Mapping[str, frozenset[Profile]]] = {
    MARKET_SETTLEMENT_REPORT: frozenset({Profile.EXCHANGE}),
}
SESSION_MSG_TYPES: Final = frozenset({"0", "1", "2", "3", "4", "5", "A"})
BUSINESS_MESSAGE_REJECT: Final = "j"

Body = tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class Rendered:
    """One application message body as fixbridge renders it (no header or trailer)."""

    kind: str
    body: Body

    @property
    def msg_type(self) -> str:
        return KIND_MSG_TYPE[self.kind]


def simulator_messages(
    profile: Profile = Profile.EXCHANGE, seed: int = SIM_SEED, steps: int = SIM_STEPS
) -> list[Rendered]:
    """Every message the bridge renders in ``profile`` for a simulator run, in every style.

    The run goes through the bridge's own ingestion (normalization, OrigClOrdID linking, bust
    settlement, instrument dedup, a journal) and rendering (fix/outbound.py) for a session that
    receives every message kind, at rotating precisions and both identifier styles, with
    realized P&L on.
    """
    model = MarketModel(seed)
    styles = [
        RenderStyle(precision, identifiers, realized_pnl=True, profile=profile)
        for identifiers in Identifiers
        for precision in Precision
    ]
    session = SessionConfig(
        name="dictionary",
        sender_comp_id="FIXBRIDGE",
        target_comp_id="BACKOFFICE",
        scope=ScopeConfig(message_kinds=("executions", "trades", "instruments", "positions")),
    )
    scales = ScaleBook()
    specs = build_stream_specs(scales)
    out: list[Rendered] = []
    now = SIM_START_NS
    with tempfile.TemporaryDirectory() as folder:
        journal = SqliteJournal(Path(folder) / "journal.db", synchronous="normal")
        history = SessionTradeHistory(journal, journal.load_session(session.name).origin_offset)
        try:
            for _ in range(steps):
                step = model.step(now)
                now += SIM_STEP_NS
                for stream, upstream in (
                    ("instruments", step.instruments),
                    ("executions", step.executions),
                    ("trades", step.trades),
                    ("positions", step.position_changes),
                ):
                    if upstream:
                        events = specs[stream].journal_events(upstream, journal, now)
                        journal.append(stream, events, b"", now)
            for event in _all_events(journal):
                style = styles[event.offset % len(styles)]
                for message in render(event, session, history, style):
                    body = split_fields(message.body)
                    out.append(Rendered(_kind(message.msg_type, body), body))
            out += settlement_messages(journal, styles)
        finally:
            journal.close()
    return out


# Settlements rendered over the run's positions and instrument states, in turn (their sessions
# are wired elsewhere; the renderers are measured here): the exchange's market-data guide's
# two examples (YES and NO won, the NO one without a set time), a preliminary price and a
# daily mark with neither method nor outcome.
_SET_NS: Final = 1_769_485_331_000_000_000  # 2026-01-27T03:42:11Z, the guide's YES example
SETTLEMENTS: Final = (
    (Decimal(1), False, EVENT_RESOLUTION, "Buffalo Bills win", _SET_NS),
    (Decimal(0), False, EVENT_RESOLUTION, "Kansas City Chiefs win", None),
    (Decimal("0.62"), True, EVENT_RESOLUTION, "Buffalo Bills lead", _SET_NS + 7),
    (Decimal("0.55"), False, "", "", _SET_NS + 123_456_789),
)
SETTLED_POSITIONS: Final = 64  # positions (and instrument states) rendered with a settlement


def _settlement(symbol: str, index: int) -> Settlement:
    price, preliminary, method, outcome, set_time = SETTLEMENTS[index % len(SETTLEMENTS)]
    return Settlement(symbol, price, preliminary, method == EVENT_RESOLUTION, method, outcome,
                      set_time)  # fmt: skip


def settlement_messages(journal: SqliteJournal, styles: Sequence[RenderStyle]) -> list[Rendered]:
    """Settlement messages for the first journaled positions and instrument states: per
    position a 35=W, the PositionReport it triggers and, in the exchange profile, a 35=UMS;
    per CLOSED, EXPIRED or TERMINATED instrument a SecurityStatus with the outcome."""
    out: list[Rendered] = []
    events = [e for e in _all_events(journal) if e.flagged is None]
    positions = [PositionEvent.from_payload(e.payload) for e in events if e.stream == "positions"]
    for index, position in enumerate(positions[:SETTLED_POSITIONS]):
        style = styles[index % len(styles)]
        settlement = _settlement(position.symbol, index)
        report_id = f"{position.upstream_id}:{settlement.report_key}"
        prior = Decimal("0.5") if index % 2 else None
        out.append(Rendered(SETTLEMENT, tuple(
            settlement_message_body(settlement, style, position.update_time_ns))))
        out.append(Rendered(POSITION_REPORT, tuple(
            position_report_body(position, style, settlement, prior, report_id,
                                 (position.update_time_ns, position.clearing_business_date)))))
        if style.profile is Profile.EXCHANGE:
            out.append(Rendered(MARKET_SETTLEMENT_REPORT, tuple(
                market_settlement_report_body(settlement, position, style, report_id,
                                              position.update_time_ns))))
    instruments = [InstrumentEvent.from_payload(e.payload) for e in events
                   if e.stream == "instruments"]  # fmt: skip
    settled = [event for event in instruments if event.state in OUTCOME_STATES]
    for index, instrument in enumerate(settled[:SETTLED_POSITIONS]):
        outcome = _settlement(instrument.symbol, index).outcome
        body = security_status_body(instrument, styles[index % len(styles)], outcome)
        out.append(Rendered(SECURITY_STATUS, tuple(body)))
    return out


def _all_events(journal: SqliteJournal) -> Iterable[JournalEvent]:
    offset = 0
    while batch := journal.read_events(offset, 1000):
        yield from batch
        offset = batch[-1].offset


def _kind(msg_type: str, body: Body) -> str:
    if msg_type == "8":
        return TRADE_CANCEL if dict(body).get(150) == "H" else EXECUTION_REPORT
    return {"AE": TRADE_CAPTURE_REPORT, "f": SECURITY_STATUS, "AP": POSITION_REPORT,
            SETTLEMENT_MSG_TYPE: SETTLEMENT,
            MARKET_SETTLEMENT_MSG_TYPE: MARKET_SETTLEMENT_REPORT}[msg_type]  # fmt: skip


# --- the session layer: a scripted conversation ----------------------------------------------

CLIENT: Final = "BACKOFFICE"
BRIDGE: Final = "FIXBRIDGE"
_T0: Final = 1_795_000_000_000_000_000
_S: Final = 1_000_000_000
_USERNAME, _PASSWORD = "backoffice", "drop-copy"


@dataclass(slots=True)
class Conversation:
    """What a scripted conversation with FixSession produced."""

    sent: list[bytes] = field(default_factory=list)  # every frame fixbridge wrote, in order
    read: set[tuple[str, int]] = field(default_factory=set)  # (MsgType, tag) read from client


def _recording_type(read: set[tuple[str, int]]) -> type[FixMessage]:
    """A FixMessage that notes every tag the session looks up in it."""

    class Recording(FixMessage):
        __slots__ = ()

        def get(self, tag: int) -> str | None:
            read.add((FixMessage.get(self, 35) or "", tag))
            return FixMessage.get(self, tag)

    return Recording


# Routing tags a client may put on what it sends (OnBehalfOf* and DeliverTo*); fixbridge's
# replies carry them reversed.
_ROUTING: Final = ((115, "OBO"), (116, "OBO-SUB"), (144, "OBO-LOC"),
                   (128, "DTO"), (129, "DTO-SUB"), (145, "DTO-LOC"))  # fmt: skip


def session_conversation(app: Sequence[Rendered]) -> Conversation:
    """Drive FixSession through logon, ``app`` sent live, heartbeats, test requests, a resend
    with gap fill, a session reject, business rejects (one of a routed message), sequence
    resets and logouts."""
    result = Conversation()
    recording = _recording_type(result.read)
    policy = LogonPolicy(_USERNAME, hash_password(_PASSWORD, salt=bytes(16)))

    def client(
        msg_type: str,
        seq: int,
        now: int,
        *fields: tuple[int, str],
        routing: Sequence[tuple[int, str]] = (),
    ) -> FixMessage:
        stamp = format_utc_timestamp(now, Precision.MILLIS)
        header = [(49, CLIENT), (56, BRIDGE), (34, str(seq)), *routing]
        if msg_type == "4":
            header += [(43, "Y"), (122, stamp)]
        header.append((52, stamp))
        (parsed,) = FrameParser().feed(
            frame(msg_type, encode_fields(header), encode_fields(fields))
        )
        assert isinstance(parsed, FixMessage)
        return recording(parsed.fields, parsed.raw)

    def run(actions: list[Action]) -> list[Resend]:
        result.sent += [action.data for action in actions if isinstance(action, Send)]
        return [action for action in actions if isinstance(action, Resend)]

    def logon(seq: int, password: str, now: int) -> FixMessage:
        return client(
            "A", seq, now, (98, "0"), (108, "30"), (141, "Y"), (789, "1"),
            (553, _USERNAME), (554, password), (1137, "9"),
        )  # fmt: skip

    session = FixSession(SessionIdentity(BRIDGE, CLIENT), policy=policy)
    now = _T0
    run(session.on_message(logon(1, _PASSWORD, now), now))
    stored: list[OutboundMessage] = []
    for message in app:
        body = encode_fields(message.body)
        send, sending_time = session.application_message(message.msg_type, body, now)
        result.sent.append(send.data)
        stored.append(OutboundMessage(send.seq, message.msg_type, sending_time, body))
    # Sent again under a new number after our numbers went backwards, or on request:
    # PossResend(97)=Y leads the body (fix/outbound.py possible_resends).
    again = POSS_RESEND + encode_fields(app[0].body)
    result.sent.append(session.application_message(app[0].msg_type, again, now)[0].data)
    run(session.on_message(client("1", 2, now, (112, "PING")), now))
    run(session.on_message(client("0", 3, now), now))
    run(session.on_tick(now + 31 * _S))  # quiet on our side: Heartbeat
    now += 37 * _S
    run(session.on_tick(now))  # quiet on the client's side: TestRequest
    run(session.on_message(client("0", 4, now, (112, "TEST1")), now))
    run(session.probe(now))  # a second Logon elsewhere asks whether this client is alive
    for resend in run(session.on_message(client("2", 5, now, (7, "1"), (16, "6")), now)):
        wanted = [m for m in stored if resend.begin <= m.seq <= resend.end]
        result.sent += session.replay(resend.begin, resend.end, wanted).take(100, now)
    session.resend_complete()
    run(session.on_message(client("1", 6, now), now))  # no TestReqID: Reject
    run(session.on_message(client("D", 7, now, (11, "ORDER-1")), now))
    run(session.on_message(client("D", 8, now, (11, "ORDER-2"), routing=_ROUTING), now))
    run(session.on_message(client("0", 10, now), now))  # a gap: ResendRequest
    run(session.on_message(client("4", 9, now, (123, "Y"), (36, "10")), now))
    run(session.on_message(client("4", 11, now, (36, "20")), now))  # reset mode
    # EventResendRequests (routed, by ExecID and range, by time), answered as the acceptor does.
    for seq, fields in (
        (20, ((21001, "EX-1"), (21002, "EX-9"))),
        (21, ((21005, format_utc_timestamp(now, Precision.MILLIS)),)),
    ):
        for action in session.on_message(client("U1", seq, now, *fields, routing=_ROUTING), now):
            if isinstance(action, EventResendRequest):
                for msg_type, body in (
                    (EVENT_RESEND_COMPLETE, complete_body(action, 2)),
                    (EVENT_RESEND_REJECT, reject_body(action, UNKNOWN_BEGIN, "EX-1 unknown")),
                ):
                    result.sent.append(session.application_message(msg_type, body, now)[0].data)
    run(session.on_message(client("5", 22, now, (58, "done for today")), now))

    refused = FixSession(SessionIdentity(BRIDGE, CLIENT), policy=policy)
    run(refused.on_message(logon(1, "wrong", now), now))  # Logout with Text
    return result


# --- what is used, by message and repeating group --------------------------------------------

GroupPath = tuple[int, ...]  # NumInGroup tags from the message down to a group; () = message level
Used = set[tuple[GroupPath, int]]


# fixbridge's own user-defined fields: (tag, name, QuickFIX type, MsgTypes that carry it at the
# end of their body). They are added to the stock dictionary before it is cut down.
USER_DEFINED_FIELDS: Final = (
    (REALIZED_PNL_TAG, "RealizedPnL", "AMT", ("AP",)),
    # The MarketSettlementReport's own fields, numbered and named as Kalshi's FIX dictionary
    # has them (docs.kalshi.com/fix/market-settlement); the message below places them.
    (20105, "MarketSettlementReportID", "STRING", ()),
    (20106, "TotNumMarketSettlementReports", "INT", ()),
    (20107, "MarketResult", "STRING", ()),
    (20108, "NoMarketSettlementPartyIDs", "NUMINGROUP", ()),
    (20109, "MarketSettlementPartyID", "STRING", ()),
    (20110, "MarketSettlementPartyRole", "INT", ()),
    # The event resend messages' own fields (fix/history.py): 21001-21004 numbered and named
    # as Kalshi's drop copy has them (docs.kalshi.com/fix/drop-copy); 21005 is fixbridge's.
    (21001, "BeginExecID", "STRING", ()),
    (21002, "EndExecID", "STRING", ()),
    (21003, "ResentEventCount", "INT", ()),
    (21004, "EventResendRejectReason", "INT", ()),
    (21005, "EventResendStartTime", "UTCTIMESTAMP", ()),
)

# The event resend messages (fix/history.py), in every profile: (name, MsgType, layout).
EVENT_RESEND_MESSAGES: Final[tuple[tuple[str, str, tuple[Member, ...]], ...]] = (
    ("EventResendRequest", EVENT_RESEND_REQUEST, (
        ("field", "BeginExecID", "N", ()),
        ("field", "EndExecID", "N", ()),
        ("field", "EventResendStartTime", "N", ()),
    )),
    ("EventResendComplete", EVENT_RESEND_COMPLETE, (
        ("field", "RefSeqNum", "Y", ()),
        ("field", "ResentEventCount", "Y", ()),
    )),
    ("EventResendReject", EVENT_RESEND_REJECT, (
        ("field", "RefSeqNum", "Y", ()),
        ("field", "EventResendRejectReason", "Y", ()),
        ("field", "Text", "N", ()),
    )),
)  # fmt: skip

# The user-defined MarketSettlementReport (35=UMS) as Kalshi and Coinbase Derivatives:
# Predictions publish it: (element, name, required, members). Tags 1703-1705 are the stock
# fields of those numbers (Kalshi names them NoCollateralAmountChanges, CollateralAmountChange
# and CollateralAmountType; a dictionary has one name per number, the wire only numbers).
# Added only to a stock dictionary that defines all its fields (1.16: the exchange profile's).
Member = tuple[str, str, str, tuple["Member", ...]]
MARKET_SETTLEMENT_REPORT_LAYOUT: Final[tuple[Member, ...]] = (
    ("field", "MarketSettlementReportID", "Y", ()),
    ("field", "Symbol", "Y", ()),
    ("field", "ClearingBusinessDate", "Y", ()),
    ("field", "TotNumMarketSettlementReports", "N", ()),
    ("field", "MarketResult", "Y", ()),
    ("field", "SettlPrice", "Y", ()),
    ("group", "NoMarketSettlementPartyIDs", "N", (
        ("field", "MarketSettlementPartyID", "Y", ()),
        ("field", "MarketSettlementPartyRole", "N", ()),
        ("field", "LongQty", "N", ()),
        ("field", "ShortQty", "N", ()),
        ("group", "NoCollateralAmounts", "N", (
            ("field", "CurrentCollateralAmount", "Y", ()),
            ("field", "CollateralCurrency", "N", ()),
        )),
        ("group", "NoMiscFees", "N", (
            ("field", "MiscFeeAmt", "Y", ()),
            ("field", "MiscFeeCurr", "N", ()),
            ("field", "MiscFeeType", "N", ()),
            ("field", "MiscFeeBasis", "N", ()),
        )),
    )),
    ("field", "LastFragment", "N", ()),
)  # fmt: skip


def _add_user_defined(root: ET.Element) -> None:
    fields = _required(root.find("fields"))
    messages = {m.get("msgtype", ""): m for m in root.iterfind("messages/message")}
    for number, name, kind, msg_types in USER_DEFINED_FIELDS:
        ET.SubElement(fields, "field", {"number": str(number), "name": name, "type": kind})
        for msg_type in msg_types:
            ET.SubElement(messages[msg_type], "field", {"name": name, "required": "N"})
    for name, msg_type, layout in EVENT_RESEND_MESSAGES:
        message = ET.SubElement(
            _required(root.find("messages")),
            "message",
            {"name": name, "msgtype": msg_type, "msgcat": "app"},
        )
        _add_members(message, layout)
    defined = {f.get("name", "") for f in fields}
    if _names(MARKET_SETTLEMENT_REPORT_LAYOUT) <= defined:
        message = ET.SubElement(
            _required(root.find("messages")),
            "message",
            {"name": MARKET_SETTLEMENT_REPORT, "msgtype": MARKET_SETTLEMENT_MSG_TYPE,
             "msgcat": "app"},
        )  # fmt: skip
        _add_members(message, MARKET_SETTLEMENT_REPORT_LAYOUT)


def _add_msg_type_values(root: ET.Element) -> None:
    """Where the stock MsgType(35) lists its values (QuickFIX 1.15's FIXT11.xml, as
    QuickFIX/J's), the event resend messages' types join them: a validating engine checks
    35 against that list before it looks for the message."""
    for node in root.iterfind("fields/field"):
        if node.get("name") == "MsgType" and node.find("value") is not None:
            for name, msg_type, _ in EVENT_RESEND_MESSAGES:
                described = "".join("_" + c if c.isupper() else c.upper() for c in name)
                ET.SubElement(node, "value", {"enum": msg_type, "description": described[1:]})


def _names(members: Iterable[Member]) -> set[str]:
    return {name for _, name, _, _ in members} | {
        name for *_, inner in members for name in _names(inner)
    }


def _add_members(parent: ET.Element, members: Iterable[Member]) -> None:
    for element, name, required, inner in members:
        child = ET.SubElement(parent, element, {"name": name, "required": required})
        _add_members(child, inner)


class Stock:
    """A stock QuickFIX dictionary, indexed for walking messages, components and groups."""

    def __init__(self, path: Path, *, user_defined: bool = False) -> None:
        self.root = ET.parse(path).getroot()
        if user_defined:
            _add_user_defined(self.root)
        self.fields = {f.get("name", ""): f for f in self.root.iterfind("fields/field")}
        self.number = {name: int(f.get("number", "")) for name, f in self.fields.items()}
        self.components = {c.get("name", ""): c for c in self.root.iterfind("components/component")}
        # Tag -> the values its stock enum lists (fields without an enum take any value).
        self.enums = {
            self.number[name]: frozenset(v.get("enum", "") for v in f.iterfind("value"))
            for name, f in self.fields.items()
            if f.find("value") is not None
        }
        self.messages = {m.get("msgtype", ""): m for m in self.root.iterfind("messages/message")}
        self._members: dict[int, dict[int, ET.Element]] = {}

    def members(self, node: ET.Element) -> dict[int, ET.Element]:
        """Fields and groups of one scope (through components, not into groups), by tag."""
        cached = self._members.get(id(node))
        if cached is not None:
            return cached
        out: dict[int, ET.Element] = {}
        for child in node:
            name = child.get("name", "")
            if child.tag == "component":
                out.update(self.members(self.components[name]))
            else:
                out[self.number[name]] = child
        self._members[id(node)] = out
        return out


def body_usage(stock: Stock, msg_type: str, body: Iterable[tuple[int, str]]) -> Used:
    """Where each tag of a flat body sits: (group path, tag). A tag inside a repeating group
    belongs to the innermost open group that declares it, as a FIX parser reads it."""
    scopes: list[tuple[GroupPath, dict[int, ET.Element]]] = [
        ((), stock.members(stock.messages[msg_type]))
    ]
    used: Used = set()
    for tag, _ in body:
        while scopes and tag not in scopes[-1][1]:
            scopes.pop()
        if not scopes:
            raise ValueError(f"tag {tag} is not defined for 35={msg_type} in the stock dictionary")
        path, members = scopes[-1]
        used.add((path, tag))
        if members[tag].tag == "group":
            scopes.append(((*path, tag), stock.members(members[tag])))
    return used


@dataclass(frozen=True, slots=True)
class Usage:
    """Everything fixbridge sends or reads: header, trailer, and body usage per MsgType."""

    header: frozenset[int]
    trailer: frozenset[int]
    messages: Mapping[str, frozenset[tuple[GroupPath, int]]]


def measure(
    transport: Stock, application: Stock, app: Sequence[Rendered], talk: Conversation
) -> tuple[Usage, Usage]:
    """(transport usage, application usage) of the simulator bodies and the conversation."""
    header_tags = set(transport.members(_required(transport.root.find("header"))))
    trailer_tags = set(transport.members(_required(transport.root.find("trailer"))))
    header: set[int] = set()
    trailer: set[int] = set()
    session: dict[str, Used] = {}
    application_used: dict[str, Used] = {}
    shapes = {(message.msg_type, tuple(tag for tag, _ in message.body)) for message in app}
    for msg_type, tags in shapes:
        used = body_usage(application, msg_type, ((tag, "") for tag in tags))
        application_used.setdefault(msg_type, set()).update(used)
    problems = {
        problem for message in app for problem in value_problems(application, message.body)
    }
    for raw in talk.sent:
        fields = split_fields(raw)
        msg_type = dict(fields)[35]
        header |= {tag for tag, _ in fields if tag in header_tags}
        trailer |= {tag for tag, _ in fields if tag in trailer_tags}
        body = [(tag, value) for tag, value in fields if tag not in header_tags | trailer_tags]
        checked = transport if msg_type in SESSION_MSG_TYPES else application
        problems.update(value_problems(checked, [(t, v) for t, v in body if t != 35]))
        problems.update(value_problems(transport, [(t, v) for t, v in fields if t != 35
                                                   and (t in header_tags or t in trailer_tags)]))
        if msg_type in SESSION_MSG_TYPES:
            session.setdefault(msg_type, set()).update(body_usage(transport, msg_type, body))
        elif msg_type in (BUSINESS_MESSAGE_REJECT, EVENT_RESEND_COMPLETE, EVENT_RESEND_REJECT):
            used = body_usage(application, msg_type, body)
            application_used.setdefault(msg_type, set()).update(used)
    if problems:
        raise ValueError(
            "values the stock dictionary does not list: "
            + "; ".join(f"{tag}={value}" for tag, value in sorted(problems))
        )
    for msg_type, tag in talk.read:
        if tag in header_tags:
            header.add(tag)
        elif msg_type in SESSION_MSG_TYPES:
            session.setdefault(msg_type, set()).update(body_usage(transport, msg_type, [(tag, "")]))
        elif msg_type == EVENT_RESEND_REQUEST:
            used = body_usage(application, msg_type, [(tag, "")])
            application_used.setdefault(msg_type, set()).update(used)
    return (
        Usage(frozenset(header), frozenset(trailer), _frozen(session)),
        Usage(frozenset(), frozenset(), _frozen(application_used)),
    )


def value_problems(stock: Stock, fields: Iterable[tuple[int, str]]) -> list[tuple[int, str]]:
    """(tag, value) of each field whose value is not in its stock enum."""
    return [
        (tag, value)
        for tag, value in fields
        if tag in stock.enums and value not in stock.enums[tag]
    ]


def _frozen(used: Mapping[str, Used]) -> dict[str, frozenset[tuple[GroupPath, int]]]:
    return {msg_type: frozenset(pairs) for msg_type, pairs in used.items()}


def _required(node: ET.Element | None) -> ET.Element:
    if node is None:
        raise ValueError("stock dictionary lacks a required section")
    return node


# --- cutting the stock dictionary down -------------------------------------------------------


class _Subset:
    """Marks which stock elements are kept, then writes the dictionary in the stock's style."""

    def __init__(self, stock: Stock) -> None:
        self.stock = stock
        self.kept: set[int] = set()  # id() of kept stock elements (components shared by all)

    def mark(
        self, node: ET.Element, path: GroupPath, used: frozenset[tuple[GroupPath, int]]
    ) -> bool:
        """Keep the children of ``node`` that ``used`` needs; whether any was kept."""
        any_kept = False
        for child in node:
            name = child.get("name", "")
            if child.tag == "component":
                definition = self.stock.components[name]
                keep = self.mark(definition, path, used)
                if keep:
                    self.kept.add(id(definition))
            else:
                tag = self.stock.number[name]
                keep = (path, tag) in used
                if keep and child.tag == "group":
                    self.mark(child, (*path, tag), used)
            if keep:
                self.kept.add(id(child))
                any_kept = True
        return any_kept

    def keep_message(self, msg_type: str, used: frozenset[tuple[GroupPath, int]]) -> None:
        """Keep a message (even one with an empty body) and what its body uses."""
        message = self.stock.messages[msg_type]
        self.kept.add(id(message))
        self.mark(message, (), used)

    def keep_scope(self, node: ET.Element, tags: frozenset[int]) -> None:
        """Header or trailer: keep its top-level fields in ``tags``."""
        self.mark(node, (), frozenset(((), tag) for tag in tags))

    def render(self, sections: Sequence[str], profile: Profile) -> str:
        """The whole dictionary as text; ``sections`` names the root's children to write."""
        root = self.stock.root
        lines = [
            f"<!-- fixbridge, fix_profile = {profile.value}: generated by"
            f" specs/generate_dictionary.py from QuickFIX {PROFILE_STOCK[profile]}'s stock"
            " dictionary. Do not edit. -->",
            f"<fix{_attributes(root)}>",
        ]
        for section in sections:
            lines += self._section(_required(root.find(section)))
        lines.append("</fix>")
        return "\n".join(lines) + "\n"

    def _section(self, node: ET.Element) -> list[str]:
        if node.tag == "fields":
            names = self._field_names()
            children = [f for f in node if f.get("name") in names]
            return _element(node.tag, node, children, 1, keep_all=True)
        children = [child for child in node if id(child) in self.kept]
        return _element(node.tag, node, children, 1, kept=self.kept)

    def _field_names(self) -> set[str]:
        names: set[str] = set()
        for node in self.stock.root.iter():
            if node.tag in ("field", "group") and id(node) in self.kept:
                names.add(node.get("name", ""))
        return names


_QUOTES: Final = {"'": "&apos;", '"': "&quot;"}


def _attributes(node: ET.Element) -> str:
    """`` key='value'`` for each attribute, in the stock file's order."""
    return "".join(f" {key}='{escape(value, _QUOTES)}'" for key, value in node.attrib.items())


def _element(
    tag: str,
    node: ET.Element,
    children: Sequence[ET.Element],
    depth: int,
    *,
    kept: set[int] | None = None,
    keep_all: bool = False,
) -> list[str]:
    """``node`` with ``children`` (each pruned to kept elements), indented one space a level."""
    indent = " " * depth
    if not children:
        return [f"{indent}<{tag}{_attributes(node)} />"]
    lines = [f"{indent}<{tag}{_attributes(node)}>"]
    for child in children:
        grandchildren = [g for g in child if keep_all or (kept is not None and id(g) in kept)]
        lines += _element(child.tag, child, grandchildren, depth + 1, kept=kept, keep_all=keep_all)
    lines.append(f"{indent}</{tag}>")
    return lines


@dataclass(frozen=True, slots=True)
class Dictionaries:
    transport: str  # FIXT11-fixbridge.xml
    application: str  # FIX50SP2-fixbridge.xml


def generate(
    stock_dir: Path,
    profile: Profile = Profile.EXCHANGE,
    app: Sequence[Rendered] | None = None,
    talk: Conversation | None = None,
) -> Dictionaries:
    """Both dictionaries of ``profile``, from the stock files in ``stock_dir`` (QuickFIX
    :data:`PROFILE_STOCK` ``[profile]``'s) and the measured usage.

    ``app`` and ``talk`` default to :func:`simulator_messages` in ``profile`` and
    :func:`session_conversation` (a caller that has them already passes them in).
    """
    app = simulator_messages(profile) if app is None else app
    talk = session_conversation(app) if talk is None else talk
    transport = Stock(stock_dir / STOCK_TRANSPORT)
    _add_msg_type_values(transport.root)
    application = Stock(stock_dir / STOCK_APPLICATION, user_defined=True)
    transport_usage, application_usage = measure(transport, application, app, talk)

    fixt = _Subset(transport)
    fixt.keep_scope(_required(transport.root.find("header")), transport_usage.header)
    fixt.keep_scope(_required(transport.root.find("trailer")), transport_usage.trailer)
    for msg_type, used in sorted(transport_usage.messages.items()):
        fixt.keep_message(msg_type, used)
    fix50 = _Subset(application)
    for msg_type, used in sorted(application_usage.messages.items()):
        fix50.keep_message(msg_type, used)
    sections = ("header", "messages", "trailer", "components", "fields")
    return Dictionaries(fixt.render(sections, profile), fix50.render(sections, profile))


def _stock_option(text: str) -> tuple[str, Path]:
    version, sep, folder = text.partition("=")
    if not sep or not version or not folder:
        raise argparse.ArgumentTypeError(f"expected VERSION=DIR, got {text!r}")
    return version, Path(folder)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--stock", type=_stock_option, action="append", required=True, metavar="VERSION=DIR",
        help="a QuickFIX release and the folder with its stock FIXT11.xml and FIX50SP2.xml"
             f" (needed: {', '.join(sorted(set(PROFILE_STOCK.values())))})",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=DICTIONARIES)
    args = parser.parse_args(argv)
    stock = dict(args.stock)
    missing = sorted(set(PROFILE_STOCK.values()) - stock.keys())
    if missing:
        parser.error(f"no --stock for QuickFIX {', '.join(missing)}")
    for profile, version in PROFILE_STOCK.items():
        dictionaries = generate(stock[version], profile)
        folder = args.out / profile.value
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in (
            (TRANSPORT_FILE, dictionaries.transport),
            (APPLICATION_FILE, dictionaries.application),
        ):
            target = folder / name
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
