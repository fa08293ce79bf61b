"""Precompiled body encoders: one journal event straight to its FIX body bytes, per session style.

The generic path renders a body as a list of (tag, value) pairs
(:func:`fixbridge.normalize.execution.execution_report_body`), passes it through the profile's
table (:func:`fixbridge.normalize.profiles.conform`) and encodes it
(:func:`fixbridge.fix.codec.encode_fields`). That path stays the reference. Here the same body is
compiled once per :class:`RenderStyle`: which tags the profile leaves out, which values it
replaces, the identifier and timestamp choices and the ``tag=`` prefixes are all settled at
compile time, and what is left is one straight-line function of the event that formats its
values into one string and encodes it once.

What this module must never do: produce other bytes than the reference path for any event and
style (tests/unit/test_fix_compiled_bodies.py checks it field for field and byte for byte, and
against simplefix); put a float anywhere near a price (decimals are formatted by
:func:`fixbridge.normalize.scale.fix_decimal`, as the reference does); or send a value holding
SOH (the reference raises :class:`~fixbridge.fix.codec.FieldError`, and so does this: an event
whose body does not come out with exactly one SOH per field is handed to the reference path).
Pure: no I/O, no clock.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from fixbridge.fix.codec import encode_fields
from fixbridge.normalize import enums
from fixbridge.normalize.body import (
    COMM_TYPE_ABSOLUTE,
    COPY_MSG_INDICATOR,
    FIX_BOOLEAN,
    PRODUCT_OTHER,
    SECURITY_ID_SOURCE_EXCHANGE_SYMBOL,
)
from fixbridge.normalize.execution import (
    UNPRICED_ORD_TYPES,
    ExecutionEvent,
    execution_report_body,
)
from fixbridge.normalize.parties import (
    PARTY_ID_SOURCE_PROPRIETARY,
    ROLE_CLIENT_ID,
    ROLE_CUSTOMER_ACCOUNT,
    ROLE_ENTERING_TRADER,
    ROLE_EXECUTING_FIRM,
    short_name,
)
from fixbridge.normalize.profiles import LEFT_OUT, REPLACED
from fixbridge.normalize.scale import plain_decimal
from fixbridge.normalize.style import Identifiers, Profile, RenderStyle
from fixbridge.normalize.timestamps import Precision, whole_second

ExecutionEncoder = Callable[[ExecutionEvent], bytes]

_EXECUTION_REPORT: Final = "8"
_NS_PER_S: Final = 1_000_000_000
_ALWAYS: Final = "always"  # the reference appends the pair whatever the value
_TRUTHY: Final = "truthy"  # the reference's put(): only a non-empty value
_NOT_NONE: Final = "not None"  # an optional field the reference tests with "is not None"


@dataclass(frozen=True, slots=True)
class _Field:
    """One field of the reference body: its tag, how its value is computed (a Python
    expression of the event ``e`` and the compile-time names, or a constant) and when the
    reference emits it."""

    tag: int
    expression: str | None = None  # None: the value is ``constant``, sent whatever the guard
    constant: str = ""
    guard: str = _ALWAYS


@dataclass(frozen=True, slots=True)
class _When:
    """Fields the reference emits only under ``condition`` (a Python expression)."""

    condition: str
    fields: tuple[_Field | _Parties, ...]


@dataclass(frozen=True, slots=True)
class _Parties:
    """The Parties component: 453 = how many of ``party_ids`` are non-empty, then 448, 447 and
    452 for each of them (normalize/parties.py ``parties``)."""

    party_ids: tuple[tuple[str, str], ...]  # (expression of the PartyID, PartyRole)


_Part = _Field | _When | _Parties


def _execution_report_layout(style: RenderStyle) -> tuple[_Part, ...]:
    """The ExecutionReport body of normalize/execution.py ``_body``, field by field, in its
    order and with its conditions (before the profile's table is applied)."""
    restatement = "e.exec_restatement_reason"
    if style.profile is Profile.LATEST:
        restatement = (
            "(e.exec_restatement_reason if e.cancel_reason is None"
            " else latest_378.get(e.cancel_reason, e.exec_restatement_reason))"
        )
    if style.identifiers is Identifiers.RESOURCE_NAMES:
        firm = '("firms/" + e.firm if e.firm else e.firm)'
        end_client, account, participant = "e.end_client", "e.account", "e.participant"
    else:
        firm = "e.firm"
        end_client, account, participant = "short(e.end_client)", "acct", "short(e.participant)"
    return (
        _Field(37, "e.order_id"),
        _Field(11, "e.cl_ord_id", guard=_TRUTHY),
        _Field(41, "e.orig_cl_ord_id", guard=_TRUTHY),
        _Parties(
            (
                (firm, ROLE_EXECUTING_FIRM),
                (end_client, ROLE_CLIENT_ID),
                (account, ROLE_CUSTOMER_ACCOUNT),
                (participant, ROLE_ENTERING_TRADER),
            )
        ),
        _When("fill", (_Field(880, "e.trade_id", guard=_TRUTHY),)),
        _Field(17, "e.exec_id"),
        _Field(150, "e.exec_type"),
        _Field(39, "e.ord_status"),
        _Field(103, "e.ord_rej_reason", guard=_TRUTHY),
        _Field(378, restatement, guard=_TRUTHY),
        _When("fill", (_Field(828, constant=enums.TRD_TYPE_REGULAR),)),
        # account_and_order
        _Field(1, account, guard=_TRUTHY),
        _Field(55, "e.symbol"),
        _Field(48, "e.symbol"),
        _Field(22, constant=SECURITY_ID_SOURCE_EXCHANGE_SYMBOL),
        _Field(460, constant=PRODUCT_OTHER),
        _Field(54, "e.side"),
        _Field(38, _decimal("e.order_qty")),
        _Field(40, "e.ord_type", guard=_TRUTHY),
        _When(
            "e.price != 0 or e.ord_type not in unpriced",
            (_Field(44, _decimal("e.price")),),
        ),
        _Field(99, _decimal("e.stop_px")),
        _Field(59, "e.time_in_force"),
        _When(
            "e.expire_time_ns is not None",
            (_Field(126, _timestamp("e.expire_time_ns", style.precision)),),
        ),
        # the rest of _body
        _When("e.aggressor is not None", (_Field(1057, "yes_no[e.aggressor]"),)),
        _Field(32, _decimal("e.last_qty")),
        _Field(31, _decimal("e.last_px")),
        _Field(151, _decimal("e.leaves_qty")),
        _Field(14, _decimal("e.cum_qty")),
        _Field(6, _decimal("e.avg_px")),
        _Field(75, "e.trade_date", guard=_TRUTHY),
        _Field(60, _timestamp("e.transact_time_ns", style.precision)),
        _When(
            "e.commission is not None",
            (_Field(12, _decimal("e.commission")), _Field(13, constant=COMM_TYPE_ABSOLUTE)),
        ),
        _When("e.gross_trade_amt is not None", (_Field(381, _decimal("e.gross_trade_amt")),)),
        _When("e.settl_curr_amt is not None", (_Field(119, _decimal("e.settl_curr_amt")),)),
        _When("e.min_qty is not None", (_Field(110, _decimal("e.min_qty")),)),
        _Field(58, "e.text", guard=_TRUTHY),
        _Field(797, constant=COPY_MSG_INDICATOR),
        _When(
            "e.manual_order_indicator is not None",
            (_Field(1028, "yes_no[e.manual_order_indicator]"),),
        ),
    )


def _decimal(attribute: str) -> str:
    """The expression of :func:`fix_decimal` of ``attribute``, without its call."""
    return f"(plain({attribute}) if {attribute} else '0')"


def _timestamp(attribute: str, precision: Precision) -> str:
    """The expression of :func:`format_utc_timestamp` of ``attribute`` at ``precision``,
    without its call: the whole second's text, then the fraction truncated to the digits."""
    whole = f"second({attribute} // {_NS_PER_S})"
    digits = precision.digits
    if digits == 0:
        return whole
    fraction = f"{attribute} % {_NS_PER_S} // {10 ** (9 - digits)}"
    return f"f'{{{whole}}}.{{{fraction}:0{digits}d}}'"


def _literal(text: str) -> str:
    """``text`` as literal text inside an f-string template (braces doubled)."""
    return text.replace("{", "{{").replace("}", "}}")


class _Compiler:
    """Writes the source of one encoder: a function ``encode(e)`` that appends to the local
    string ``s`` and counts the fields it emits in ``n`` beyond the ``fixed`` ones."""

    def __init__(self, msg_type: str, profile: Profile) -> None:
        self.left_out = LEFT_OUT.get(profile, {}).get(msg_type, frozenset())
        tables = REPLACED.get(profile, {})
        self.replaced = {tag: table for (kind, tag), table in tables.items() if kind == msg_type}
        self.namespace: dict[str, Any] = {}
        self.lines: list[str] = []
        self.pending: list[str] = []  # f-string template pieces not yet appended to s
        self.pending_counted = 0  # how many of them are conditional fields (counted in n)
        self.fixed = 0  # fields emitted on every path
        self.temporaries = 0

    def _name(self, value: object) -> str:
        """A compile-time name bound to ``value`` in the encoder's namespace."""
        name = f"k{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def _temporary(self) -> str:
        self.temporaries += 1
        return f"v{self.temporaries}"

    def flush(self, indent: str) -> None:
        """Append the pending template pieces to ``s`` in one f-string."""
        if self.pending:
            self.lines.append(f"{indent}s += f{''.join(self.pending)!r}")
            if self.pending_counted:
                self.lines.append(f"{indent}n += {self.pending_counted}")
            self.pending = []
            self.pending_counted = 0

    def emit(self, tag: int, piece: str, conditional: bool) -> None:
        """``tag=<piece>\\x01`` (``piece`` is template text: ``{expression}``)."""
        self.pending.append(f"{tag}={piece}\x01")
        if conditional:
            self.pending_counted += 1
        else:
            self.fixed += 1

    def field(self, field: _Field, indent: str, conditional: bool) -> None:
        tag = field.tag
        if tag in self.left_out:
            return
        table = self.replaced.get(tag)
        if field.expression is None:  # a constant (always sent): the table applies now
            text = self.constant_field(tag, field.constant)
            if text is not None:
                self.pending.append(_literal(text))
                if conditional:
                    self.pending_counted += 1
                else:
                    self.fixed += 1
            return
        if field.guard == _ALWAYS and table is None:
            self.emit(tag, f"{{{field.expression}}}", conditional)
            return
        self.flush(indent)
        value = self._temporary()
        self.lines.append(f"{indent}{value} = {field.expression}")
        inner = indent
        if field.guard == _TRUTHY:
            self.lines.append(f"{inner}if {value}:")
            inner += "    "
        elif field.guard == _NOT_NONE:
            self.lines.append(f"{inner}if {value} is not None:")
            inner += "    "
        if table is not None:
            inner = self._through_table(value, table, inner)
        self.emit(tag, f"{{{value}}}", conditional=True)
        self.flush(inner)

    def when(self, when: _When, indent: str) -> None:
        self.flush(indent)
        start = len(self.lines)
        self.lines.append(f"{indent}if {when.condition}:")
        for part in when.fields:
            self.part(part, indent + "    ", conditional=True)
        self.flush(indent + "    ")
        if len(self.lines) == start + 1:  # everything inside was left out
            del self.lines[start:]

    def parties(self, parties: _Parties, indent: str, conditional: bool) -> None:
        """Each party with a non-empty PartyID, in order, after their count in 453."""
        self.flush(indent)
        group = self._temporary()
        count = self._temporary()
        self.lines.append(f"{indent}{group} = ''")
        self.lines.append(f"{indent}{count} = 0")
        source = self.constant_field(447, PARTY_ID_SOURCE_PROPRIETARY)
        for expression, role in parties.party_ids:
            party_id = self._temporary()
            self.lines.append(f"{indent}{party_id} = {expression}")
            self.lines.append(f"{indent}if {party_id}:")
            self.lines.append(f"{indent}    {count} += 1")
            entry = self._group_entry(party_id, source, self.constant_field(452, role), indent)
            if entry:
                self.lines.append(f"{indent}    {group} += {entry}")
        # 453 = the count, through the profile's table like any value.
        self.lines.append(f"{indent}if {count}:")
        inner = indent + "    "
        if 453 not in self.left_out:
            self.lines.append(f"{inner}{count} = str({count})")
            table = self.replaced.get(453)
            at = inner if table is None else self._through_table(count, table, inner)
            self.lines.append(f"{at}s += f'453={{{count}}}\\x01'")
            self.lines.append(f"{at}n += 1")
        self.lines.append(f"{inner}s += {group}")

    def _through_table(self, variable: str, table: object, indent: str) -> str:
        """Code putting ``variable`` through the profile's value ``table`` (a value it maps to
        None is left out); the indent of what is then sent only when it is not None."""
        name = self._name(table)
        self.lines.append(f"{indent}if {variable} in {name}:")
        self.lines.append(f"{indent}    {variable} = {name}[{variable}]")
        self.lines.append(f"{indent}if {variable} is not None:")
        return indent + "    "

    def constant_field(self, tag: int, value: str) -> str | None:
        """``tag=value\\x01`` of a constant as the profile sends it, or None when left out."""
        if tag in self.left_out:
            return None
        table = self.replaced.get(tag)
        if table is not None and value in table:
            substitute = table[value]
            if substitute is None:
                return None
            value = substitute
        return f"{tag}={value}\x01"

    def _group_entry(
        self, party_id: str, source: str | None, role: str | None, indent: str
    ) -> str:
        """The expression of one party's 448, 447 and 452; counts them in ``n`` as it goes."""
        inner = indent + "    "
        pieces: list[str] = []
        emitted = 0
        if 448 not in self.left_out:
            table = self.replaced.get(448)
            if table is None:
                pieces.append(f"448={{{party_id}}}\x01")
                emitted += 1
            else:  # a variable value through a table: its own statement
                at = self._through_table(party_id, table, inner)
                self.lines.append(f"{at}s_448 = f'448={{{party_id}}}\\x01'")
                self.lines.append(f"{at}n += 1")
                self.lines.append(f"{inner}else:")
                self.lines.append(f"{inner}    s_448 = ''")
                pieces.append("{s_448}")
        for constant in (source, role):
            if constant is not None:
                pieces.append(_literal(constant))
                emitted += 1
        if emitted:
            self.lines.append(f"{inner}n += {emitted}")
        return f"f{''.join(pieces)!r}" if pieces else ""

    def part(self, part: _Part, indent: str, conditional: bool) -> None:
        if isinstance(part, _Field):
            self.field(part, indent, conditional)
        elif isinstance(part, _When):
            self.when(part, indent)
        else:
            self.parties(part, indent, conditional)

    def source(self, parts: tuple[_Part, ...], prologue: list[str]) -> str:
        for part in parts:
            self.part(part, "    ", conditional=False)
        self.flush("    ")
        body = self.lines
        head = ["def encode(e):", "    s = ''", "    n = 0", *prologue]
        tail = [
            "    if s.count('\\x01') != n + fixed:",
            "        return reference(e)",
            "    return s.encode('utf-8')",
        ]
        return "\n".join(head + body + tail)


@functools.lru_cache(maxsize=64)
def execution_report_encoder(style: RenderStyle) -> ExecutionEncoder:
    """The ExecutionReport (35=8) body encoder of ``style``: ``encoder(event)`` is
    ``encode_fields(execution_report_body(event, style))``, byte for byte."""
    compiler = _Compiler(_EXECUTION_REPORT, style.profile)
    prologue = ["    fill = e.is_fill"]
    if style.identifiers is not Identifiers.RESOURCE_NAMES:
        prologue.append("    acct = short(e.account)")
    source = compiler.source(_execution_report_layout(style), prologue)

    def reference(event: ExecutionEvent) -> bytes:
        # Raises FieldError for the value holding SOH, as the reference path does.
        return encode_fields(execution_report_body(event, style))

    namespace: dict[str, Any] = {
        **compiler.namespace,
        "fixed": compiler.fixed,
        "reference": reference,
        "plain": plain_decimal,
        "second": whole_second,
        "short": short_name,
        "yes_no": FIX_BOOLEAN,
        "unpriced": UNPRICED_ORD_TYPES,
        "latest_378": enums.LATEST_EXEC_RESTATEMENT_REASON,
    }
    exec(compile(source, f"<ExecutionReport encoder {style}>", "exec"), namespace)
    encoder: ExecutionEncoder = namespace["encode"]
    encoder.__doc__ = source  # what was compiled, for a reader in a debugger
    return encoder


__all__ = ["ExecutionEncoder", "execution_report_encoder"]
