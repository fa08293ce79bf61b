"""The golden corpus: hand-scripted gRPC responses in, hand-written FIX fields out.

Every case file in this folder scripts responses of the exchange's DropCopyAPI streams
(protobuf JSON, spec §4) and market-data updates (seed 003), and, for each, the FIX messages a
back office must receive, with the fields expected written by hand from the spec or the FIX
definition each row cites. The run is end to end with real parts: tests/golden/upstream.py
serves the responses over real gRPC, ``fixbridge run`` (a subprocess) consumes them, and
QuickFIX initiators with validation on receive the messages. Nothing here computes an
expected value from fixbridge's code.

The sessions, and why there are two in the ``exchange`` profile:

* ``golden`` (``exchange`` profile, message kinds executions, trades, instruments,
  positions): QuickFIX with its stock FIX 5.0 SP2 dictionaries. It learns a settlement as a
  back office without fixbridge's dictionary does: the PositionReports marked with the
  price (730/731/734) and the closed instrument's SecurityStatus with the outcome.
* ``golden-settlements`` (``exchange`` profile, the same kinds plus ``settlements``):
  QuickFIX with the dictionaries ``fixbridge dictionary --profile exchange`` writes. A
  session receiving settlements in the exchange profile is sent the user-defined
  MarketSettlementReport (35=UMS) once a resolution is final, which only that dictionary
  declares (specs/mapping.md): a stock engine refuses the MsgType, so such a session needs
  it. Giving ``golden`` the shipped dictionary instead would stop proving that everything
  else passes a stock one; leaving ``settlements`` out everywhere would leave 35=W and
  35=UMS unchecked end to end. So the stock client gets every message it can validate and
  this one the rest, each message checked against the same hand-written fields.
* one session per other fix_profile (kinds as ``golden-settlements``), each received by
  QuickFIX with the stock dictionaries of its FIX generation (1.15.1's original FIX 5.0 SP2
  for ``fix50sp2``): the messages of ``golden-settlements`` but 35=UMS (exchange only).

Case file keys:

* ``about``: what the case shows; ``defaults``: ``order`` fields merged under every
  ``order`` of the case's messages (a message's own fields win); ``instrument_list``:
  Instruments (protobuf JSON) that RefDataAPI.ListInstruments answers when the bridge starts.
* ``steps``: one response each, in order: ``stream`` (executions, trades, instruments,
  positions, or settlements: a MarketDataUpdate the market-data stream serves, which becomes
  its symbol's current update and is sent to every stream subscribed to the symbol, or on
  subscribe: so a step may push it before the bridge subscribed), ``response`` (the
  Create...SubscriptionResponse as protobuf JSON, without its resume token, or the
  MarketDataUpdate), ``flagged`` (how many of its events the bridge must keep flagged,
  default 0), ``expect``: the messages it produces, in order, each with ``msg_type``,
  ``cite``, ``to`` (``settlements``: sent only to sessions receiving settlements, as 35=W
  and 35=UMS; else every session), ``fields`` (tag -> exact text), ``absent`` (tags that
  must not be sent), optionally ``parties`` ([PartyID, PartyRole] pairs, in order), ``sides``
  (TradeCaptureReport NoSides entries, each exactly these [tag, text] pairs in this order),
  ``groups`` (other repeating groups: ``count`` tag, ``delimiter`` tag, ``members`` tags,
  ``entries`` as for sides), ``received_time`` (tags that carry the time the bridge received
  the response, checked to lie within the step) and ``trade_date_from`` (tag -> the tag
  whose time it is the exchange trade date of: spec §1.4, the day rolls at 17:00 New York
  time).
* ``renders``: settlement messages rendered with the pure renderers, for what a step cannot
  pin down: tests/golden/test_settlement_messages.py.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from fixbridge.proto.polymarket.v1 import refdata_pb2
from tests.golden.upstream import RESPONSE_TYPES, ScriptedUpstream
from tests.integration.bridge_proc import bridge_for
from tests.integration.oracle import FIX50SP2_ER_LEFT_OUT, new_york_trade_date
from tests.integration.qfharness import (
    ORIGINAL_FIX50SP2_VERSION,
    QUICKFIX_VERSION,
    FixMessage,
    QuickFixClient,
    quickfix_spec_dir,
)
from tests.integration.test_end_to_end import _shipped_dictionaries

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
CLIENT, BRIDGE = "GOLDEN_BO", "FIXBRIDGE"
KINDS = ["executions", "trades", "instruments", "positions"]
SETTLEMENT_KINDS = [*KINDS, "settlements"]
SETTLEMENTS_CLIENT = f"{CLIENT}_SETTLEMENTS"
UMS = "UMS"  # MarketSettlementReport: exchange profile, shipped dictionary only
SIDE_TAGS = (1427, 453, 448, 447, 452, 1, 12, 13, 58, 1057, 37, 11)
QUIET_S = 1.0  # how long a step that expects nothing is watched for a stray message
SETTLE_S = 0.3  # how long a step is watched after its expected messages, for one more
STEP_TIMEOUT_S = 30.0


@dataclass
class Expected:
    msg_type: str
    cite: str
    fields: dict[int, str]
    to: str | None = None  # "settlements": only sessions receiving settlements
    absent: list[int] = field(default_factory=list)
    parties: list[tuple[str, str]] | None = None
    sides: list[list[tuple[int, str]]] | None = None
    received_time: list[int] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    trade_date_from: dict[int, int] = field(default_factory=dict)


@dataclass
class Step:
    case: str
    index: int
    stream: str
    response: Any
    flagged: int
    expect: list[Expected]


def _merge(defaults: Mapping[str, Any], message: Any) -> Any:
    """``defaults`` under every ``order`` object found in ``message``."""
    if isinstance(message, dict):
        out = {key: _merge(defaults, value) for key, value in message.items()}
        if "order" in out and isinstance(out["order"], dict):
            out["order"] = {**defaults.get("order", {}), **out["order"]}
        return out
    if isinstance(message, list):
        return [_merge(defaults, item) for item in message]
    return message


def load_instrument_list() -> list[Any]:
    return [
        json_format.ParseDict(raw, refdata_pb2.Instrument())
        for path in sorted(HERE.glob("*.json"))
        for raw in json.loads(path.read_text(encoding="utf-8")).get("instrument_list", [])
    ]


def load_steps() -> list[Step]:
    steps: list[Step] = []
    for path in sorted(HERE.glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        defaults = case.get("defaults", {})
        for index, raw in enumerate(case["steps"]):
            stream = raw["stream"]
            response = json_format.ParseDict(
                _merge(defaults, raw["response"]), RESPONSE_TYPES[stream]()
            )
            expect = [
                Expected(
                    msg_type=e["msg_type"],
                    cite=e["cite"],
                    to=e.get("to"),
                    fields={int(tag): value for tag, value in e.get("fields", {}).items()},
                    absent=[int(tag) for tag in e.get("absent", [])],
                    parties=[tuple(p) for p in e["parties"]] if "parties" in e else None,
                    sides=[[(int(t), v) for t, v in side] for side in e["sides"]]
                    if "sides" in e
                    else None,
                    received_time=[int(tag) for tag in e.get("received_time", [])],
                    groups=e.get("groups", []),
                    trade_date_from={
                        int(tag): int(src) for tag, src in e.get("trade_date_from", {}).items()
                    },
                )
                for e in raw.get("expect", [])
            ]
            assert all(e.to in (None, "settlements") for e in expect), f"{path.name} {index}"
            steps.append(Step(path.stem, index, stream, response, raw.get("flagged", 0), expect))
    return steps


def _fix_time(ns: int) -> str:
    moment = datetime.fromtimestamp(ns // 1_000_000_000, UTC)
    return moment.strftime("%Y%m%d-%H:%M:%S") + f".{ns % 1_000_000_000:09d}"


def problems_of(message: FixMessage, want: Expected, window: tuple[int, int]) -> list[str]:
    problems: list[str] = []
    if message.msg_type != want.msg_type:
        return [f"35={message.msg_type}, expected {want.msg_type}"]
    for tag, value in want.fields.items():
        got = message.get(tag)
        if got != value:
            problems.append(f"{tag}={got!r}, expected {value!r}")
    for tag in want.absent:
        if tag in message:
            problems.append(f"{tag}={message.get(tag)!r} sent, expected absent")
    if want.parties is not None:
        got_parties = [(d[448], d[452]) for d in map(dict, message.group(453, 448, (447, 452)))]
        if got_parties != want.parties:
            problems.append(f"parties {got_parties}, expected {want.parties}")
    if want.sides is not None:
        got_sides = message.group(552, 54, SIDE_TAGS)
        if got_sides != want.sides:
            problems.append(f"sides {got_sides}, expected {want.sides}")
    for group in want.groups:
        entries = message.group(group["count"], group["delimiter"], group["members"])
        wanted = [[(int(t), v) for t, v in entry] for entry in group["entries"]]
        if entries != wanted:
            problems.append(f"group {group['count']}: {entries}, expected {wanted}")
    low, high = (_fix_time(t) for t in window)
    for tag in want.received_time:
        got = message.get(tag) or ""
        if not low <= got <= high:
            problems.append(f"{tag}={got!r} is not a time within {low}..{high}")
    for tag, source in want.trade_date_from.items():
        stamp = message.get(source) or ""
        seconds = int(datetime.strptime(stamp[:17], "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
                      .timestamp())  # fmt: skip
        if message.get(tag) != new_york_trade_date(seconds):
            problems.append(f"{tag}={message.get(tag)!r} is not the trade date of {stamp}")
    return problems


#: Beside the two ``exchange`` sessions, one session per other fix_profile, each received by
#: QuickFIX with the stock dictionaries of that profile's FIX generation.
OTHER_PROFILES = {"fix50sp2": ORIGINAL_FIX50SP2_VERSION, "latest": QUICKFIX_VERSION}


def for_golden(want: Expected) -> bool:
    """What the ``golden`` session (no ``settlements``) receives."""
    return want.to is None


def for_settlements(want: Expected) -> bool:
    """What ``golden-settlements`` (exchange profile, every kind) receives: everything."""
    return True


def for_other_profiles(want: Expected) -> bool:
    """What the other profiles' sessions (every kind) receive: all but 35=UMS."""
    return want.msg_type != UMS


@dataclass
class Receiver:
    """One QuickFIX client whose messages are checked step by step against ``expect``."""

    name: str
    client: QuickFixClient
    receives: Callable[[Expected], bool]  # which expected messages it is sent
    expected_messages: int = 0


@pytest.fixture(scope="module")
def golden_run(tmp_path_factory: pytest.TempPathFactory, spec_dir: str) -> Iterator[GoldenRun]:
    tmp = tmp_path_factory.mktemp("golden")
    with ScriptedUpstream(load_instrument_list()) as upstream:
        sessions: list[dict[str, object]] = [
            {"name": "golden", "sender_comp_id": BRIDGE, "target_comp_id": CLIENT,
             "scope": {"message_kinds": KINDS}},
            {"name": "golden-settlements", "sender_comp_id": BRIDGE,
             "target_comp_id": SETTLEMENTS_CLIENT, "fix_profile": "exchange",
             "scope": {"message_kinds": SETTLEMENT_KINDS}},
        ]  # fmt: skip
        sessions += [
            {"name": f"golden-{profile}", "sender_comp_id": BRIDGE,
             "target_comp_id": f"{CLIENT}_{profile.upper()}", "fix_profile": profile,
             "scope": {"message_kinds": SETTLEMENT_KINDS}}
            for profile in OTHER_PROFILES
        ]  # fmt: skip
        shipped = _shipped_dictionaries(tmp, "exchange")
        bridge = bridge_for(tmp, upstream.port, sessions)
        with bridge, contextlib.ExitStack() as clients:
            client = QuickFixClient(port=bridge.fix_port, sender=CLIENT, target=BRIDGE,
                                    workdir=tmp / "qf", spec_dir=spec_dir)  # fmt: skip
            settlements = QuickFixClient(port=bridge.fix_port, sender=SETTLEMENTS_CLIENT,
                                         target=BRIDGE, workdir=tmp / "qf-settlements",
                                         spec_dir=str(shipped))  # fmt: skip
            others = {
                profile: QuickFixClient(port=bridge.fix_port, sender=f"{CLIENT}_{profile.upper()}",
                                        target=BRIDGE, workdir=tmp / f"qf-{profile}",
                                        spec_dir=str(quickfix_spec_dir(version)))
                for profile, version in OTHER_PROFILES.items()
            }  # fmt: skip
            for each in (client, settlements, *others.values()):
                clients.enter_context(each)
                each.wait_for_logon(timeout=20)
            run = GoldenRun(upstream, client, settlements, tmp / "journal.db", others)
            run.play(load_steps())
            yield run
            clients.close()
            assert bridge.stop() == 0, bridge.tail()


class GoldenRun:
    def __init__(
        self,
        upstream: ScriptedUpstream,
        client: QuickFixClient,
        settlements: QuickFixClient,
        journal: Path,
        others: dict[str, QuickFixClient],
    ) -> None:
        self.upstream = upstream
        self.client = client
        self.settlements = settlements
        self.journal = journal
        self.others = others
        self.receivers = [
            Receiver("golden", client, for_golden),
            Receiver("golden-settlements", settlements, for_settlements),
        ]
        self.problems: list[str] = []
        self.flagged_expected = 0
        self.other_profiles_expected = 0

    def play(self, steps: list[Step]) -> None:
        for step in steps:
            # Counted from what arrived, so one step's shortfall is reported once, at that step.
            before = [len(r.client.app_messages()) for r in self.receivers]
            wanted = [[e for e in step.expect if r.receives(e)] for r in self.receivers]
            pushed_at = time.time_ns()
            self.upstream.push(step.stream, step.response)
            self.flagged_expected += step.flagged
            self.other_profiles_expected += sum(map(for_other_profiles, step.expect))
            for receiver, count, expect in zip(self.receivers, before, wanted, strict=True):
                receiver.expected_messages += len(expect)
                if expect:
                    with contextlib.suppress(AssertionError):  # reported below with what came
                        receiver.client.wait_for_app(count + len(expect), timeout=STEP_TIMEOUT_S)
            time.sleep(SETTLE_S if step.expect else QUIET_S)  # anything more would arrive now
            window = (pushed_at, time.time_ns())
            for receiver, count, expect in zip(self.receivers, before, wanted, strict=True):
                where = f"{step.case} step {step.index} ({receiver.name})"
                received = receiver.client.app_messages()[count:]
                self.problems += step_problems(where, received, expect, window)
        time.sleep(QUIET_S)

    def flagged_in_journal(self) -> int:
        with sqlite3.connect(self.journal) as db:
            query = "SELECT COUNT(*) FROM events WHERE flagged IS NOT NULL"
            (count,) = db.execute(query).fetchone()
        return int(count)


def step_problems(
    where: str, received: list[FixMessage], expect: list[Expected], window: tuple[int, int]
) -> list[str]:
    if len(received) != len(expect):
        return [
            f"{where}: {len(received)} messages, expected {len(expect)}: "
            + "; ".join(str(m) for m in received[: len(expect) + 2])
        ]
    return [
        f"{where} message {number} ({want.cite}): {problem}"
        for number, (message, want) in enumerate(zip(received, expect, strict=True))
        for problem in problems_of(message, want, window)
    ]


def test_every_golden_message_arrives_with_the_fields_the_spec_gives(golden_run: GoldenRun) -> None:
    assert golden_run.problems == [], "\n".join(golden_run.problems)


def test_quickfix_with_its_stock_dictionary_rejects_nothing(golden_run: GoldenRun) -> None:
    assert golden_run.client.rejects_sent() == []
    assert golden_run.client.unvalidated_app_messages() == []


def test_quickfix_with_the_shipped_exchange_dictionary_rejects_nothing(
    golden_run: GoldenRun,
) -> None:
    """The session receiving settlements in the exchange profile, 35=UMS included."""
    assert golden_run.settlements.rejects_sent() == []
    assert golden_run.settlements.unvalidated_app_messages() == []


def test_nothing_more_arrives_and_malformed_events_are_kept_flagged(golden_run: GoldenRun) -> None:
    for receiver in golden_run.receivers:
        assert len(receiver.client.app_messages()) == receiver.expected_messages, receiver.name
    assert golden_run.flagged_in_journal() == golden_run.flagged_expected
    assert golden_run.flagged_expected >= 1  # the corpus has a malformed event mid-batch


def test_the_corpus_runs_settlements_through_the_bridge(golden_run: GoldenRun) -> None:
    """Every settlement message reaches a session end to end, and the exchange served the
    market-data stream the bridge opened."""
    kinds = {m.msg_type for m in golden_run.settlements.app_messages()}
    assert {"W", UMS, "AP", "f"} <= kinds
    assert golden_run.upstream.opened["settlements"] >= 1


#: What the original FIX 5.0 SP2 dictionary does not define for each message type (mapping.md,
#: "What each fix_profile changes"): a fix50sp2 session never carries it.
FIX50SP2_LEFT_OUT = {
    "8": set(FIX50SP2_ER_LEFT_OUT), "f": {75}, "AP": {60, 2096}, "W": {779, 731},
}  # fmt: skip


@pytest.mark.parametrize("profile", list(OTHER_PROFILES))
def test_every_profile_gets_every_message_its_stock_dictionary_accepts(
    golden_run: GoldenRun, profile: str
) -> None:
    """The same corpus to a session of each other profile: QuickFIX with the stock dictionaries
    of that profile's FIX generation (1.15.1's original FIX 5.0 SP2 for fix50sp2, 1.16's for
    latest) and validation on receives the exchange profile's messages (as golden-settlements
    gets them) but 35=UMS, in the same order, rejecting none."""
    client = golden_run.others[profile]
    with contextlib.suppress(AssertionError):  # the counts are compared below
        client.wait_for_app(golden_run.other_profiles_expected, timeout=STEP_TIMEOUT_S)
    received = client.app_messages()
    assert client.rejects_sent() == []
    assert client.unvalidated_app_messages() == []
    golden = [m for m in golden_run.settlements.app_messages() if m.msg_type != UMS]
    assert len(received) == golden_run.other_profiles_expected
    assert [m.msg_type for m in received] == [m.msg_type for m in golden]
    ids = [(m.get(17), m.get(571), m.get(721), m.get(55)) for m in received]
    assert ids == [(m.get(17), m.get(571), m.get(721), m.get(55)) for m in golden]
    left_out = FIX50SP2_LEFT_OUT if profile == "fix50sp2" else {}
    carried = [
        f"{m.msg_type} {ident}: {tag}={m.get(tag)}"
        for m, ident in zip(received, ids, strict=True)
        for tag in left_out.get(m.msg_type or "", ())
        if tag in m
    ]
    assert carried == []
