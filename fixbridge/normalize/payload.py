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
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Generic, TypeVar, get_args, get_type_hints

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


def _encode_value(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        codec = _NESTED.get(type(value))
        return codec.document(value) if codec is not None else _document(value)
    if value is None or isinstance(value, str | int | bool):
        return value
    raise TypeError(f"no payload encoding for {type(value).__name__}")


def _document(event: object) -> dict[str, object]:
    names = [spec.name for spec in dataclasses.fields(event)]  # type: ignore[arg-type]
    return {name: _encode_value(getattr(event, name)) for name in names}


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

    def document(self, event: _E) -> dict[str, object]:
        """The event's JSON object (before serialization), in field order."""
        document = _document(event)
        if self._flatten is not None:
            inner = document.pop(self._flatten)
            assert isinstance(inner, dict)
            document = {**inner, **document}
        return document

    def encode(self, event: _E) -> bytes:
        """Compact JSON of the event's fields, in field order."""
        document = self.document(event)
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def decode(self, data: bytes) -> _E:
        try:
            document = json.loads(data.decode("utf-8"))
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise NormalizationError("payload", f"not UTF-8 JSON: {exc}") from None
        return self.from_document(document, "")

    def from_document(self, document: object, path: str) -> _E:
        """The event from an already parsed JSON object found at ``path`` ("" = top)."""
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
