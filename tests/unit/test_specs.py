"""specs/: mapping.md documents exactly what the code sends, and our QuickFIX dictionaries
accept it and are what specs/generate_dictionary.py makes of the stock ones.

What is sent is measured the way the generator measures it: the real normalizers render a
seeded simulator run (every message kind) and FixSession plays a scripted conversation (logon,
heartbeats, test requests, a resend with gap fill, rejects, resets, logouts).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from fixbridge.fix.codec import checksum, encode_fields, split_fields
from fixbridge.fix.fixt import ROUTING_REVERSED
from fixbridge.normalize import enums, profiles
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.style import Profile
from fixbridge.proto.polymarket.v1 import enums_pb2
from specs import generate_dictionary as gen
from tests.quickfix_validation import stock_dir_or_skip

SPECS = Path(__file__).resolve().parents[2] / "specs"
MAPPING = SPECS / "mapping.md"
HEADER_TABLE = "Standard header and trailer"
PROFILE_TABLE = "What each fix_profile changes"
SESSION_TABLE = "Session messages"
NOT_MAPPED_TABLE = "Enums that are not mapped"
UNKNOWN_ROW = "any other number"
UNKNOWN_NUMBER = 1_000  # no enum of enums.proto has it


# --- mapping.md, read as tables ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Table:
    heading: str  # the nearest heading above the table, without the #s
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _cells(line: str) -> tuple[str, ...]:
    return tuple(cell.strip() for cell in line.strip().strip("|").split("|"))


def parse_tables(text: str) -> list[Table]:
    """Every pipe table of a markdown text, with the heading it sits under."""
    lines = text.splitlines()
    tables: list[Table] = []
    heading = ""
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif (
            line.startswith("|")
            and index + 1 < len(lines)
            and set(lines[index + 1].strip()) <= set("|-: ")
        ):
            columns = _cells(line)
            rows = []
            index += 2
            while index < len(lines) and lines[index].strip().startswith("|"):
                row = _cells(lines[index])
                assert len(row) == len(columns), f"{heading}: ragged row {row}"
                rows.append(row)
                index += 1
            tables.append(Table(heading, columns, tuple(rows)))
            continue
        index += 1
    return tables


@cache
def mapping_tables() -> tuple[Table, ...]:
    return tuple(parse_tables(MAPPING.read_text(encoding="utf-8")))


def table(title: str) -> Table:
    """The one table whose heading is ``title``, or ``title`` followed by `` (...)``/`` → ...``."""
    found = [
        t
        for t in mapping_tables()
        if t.heading == title or re.match(rf"{re.escape(title)} [(→]", t.heading)
    ]
    assert len(found) == 1, f"mapping.md needs exactly one table headed {title!r}"
    return found[0]


_TAG = re.compile(r"(?:↳\s*)*(\d+)")


def tag_of(cell: str) -> int:
    match = _TAG.fullmatch(cell)
    assert match, f"not a FIX tag cell: {cell!r}"
    return int(match.group(1))


def column(t: Table, name: str) -> int:
    return t.columns.index(name)


def documented_tags(title: str) -> list[int]:
    """The FIX tags of a message table, in row order."""
    t = table(title)
    return [tag_of(row[column(t, "FIX tag")]) for row in t.rows]


# --- what the code sends ---------------------------------------------------------------------


@cache
def corpus(
    profile: Profile = Profile.EXCHANGE,
) -> tuple[tuple[gen.Rendered, ...], gen.Conversation]:
    app = gen.simulator_messages(profile)
    return tuple(app), gen.session_conversation(app)


@cache
def frames() -> tuple[tuple[tuple[int, str], ...], ...]:
    """Every frame the conversation wrote (exchange profile), as fields."""
    return tuple(split_fields(raw) for raw in corpus()[1].sent)


def split_frame(
    fields: tuple[tuple[int, str], ...],
) -> tuple[list[int], list[tuple[int, str]], list[int]]:
    """(header tags, body, trailer tags) of a frame FixSession wrote: SendingTime(52) and any
    PossResend(97) or routing tags after it end the header, CheckSum(10) is the trailer."""
    end = [tag for tag, _ in fields].index(52) + 1
    while fields[end][0] in ROUTING_REVERSED or fields[end][0] == POSS_RESEND:
        end += 1
    assert fields[-1][0] == 10
    return [tag for tag, _ in fields[:end]], list(fields[end:-1]), [10]


def test_the_run_covers_every_message_kind() -> None:
    app = corpus()[0]
    kinds = {kind: sum(1 for m in app if m.kind == kind) for kind in gen.KIND_MSG_TYPE}
    assert sum(kinds.values()) >= 10_000
    assert min(kinds.values()) >= 20, kinds
    sent_types = {dict(fields)[35] for fields in frames()}
    assert gen.SESSION_MSG_TYPES | {gen.BUSINESS_MESSAGE_REJECT} <= sent_types
    replayed = {dict(f)[35] for f in frames() if dict(f).get(43) == "Y"}
    assert "4" in replayed and replayed - gen.SESSION_MSG_TYPES, "no resend with a gap fill"


# --- (a) every tag sent is documented, and nothing else is ------------------------------------


@cache
def _sent_by_kind() -> dict[str, set[int]]:
    sent: dict[str, set[int]] = {kind: set() for kind in gen.KIND_MSG_TYPE}
    for message in corpus()[0]:
        sent[message.kind].update(tag for tag, _ in message.body)
    return sent


@pytest.mark.parametrize("kind", list(gen.KIND_MSG_TYPE))
def test_every_tag_sent_is_in_the_mapping(kind: str) -> None:
    missing = _sent_by_kind()[kind] - set(documented_tags(kind))
    assert not missing, f"{kind} sends tags that specs/mapping.md does not document: {missing}"


@pytest.mark.parametrize("kind", list(gen.KIND_MSG_TYPE))
def test_the_mapping_lists_only_tags_that_are_sent(kind: str) -> None:
    documented = documented_tags(kind)
    assert len(documented) == len(set(documented)), f"{kind}: a tag is listed twice"
    stale = set(documented) - _sent_by_kind()[kind]
    assert not stale, f"{kind}: mapping.md documents tags the simulator run never sends: {stale}"


@pytest.mark.parametrize("kind", list(gen.KIND_MSG_TYPE))
def test_the_mapping_lists_tags_in_the_order_they_are_sent(kind: str) -> None:
    rank = {tag: index for index, tag in enumerate(documented_tags(kind))}
    seen: set[tuple[int, ...]] = set()
    for message in corpus()[0]:
        if message.kind != kind:
            continue
        first = tuple(dict.fromkeys(tag for tag, _ in message.body))
        if first in seen:
            continue
        seen.add(first)
        ranks = [rank[tag] for tag in first if tag in rank]  # the test above reports the rest
        assert ranks == sorted(ranks), f"{kind}: sent in the order {first}"


def _session_rows() -> dict[tuple[str, int], str]:
    """(MsgType, tag) -> the "when sent" cell of the session table."""
    t = table(SESSION_TABLE)
    rows: dict[tuple[str, int], str] = {}
    for row in t.rows:
        key = (row[column(t, "MsgType")].split()[0], tag_of(row[column(t, "FIX tag")]))
        assert key not in rows, f"session table lists {key} twice"
        rows[key] = row[column(t, "when sent")]
    return rows


# Application messages the session layer makes, documented with the session messages.
SESSION_LAYER_APP_MESSAGES = {gen.BUSINESS_MESSAGE_REJECT, gen.EVENT_RESEND_COMPLETE,
                              gen.EVENT_RESEND_REJECT}  # fmt: skip
POSS_RESEND = 97


def test_every_session_message_tag_is_in_the_mapping() -> None:
    sent: set[tuple[str, int]] = set()
    for fields in frames():
        msg_type = dict(fields)[35]
        if msg_type in gen.SESSION_MSG_TYPES | SESSION_LAYER_APP_MESSAGES:
            sent.update((msg_type, tag) for tag, _ in split_frame(fields)[1])
    rows = _session_rows()
    missing = sent - rows.keys()
    assert not missing, f"session messages send tags mapping.md does not document: {missing}"
    header = set(documented_tags(HEADER_TABLE))
    read = {(t, tag) for t, tag in corpus()[1].read if tag not in header}
    for key, when in rows.items():
        assert (key in sent) == (when != "received"), f"{key}: 'when sent' says {when!r}"
        assert (key in read) == ("received" in when), f"{key}: 'received' is wrong"


def test_every_header_and_trailer_tag_is_in_the_mapping() -> None:
    used: set[int] = set()
    for fields in frames():
        header, _, trailer = split_frame(fields)
        used.update(header, trailer)
    documented = documented_tags(HEADER_TABLE)
    assert used - set(documented) == set(), "header tags missing from mapping.md"
    assert set(documented) - used == set(), "mapping.md lists header tags never sent"
    rank = {tag: index for index, tag in enumerate(documented)}
    for order in {tuple(split_frame(fields)[0]) for fields in frames()}:
        assert [rank[tag] for tag in order] == sorted(rank[tag] for tag in order), order


# --- (b) every value of every mapped enum is in its table, and says what the code does ------

# Enum -> {FIX tag column: what the code makes of an enum number (None: the tag is not sent)}.
Lookup = Callable[[int], object]
MAPPED_ENUMS: Mapping[str, Mapping[int, Lookup]] = {
    "ExecutionType": {150: enums.fix_exec_type},
    "OrderState": {39: lambda n: _state_status(n)},
    "OrderType": {40: enums.fix_ord_type},
    "TimeInForce": {59: enums.fix_time_in_force},
    "Side": {54: enums.fix_side},
    "OrdRejectReason": {103: enums.fix_ord_rej_reason},
    "UnsolicitedCxlReason": {378: lambda n: enums.fix_exec_restatement_reason(n, text="")},
    "ManualOrderIndicator": {
        1028: lambda n: _yes_no(enums.fix_manual_order_indicator(n)),
    },
    "TradeType": {
        828: lambda n: enums.trade_type_name(n) and enums.TRD_TYPE_REGULAR,
        829: lambda n: enums.TRD_SUB_TYPE.get(enums.trade_type_name(n)),
        855: lambda n: enums.SECONDARY_TRD_TYPE.get(enums.trade_type_name(n)),
    },
    "TradeState": {
        939: lambda n: enums.TRD_RPT_STATUS[enums.trade_state_name(n)],
        150: lambda n: enums.TRADE_EXEC_TYPE[enums.trade_state_name(n)],
        58: enums.trade_state_name,
    },
    "InstrumentState": {
        326: enums.fix_security_trading_status,
        965: enums.fix_security_status,
        625: enums.fix_trading_session_sub_id,
        58: enums.instrument_state_name,
    },
}


def _state_status(number: int) -> str:
    """An OrderState's own OrdStatus (the table's column); unknown numbers are refused."""
    if number in enums.ORD_STATUS:
        return enums.ORD_STATUS[number]
    exec_type = "5" if number == enums_pb2.ORDER_STATE_REPLACED else "0"
    return enums.fix_ord_status(
        number, exec_type=exec_type, cum_qty=Decimal(0), leaves_qty=Decimal(1)
    )


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else "Y" if value else "N"


def proto_values(enum_name: str) -> dict[str, int]:
    enum = enums_pb2.DESCRIPTOR.enum_types_by_name[enum_name]
    return {value.name: value.number for value in enum.values}


def _tag_columns(t: Table) -> dict[int, int]:
    """FIX tag -> column index, for the columns headed ``<tag> <Name>``."""
    return {
        int(match.group(1)): index
        for index, name in enumerate(t.columns)
        if (match := re.match(r"(\d+) ", name))
    }


@pytest.mark.parametrize("enum_name", list(MAPPED_ENUMS))
def test_every_enum_value_is_in_its_table(enum_name: str) -> None:
    t = table(enum_name)
    listed = {row[0].strip("`"): row[1] for row in t.rows if row[0] != UNKNOWN_ROW}
    values = proto_values(enum_name)
    assert listed.keys() == values.keys(), f"{enum_name}: values missing or unknown"
    assert {name: int(number) for name, number in listed.items()} == values
    assert t.rows[-1][0] == UNKNOWN_ROW, f"{enum_name}: say what an unknown number becomes"
    assert set(_tag_columns(t)) == set(MAPPED_ENUMS[enum_name])


def test_every_other_enum_is_listed_as_not_mapped() -> None:
    not_mapped = {row[0] for row in table(NOT_MAPPED_TABLE).rows}
    all_enums = set(enums_pb2.DESCRIPTOR.enum_types_by_name)
    assert not_mapped | set(MAPPED_ENUMS) == all_enums
    assert not not_mapped & set(MAPPED_ENUMS)


_VALUE = re.compile(r"`([^`]+)`")


def _expected(cell: str) -> tuple[str, object]:
    """What a FIX value cell claims: ("value", v), ("absent", None), ("error", None) or
    ("prose", None) for a rule told in words (not checked here)."""
    if cell.startswith("`"):
        match = _VALUE.match(cell)
        assert match is not None
        return "value", match.group(1)
    if cell.startswith("not sent"):
        return "absent", None
    if cell.startswith("NormalizationError"):
        return "error", None
    return "prose", None


@pytest.mark.parametrize("enum_name", list(MAPPED_ENUMS))
def test_enum_tables_say_what_the_code_does(enum_name: str) -> None:
    t = table(enum_name)
    values = proto_values(enum_name)
    for row in t.rows:
        number = UNKNOWN_NUMBER if row[0] == UNKNOWN_ROW else values[row[0].strip("`")]
        for tag, index in _tag_columns(t).items():
            claim, value = _expected(row[index])
            lookup = MAPPED_ENUMS[enum_name][tag]
            where = f"{enum_name} {row[0]} -> {tag}"
            if claim == "error":
                with pytest.raises(NormalizationError):
                    lookup(number)
            elif claim == "value":
                assert lookup(number) == value, where
            elif claim == "absent":
                assert lookup(number) is None, where


# --- (c) each profile: what differs from exchange is what profiles.py and mapping.md say ----


def _tags_by_kind(profile: Profile) -> dict[str, set[int]]:
    sent: dict[str, set[int]] = {kind: set() for kind in gen.KIND_MSG_TYPE}
    for message in corpus(profile)[0]:
        sent[message.kind].update(tag for tag, _ in message.body)
    return sent


@pytest.mark.parametrize("profile", list(Profile))
def test_a_profile_sends_what_exchange_sends_less_what_it_leaves_out(profile: Profile) -> None:
    exchange, sent = _tags_by_kind(Profile.EXCHANGE), _tags_by_kind(profile)
    for kind, msg_type in gen.KIND_MSG_TYPE.items():
        if profile not in gen.KIND_PROFILES.get(kind, frozenset(Profile)):
            assert sent[kind] == set(), f"{kind} is not sent in {profile}"
            continue
        left_out = profiles.LEFT_OUT.get(profile, {}).get(msg_type, frozenset())
        assert sent[kind] == exchange[kind] - left_out, kind


def _profile_rows() -> set[tuple[str, str, int, str, str]]:
    """(profile, MsgType, tag, exchange value, profile value) rows of mapping.md's table."""
    t = table(PROFILE_TABLE)
    rows = set()
    for row in t.rows:
        cell = {name: row[column(t, name)] for name in t.columns}
        rows.add((
            cell["fix_profile"].strip("`"), cell["MsgType"].split()[0], tag_of(cell["FIX tag"]),
            cell["exchange sends"].strip("`"), cell["the profile sends"].strip("`"),
        ))  # fmt: skip
    return rows


def _coded_differences() -> set[tuple[str, str, int, str, str]]:
    """The same rows, from the code: profiles.py and the latest profile's value tables."""
    rows = set()
    for profile, by_type in profiles.LEFT_OUT.items():
        for msg_type, tags in by_type.items():
            rows |= {(profile.value, msg_type, tag, "any", "left out") for tag in tags}
    for profile, by_field in profiles.REPLACED.items():
        for (msg_type, tag), values in by_field.items():
            rows |= {
                (profile.value, msg_type, tag, old, "left out" if new is None else new)
                for old, new in values.items()
            }
    latest = Profile.LATEST.value
    for reason, code in enums.LATEST_EXEC_RESTATEMENT_REASON.items():
        exchange = (
            enums.SMP_EXEC_RESTATEMENT_REASON if reason == enums.SMP_CANCEL_REASON
            else enums.EXEC_RESTATEMENT_REASON[
                next(n for n, name in enums.CANCEL_REASON_NAME.items() if name == reason)
            ]
        )  # fmt: skip
        if code != exchange:
            rows.add((latest, "8", 378, exchange, code))
    for profile, versions in ((latest, enums.LATEST_TRADE_REPORT_VERSION),
                              (Profile.FIX50SP2.value, enums.FIX50SP2_TRADE_REPORT_VERSION)):
        for key, sent in versions.items():
            for tag, exchange, value in zip((487, 856), enums.TRADE_REPORT_VERSION[key], sent,
                                            strict=True):  # fmt: skip
                if value != exchange:
                    rows.add((profile, "AE", tag, exchange, value))
    return rows


def test_the_mapping_lists_every_profile_difference_and_only_those() -> None:
    documented, coded = _profile_rows(), _coded_differences()
    assert documented - coded == set(), "mapping.md lists differences the code does not make"
    assert coded - documented == set(), "the code makes differences mapping.md does not list"


def test_fix50sp2_positions_carry_no_pos_type_the_original_dictionary_lacks() -> None:
    sent = {
        value for message in corpus(Profile.FIX50SP2)[0] if message.kind == gen.POSITION_REPORT
        for tag, value in message.body if tag == 703
    }  # fmt: skip
    assert {"SOD", "TQ"} <= sent <= {"SOD", "TQ", "PA"}, sent


# --- (d) QuickFIX loads each profile's dictionaries and accepts every frame it is sent -------


@cache
def _our_dictionaries(profile: Profile) -> tuple[Any, Any, Any]:
    quickfix = pytest.importorskip("quickfix")
    folder = gen.DICTIONARIES / profile.value
    transport = quickfix.DataDictionary(str(folder / gen.TRANSPORT_FILE))
    application = quickfix.DataDictionary(str(folder / gen.APPLICATION_FILE))
    for dictionary in (transport, application):
        dictionary.checkFieldsOutOfOrder(True)
        dictionary.checkFieldsHaveValues(True)
        dictionary.checkUserDefinedFields(True)
    return quickfix, transport, application


def _validate(raw: bytes, profile: Profile) -> None:
    """Parse and validate as a QuickFIX FIXT session does: admin messages against the
    transport dictionary alone, application messages against both."""
    quickfix, transport, application = _our_dictionaries(profile)
    message = quickfix.Message(raw.decode("utf-8"), transport, application, True)
    is_admin = dict(split_fields(raw))[35] in gen.SESSION_MSG_TYPES
    quickfix.DataDictionary.validate(message, transport, transport if is_admin else application)


@pytest.mark.parametrize("profile", list(Profile))
def test_quickfix_accepts_every_frame_against_the_profiles_dictionaries(
    profile: Profile,
) -> None:
    _our_dictionaries(profile)
    failures: list[str] = []
    for raw in corpus(profile)[1].sent:
        try:
            _validate(raw, profile)
        except Exception as exc:  # QuickFIX raises its own exception types
            failures.append(f"{exc} in {raw[:160]!r}...")
    assert not failures, f"{len(failures)} frames rejected, e.g. {failures[:3]}"


@pytest.mark.parametrize("profile", list(Profile))
def test_the_profiles_dictionaries_reject_what_fixbridge_does_not_send(profile: Profile) -> None:
    _our_dictionaries(profile)
    report = next(raw for raw in corpus(profile)[1].sent if b"\x0135=8\x01" in raw)
    for extra in (b"167=EVENT\x01", b"5001=X\x01", b"625=4\x01"):
        raw = _reframe(report, extra)
        with pytest.raises(Exception, match=r"\b(167|5001|625)\b"):
            _validate(raw, profile)


def test_the_fix50sp2_dictionaries_reject_what_only_exchange_sends() -> None:
    _our_dictionaries(Profile.FIX50SP2)
    report = next(raw for raw in corpus(Profile.FIX50SP2)[1].sent if b"\x01150=F\x01" in raw)
    with pytest.raises(Exception, match=r"\b828\b"):
        _validate(_reframe(report, b"828=0\x01"), Profile.FIX50SP2)


def _reframe(raw: bytes, extra: bytes) -> bytes:
    """``raw`` with ``extra`` appended to its body, BodyLength and CheckSum made right."""
    content = encode_fields(split_fields(raw)[2:-1]) + extra
    message = b"8=FIXT.1.1\x019=%d\x01" % len(content) + content
    return message + b"10=%03d\x01" % checksum(message)


# --- (e) the committed dictionaries are what the generator makes -----------------------------


@pytest.mark.parametrize("profile", list(Profile))
def test_committed_dictionaries_match_the_generator(profile: Profile) -> None:
    version = gen.PROFILE_STOCK[profile]
    stock = stock_dir_or_skip(version)
    app, talk = corpus(profile)
    generated = gen.generate(stock, profile, app, talk)
    for name, text in (
        (gen.TRANSPORT_FILE, generated.transport),
        (gen.APPLICATION_FILE, generated.application),
    ):
        committed = (gen.DICTIONARIES / profile.value / name).read_text(encoding="utf-8")
        assert committed == text, (
            f"specs/dictionaries/{profile.value}/{name} is stale: run python"
            " specs/generate_dictionary.py --stock 1.16.0=DIR --stock 1.15.1=DIR"
        )
