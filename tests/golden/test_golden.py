"""The golden corpus: hand-scripted gRPC responses in, hand-written FIX fields out.

Every case file in this folder scripts responses of the exchange's DropCopyAPI streams
(protobuf JSON, spec §4) and, for each, the FIX messages a back office must receive, with the
fields expected written by hand from the spec or the FIX definition each row cites. The run
is end to end with real parts: tests/golden/upstream.py serves the responses over real gRPC,
``fixbridge run`` (a subprocess) consumes them, and a QuickFIX initiator with its stock FIX 5.0
SP2 dictionaries and validation on receives the messages. Sessions of the other fix_profiles
get the same corpus, each received by QuickFIX with the stock dictionaries of its FIX
generation (1.15.1's original FIX 5.0 SP2 for ``fix50sp2``). Nothing here computes an expected
value from fixbridge's code.

Case file keys:

* ``about``: what the case shows; ``defaults``: ``order`` fields merged under every
  ``order`` of the case's messages (a message's own fields win); ``instrument_list``:
  Instruments (protobuf JSON) that RefDataAPI.ListInstruments answers when the bridge starts.
* ``steps``: one response each, in order: ``stream`` (executions, trades, instruments,
  positions), ``response`` (the Create...SubscriptionResponse as protobuf JSON, without its
  resume token), ``flagged`` (how many of its events the bridge must keep flagged, default 0),
  ``expect``: the messages it produces, in order, each with ``msg_type``, ``cite``,
  ``fields`` (tag -> exact text), ``absent`` (tags that must not be sent), optionally
  ``parties`` ([PartyID, PartyRole] pairs, in order), ``sides`` (TradeCaptureReport NoSides
  entries, each exactly these [tag, text] pairs in this order), ``groups`` (other repeating
  groups: ``count`` tag, ``delimiter`` tag, ``members`` tags, ``entries`` as for sides),
  ``received_time`` (tags that carry the time the bridge received the response, checked to
  lie within the step) and ``trade_date_from`` (tag -> the tag whose time it is the exchange
  trade date of: spec §1.4, the day rolls at 17:00 New York time).
* ``renders``: messages rendered without a stream behind them yet (settlements, whose
  market-data stream is not wired into sessions): tests/golden/test_settlement_messages.py.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
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

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
CLIENT, BRIDGE = "GOLDEN_BO", "FIXBRIDGE"
KINDS = ["executions", "trades", "instruments", "positions"]
SIDE_TAGS = (1427, 453, 448, 447, 452, 1, 12, 13, 58, 1057, 37, 11)
QUIET_S = 1.0  # how long a step that expects nothing is watched for a stray message
SETTLE_S = 0.3  # how long a step is watched after its expected messages, for one more
STEP_TIMEOUT_S = 30.0


@dataclass
class Expected:
    msg_type: str
    cite: str
    fields: dict[int, str]
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


#: Beside the golden session (profile ``exchange``), one session per other fix_profile, each
#: received by QuickFIX with the stock dictionaries of that profile's FIX generation.
OTHER_PROFILES = {"fix50sp2": ORIGINAL_FIX50SP2_VERSION, "latest": QUICKFIX_VERSION}


@pytest.fixture(scope="module")
def golden_run(tmp_path_factory: pytest.TempPathFactory, spec_dir: str) -> Iterator[GoldenRun]:
    tmp = tmp_path_factory.mktemp("golden")
    with ScriptedUpstream(load_instrument_list()) as upstream:
        sessions = [{"name": "golden", "sender_comp_id": BRIDGE, "target_comp_id": CLIENT,
                     "scope": {"message_kinds": KINDS}}]  # fmt: skip
        sessions += [
            {"name": f"golden-{profile}", "sender_comp_id": BRIDGE,
             "target_comp_id": f"{CLIENT}_{profile.upper()}", "fix_profile": profile,
             "scope": {"message_kinds": KINDS}}
            for profile in OTHER_PROFILES
        ]  # fmt: skip
        bridge = bridge_for(tmp, upstream.port, sessions)
        with bridge, contextlib.ExitStack() as clients:
            client = QuickFixClient(port=bridge.fix_port, sender=CLIENT, target=BRIDGE,
                                    workdir=tmp / "qf", spec_dir=spec_dir)  # fmt: skip
            others = {
                profile: QuickFixClient(port=bridge.fix_port, sender=f"{CLIENT}_{profile.upper()}",
                                        target=BRIDGE, workdir=tmp / f"qf-{profile}",
                                        spec_dir=str(quickfix_spec_dir(version)))
                for profile, version in OTHER_PROFILES.items()
            }  # fmt: skip
            for each in (client, *others.values()):
                clients.enter_context(each)
                each.wait_for_logon(timeout=20)
            run = GoldenRun(upstream, client, tmp / "journal.db", others)
            run.play(load_steps())
            yield run
            clients.close()
            assert bridge.stop() == 0, bridge.tail()


class GoldenRun:
    def __init__(
        self,
        upstream: ScriptedUpstream,
        client: QuickFixClient,
        journal: Path,
        others: dict[str, QuickFixClient],
    ) -> None:
        self.upstream = upstream
        self.client = client
        self.journal = journal
        self.others = others
        self.problems: list[str] = []
        self.flagged_expected = 0
        self.expected_messages = 0

    def play(self, steps: list[Step]) -> None:
        for step in steps:
            # Counted from what arrived, so one step's shortfall is reported once, at that step.
            before = len(self.client.app_messages())
            pushed_at = time.time_ns()
            self.upstream.push(step.stream, step.response)
            self.expected_messages += len(step.expect)
            self.flagged_expected += step.flagged
            where = f"{step.case} step {step.index}"
            if step.expect:
                with contextlib.suppress(AssertionError):  # reported below with what arrived
                    self.client.wait_for_app(before + len(step.expect), timeout=STEP_TIMEOUT_S)
            time.sleep(SETTLE_S if step.expect else QUIET_S)  # anything more would arrive now
            window = (pushed_at, time.time_ns())
            received = self.client.app_messages()[before:]
            if len(received) != len(step.expect):
                self.problems.append(
                    f"{where}: {len(received)} messages, expected {len(step.expect)}: "
                    + "; ".join(str(m) for m in received[: len(step.expect) + 2])
                )
                continue
            for number, (message, want) in enumerate(zip(received, step.expect, strict=True)):
                for problem in problems_of(message, want, window):
                    self.problems.append(f"{where} message {number} ({want.cite}): {problem}")
        time.sleep(QUIET_S)

    def flagged_in_journal(self) -> int:
        with sqlite3.connect(self.journal) as db:
            query = "SELECT COUNT(*) FROM events WHERE flagged IS NOT NULL"
            (count,) = db.execute(query).fetchone()
        return int(count)


def test_every_golden_message_arrives_with_the_fields_the_spec_gives(golden_run: GoldenRun) -> None:
    assert golden_run.problems == [], "\n".join(golden_run.problems)


def test_quickfix_with_its_stock_dictionary_rejects_nothing(golden_run: GoldenRun) -> None:
    assert golden_run.client.rejects_sent() == []
    assert golden_run.client.unvalidated_app_messages() == []


def test_nothing_more_arrives_and_malformed_events_are_kept_flagged(golden_run: GoldenRun) -> None:
    assert len(golden_run.client.app_messages()) == golden_run.expected_messages
    assert golden_run.flagged_in_journal() == golden_run.flagged_expected
    assert golden_run.flagged_expected >= 1  # the corpus has a malformed event mid-batch


#: What the original FIX 5.0 SP2 dictionary does not define for each message type (mapping.md,
#: "What each fix_profile changes"): a fix50sp2 session never carries it.
FIX50SP2_LEFT_OUT = {"8": set(FIX50SP2_ER_LEFT_OUT), "f": {75}, "AP": {60, 2096}}


@pytest.mark.parametrize("profile", list(OTHER_PROFILES))
def test_every_profile_gets_every_message_its_stock_dictionary_accepts(
    golden_run: GoldenRun, profile: str
) -> None:
    """The same corpus to a session of each other profile: QuickFIX with the stock dictionaries
    of that profile's FIX generation (1.15.1's original FIX 5.0 SP2 for fix50sp2, 1.16's for
    latest) and validation on receives the same messages, in the same order, rejecting none."""
    client = golden_run.others[profile]
    with contextlib.suppress(AssertionError):  # the counts are compared below
        client.wait_for_app(golden_run.expected_messages, timeout=STEP_TIMEOUT_S)
    received = client.app_messages()
    assert client.rejects_sent() == []
    assert client.unvalidated_app_messages() == []
    golden = golden_run.client.app_messages()
    assert [m.msg_type for m in received] == [m.msg_type for m in golden]
    ids = [(m.get(17), m.get(571), m.get(721), m.get(55)) for m in received]
    assert ids == [(m.get(17), m.get(571), m.get(721), m.get(55)) for m in golden]
    left_out = FIX50SP2_LEFT_OUT if profile == "fix50sp2" else {}
    carried = [
        f"{m.msg_type} {ident}: {tag}={m.get(tag)}"
        for m, ident in zip(received, ids, strict=True)
        for tag in left_out.get(m.msg_type, ())
        if tag in m
    ]
    assert carried == []
