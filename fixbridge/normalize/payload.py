"""The journal payload of a normalized event: one compact JSON object, keys = dataclass fields.

This module is the one owner of payload encoding and decoding: every event type (and the
journal's own migrations) goes through a :class:`PayloadCodec`. Decimals travel as strings and
``None`` is kept, so the round trip is exact. A field whose type is itself a dataclass (a trade
side holds an execution) is a nested JSON object with the same rules.

Decoding is strict: a payload with unknown keys, or a value of the wrong type, raises
NormalizationError naming the field path (``payload.aggressor.execution.order_id``), never
anything else. Compatibility with payloads journaled by earlier versions is explicit: a field
added later has a default and may be absent; a field removed later is listed as *retired* and
is accepted and ignored.
"""

from __future__ import annotations

import dataclasses
import json
import operator
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Generic, TypeVar, get_args, get_type_hints

import pydantic_core

from fixbridge.normalize.construct import slot_setters
from fixbridge.normalize.errors import NormalizationError

Decoder = Callable[[str, object], object]
_E = TypeVar("_E")
_T = TypeVar("_T")


def _error(path: str, reason: str, value: object) -> NormalizationError:
    return NormalizationError(f"payload.{path}", reason, value)


def decode_str(path: str, raw: object) -> str:
    if not isinstance(raw, str):
        raise _error(path, "expected a string", raw)
    return raw


def decode_int(path: str, raw: object) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise _error(path, "expected an integer", raw)
    return raw


def decode_bool(path: str, raw: object) -> bool:
    if not isinstance(raw, bool):
        raise _error(path, "expected a boolean", raw)
    return raw


def decode_decimal(path: str, raw: object) -> Decimal:
    if not isinstance(raw, str):
        raise _error(path, "expected a decimal string", raw)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise _error(path, "not a decimal", raw) from None
    if not value.is_finite():
        raise _error(path, "not a finite decimal", raw)
    return value


def optional(decode: Callable[[str, object], _T]) -> Callable[[str, object], _T | None]:
    def decode_optional(path: str, raw: object) -> _T | None:
        return None if raw is None else decode(path, raw)

    return decode_optional


def one_of(names: frozenset[str]) -> Decoder:
    """A string that must be one of ``names`` (e.g. the exchange's enum names)."""

    def decode(path: str, raw: object) -> str:
        value = decode_str(path, raw)
        if value not in names:
            raise _error(path, "not a known name", value)
        return value

    return decode


_BY_TYPE: Final[Mapping[object, Decoder]] = {
    str: decode_str,
    int: decode_int,
    bool: decode_bool,
    Decimal: decode_decimal,
    str | None: optional(decode_str),
    int | None: optional(decode_int),
    bool | None: optional(decode_bool),
    Decimal | None: optional(decode_decimal),
}


# Decoders whose checks the compiled decoder inlines ("?": None allowed too).
_INLINE: Final[Mapping[Decoder, str]] = {
    _BY_TYPE[str]: "str", _BY_TYPE[int]: "int", _BY_TYPE[bool]: "bool",
    _BY_TYPE[Decimal]: "decimal", _BY_TYPE[str | None]: "str?", _BY_TYPE[int | None]: "int?",
    _BY_TYPE[bool | None]: "bool?", _BY_TYPE[Decimal | None]: "decimal?",
}  # fmt: skip


def _encode_value(value: object) -> object:
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is Decimal:
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        codec = _NESTED.get(type(value))
        return codec.document(value) if codec is not None else _document(value)
    if value is None or isinstance(value, str | int | bool):
        return value
    raise TypeError(f"no payload encoding for {type(value).__name__}")


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}

# The types a document's values may have for :meth:`PayloadCodec.encode`'s fast path: JSON's
# own, and Decimal (which pydantic-core writes as the string ``str(value)``, as the general
# path does). A value of any other type (a nested event, or one that has no encoding, such as
# a float) takes the general path, which converts or refuses it exactly as before.
_PLAIN_TYPES: Final = frozenset({str, int, bool, type(None), Decimal})


def _document(event: object) -> dict[str, object]:
    names = _FIELD_NAMES.get(type(event))
    if names is None:
        fields = dataclasses.fields(event)  # type: ignore[arg-type]
        names = _FIELD_NAMES[type(event)] = tuple(spec.name for spec in fields)
    return {name: _encode_value(getattr(event, name)) for name in names}


def read_json(data: bytes) -> Any:
    """The JSON document ``data`` holds (UTF-8). Parsed by pydantic-core's parser, about twice
    as fast as ``json`` on a journal payload; whatever it refuses is parsed again by ``json``,
    whose answer (a document or the error) then stands, so the result is always ``json``'s:
    tests/unit/test_normalize_payload_json.py holds the two parsers equal on what the first
    accepts."""
    try:
        return pydantic_core.from_json(data)
    except ValueError:
        pass
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise NormalizationError("payload", f"not UTF-8 JSON: {exc}") from None


class PayloadCodec(Generic[_E]):
    """Encoder and strict decoder for one event dataclass ``cls``.

    ``overrides`` replaces the decoder chosen from a field's annotation (e.g. :func:`one_of`);
    ``retired`` lists keys earlier versions wrote that are now ignored; ``flatten`` names a
    dataclass-typed field whose own fields are written in this object's document.
    """

    def __init__(
        self,
        cls: type[_E],
        *,
        overrides: Mapping[str, Decoder] | None = None,
        retired: frozenset[str] = frozenset(),
        flatten: str | None = None,
    ) -> None:
        self.cls = cls
        self._flatten = flatten
        hints = get_type_hints(cls)
        specs = dataclasses.fields(cls)  # type: ignore[arg-type]
        chosen = dict(overrides or {})
        self._decoders: dict[str, Decoder] = {}
        for spec in specs:
            decoder = chosen.get(spec.name)
            if decoder is None:
                decoder = _decoder_for(hints[spec.name])
            self._decoders[spec.name] = decoder
        self._defaulted = frozenset(
            spec.name
            for spec in specs
            if spec.default is not dataclasses.MISSING
            or spec.default_factory is not dataclasses.MISSING
        )
        self._retired = retired
        # Each field's place in the JSON, per place of the object (a few: top, each side).
        self._paths: dict[str, dict[str, str]] = {}
        # The compiled decoder of a document holding exactly this version's keys, per place.
        self._fast: dict[str, Callable[[dict[str, Any]], _E]] = {}
        self._keys = frozenset(self._decoders)
        # The fields' names and a getter of all their values at once (one C call), for encode.
        self._names = tuple(spec.name for spec in specs)
        self._values: Callable[[_E], tuple[object, ...]] | None = (
            operator.attrgetter(*self._names) if len(self._names) > 1 else None
        )

    def document(self, event: _E) -> dict[str, object]:
        """The event's JSON object (before serialization), in field order."""
        document = _document(event)
        if self._flatten is not None:
            inner = document.pop(self._flatten)
            assert isinstance(inner, dict)
            document = {**inner, **document}
        return document

    def encode(self, event: _E) -> bytes:
        """Compact JSON of the event's fields, in field order.

        Fast path: when every value is of a plain type (:data:`_PLAIN_TYPES`), pydantic-core's
        JSON writer takes the values as they are: compact, UTF-8 kept as is, a Decimal as the
        string ``str(value)``, the same bytes as the general path (``json.dumps`` of
        :meth:`document`), several times faster; tests/unit/test_ingest_fast_paths.py holds them
        equal. Anything it refuses takes the general path, which then decides."""
        getter = self._values
        if getter is not None and self._flatten is None and type(event) is self.cls:
            values = getter(event)
            if _PLAIN_TYPES.issuperset(map(type, values)):
                try:
                    return pydantic_core.to_json(dict(zip(self._names, values, strict=True)))
                except pydantic_core.PydanticSerializationError:
                    pass
        document = self.document(event)
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def decode(self, data: bytes) -> _E:
        return self.from_document(read_json(data), "")

    def from_document(self, document: object, path: str) -> _E:
        """The event from an already parsed JSON object found at ``path`` ("" = top)."""
        if type(document) is dict and self._flatten is None and document.keys() == self._keys:
            fast = self._fast.get(path)
            if fast is None:
                fast = self._fast[path] = self._compile(path)
            try:
                return fast(document)
            except _NotFast:
                pass  # a value of the wrong kind: the checks below say which
        return self._checked(document, path)

    def _compile(self, path: str) -> Callable[[dict[str, Any]], _E]:
        """Straight-line decoding of a document with exactly this version's keys, for the
        decoders whose checks it can inline; it raises _NotFast on any value they would
        refuse, and the general path then raises the error that names it.

        A decimal is converted in line (Decimal of a string, finite). A frozen slots dataclass
        whose generated ``__init__`` only stores its arguments is filled through its slots, as
        that ``__init__`` does (``object.__setattr__`` per field), without the keyword call."""
        namespace: dict[str, Any] = {
            "cls": self.cls,
            "Decimal": Decimal,
            "InvalidOperation": InvalidOperation,
            "NotFast": _NotFast,
        }
        lines = ["def fast(d):", "    try:"]
        arguments = []
        for n, (name, decoder) in enumerate(self._decoders.items()):
            kind = _INLINE.get(decoder)
            value = f"d[{name!r}]"
            indent = "        "
            if kind is None:
                namespace[f"decode{n}"] = decoder
                lines.append(f"{indent}v{n} = decode{n}({self._path_of(path, name)!r}, {value})")
            elif kind.startswith("decimal"):
                lines.append(f"{indent}v{n} = {value}")
                if kind == "decimal?":
                    lines.append(f"{indent}if v{n} is not None:")
                    indent += "    "
                lines.append(f"{indent}if v{n}.__class__ is not str: raise NotFast")
                lines.append(f"{indent}v{n} = Decimal(v{n})")
                lines.append(f"{indent}if not v{n}.is_finite(): raise NotFast")
            else:
                optional_kind = kind.endswith("?")
                lines.append(f"{indent}v{n} = {value}")
                check = f"v{n}.__class__ is not {kind.rstrip('?')}"
                if optional_kind:
                    check = f"v{n} is not None and {check}"
                lines.append(f"{indent}if {check}: raise NotFast")
            arguments.append((name, f"v{n}"))
        lines.append("    except InvalidOperation:  # a string Decimal() does not read")
        lines.append("        raise NotFast from None")
        slots = slot_setters(self.cls)
        if slots is None:
            lines.append(f"    return cls({', '.join(f'{a}={v}' for a, v in arguments)})")
        else:
            namespace["new"] = object.__new__
            lines.append("    event = new(cls)")
            for name, variable in arguments:
                namespace[f"set_{variable}"] = slots[name]
                lines.append(f"    set_{variable}(event, {variable})")
            lines.append("    return event")
        exec("\n".join(lines), namespace)  # the source is built above from field names
        fast: Callable[[dict[str, Any]], _E] = namespace["fast"]
        return fast

    def _checked(self, document: object, path: str) -> _E:
        """Decoding with every check, for any document (older versions, wrong values)."""
        where = f"payload.{path}" if path else "payload"
        if not isinstance(document, dict):
            raise NormalizationError(where, "not a JSON object", type(document).__name__)
        if self._flatten is not None:
            own = self._decoders.keys() - {self._flatten}
            inner = {key: value for key, value in document.items() if key not in own}
            document = {key: value for key, value in document.items() if key in own}
            document[self._flatten] = inner
        keys = document.keys() - self._retired
        unknown = keys - self._decoders.keys()
        missing = self._decoders.keys() - keys - self._defaulted
        if unknown or missing:
            raise NormalizationError(where, "wrong set of keys", sorted(unknown | missing))
        paths = self._paths.get(path)
        if paths is None:
            paths = self._paths[path] = {name: self._path_of(path, name) for name in self._decoders}
        decoders = self._decoders
        values: dict[str, Any] = {
            name: decoders[name](paths[name], document[name]) for name in keys
        }
        return self.cls(**values)

    def _path_of(self, path: str, name: str) -> str:
        """Where field ``name`` sits in the JSON (a flattened field sits at ``path`` itself)."""
        if name == self._flatten:
            return path
        return f"{path}.{name}" if path else name


_NESTED: dict[type, PayloadCodec[Any]] = {}


class _NotFast(Exception):
    """A value the compiled decoder does not take: the checked path decides."""


def _decoder_for(annotation: object) -> Decoder:
    decoder = _BY_TYPE.get(annotation)
    if decoder is not None:
        return decoder
    arguments = get_args(annotation)
    if len(arguments) == 2 and type(None) in arguments:  # X | None, X a dataclass
        (inner,) = (a for a in arguments if a is not type(None))
        return optional(_decoder_for(inner))
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        cls = annotation

        def decode_nested(path: str, raw: object) -> object:
            codec = _NESTED.get(cls)
            if codec is None:
                codec = _NESTED[cls] = PayloadCodec(cls)
            return codec.from_document(raw, path)

        return decode_nested
    raise TypeError(f"no payload decoder for {annotation!r}")


def register_nested(codec: PayloadCodec[Any]) -> None:
    """Use ``codec`` (with its overrides and retired keys) wherever its class is nested."""
    _NESTED[codec.cls] = codec
