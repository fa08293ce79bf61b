"""The journal payload of a normalized event: one compact JSON object, keys = dataclass fields.

Decimals travel as strings and ``None`` is kept, so the round trip is exact. Decoding is
strict: a payload with other keys, or a value of the wrong type, raises NormalizationError
naming the field (``payload.<name>``), never anything else. Every event type uses this one
codec; decoders are chosen from each dataclass's own annotations. A field added later gets a
default, and payloads journaled before it existed still decode.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final, TypeVar, get_type_hints

from fixbridge.normalize.errors import NormalizationError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Decoder = Callable[[str, object], object]
_T = TypeVar("_T")
_E = TypeVar("_E")

ENCODE: Final[Mapping[type, Callable[[object], object]]] = {
    str: lambda value: value,
    int: lambda value: value,
    bool: lambda value: value,
    type(None): lambda value: value,
    Decimal: str,
}


def decode_str(name: str, raw: object) -> str:
    if not isinstance(raw, str):
        raise NormalizationError(f"payload.{name}", "expected a string", raw)
    return raw


def decode_int(name: str, raw: object) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise NormalizationError(f"payload.{name}", "expected an integer", raw)
    return raw


def decode_bool(name: str, raw: object) -> bool:
    if not isinstance(raw, bool):
        raise NormalizationError(f"payload.{name}", "expected a boolean", raw)
    return raw


def decode_decimal(name: str, raw: object) -> Decimal:
    if not isinstance(raw, str):
        raise NormalizationError(f"payload.{name}", "expected a decimal string", raw)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise NormalizationError(f"payload.{name}", "not a decimal", raw) from None
    if not value.is_finite():
        raise NormalizationError(f"payload.{name}", "not a finite decimal", raw)
    return value


def optional(decode: Callable[[str, object], _T]) -> Callable[[str, object], _T | None]:
    def decode_optional(name: str, raw: object) -> _T | None:
        return None if raw is None else decode(name, raw)

    return decode_optional


DECODERS_BY_TYPE: Final[Mapping[object, Decoder]] = {
    str: decode_str,
    int: decode_int,
    bool: decode_bool,
    Decimal: decode_decimal,
    str | None: optional(decode_str),
    int | None: optional(decode_int),
    bool | None: optional(decode_bool),
    Decimal | None: optional(decode_decimal),
}


def field_decoders(
    cls: type, extra: Mapping[object, Decoder] | None = None
) -> Mapping[str, Decoder]:
    """One decoder per field of dataclass ``cls``, chosen by its annotation."""
    table = {**DECODERS_BY_TYPE, **(extra or {})}
    hints = get_type_hints(cls)
    return {spec.name: table[hints[spec.name]] for spec in fields(cls)}


def plain_value(value: object) -> object:
    return ENCODE[value.__class__](value)


def event_to_payload(
    event: DataclassInstance, encode: Callable[[object], object] = plain_value
) -> bytes:
    """Compact JSON of the event's fields, in field order."""
    document = {spec.name: encode(getattr(event, spec.name)) for spec in fields(event)}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def defaulted_fields(cls: type) -> frozenset[str]:
    """Fields added after payloads were first journaled: they carry a default, and a payload
    written before they existed may lack them."""
    return frozenset(
        spec.name for spec in fields(cls) if spec.default is not MISSING
    )


def event_from_payload(
    cls: Callable[..., _E],
    decode: Mapping[str, Decoder],
    data: bytes,
    optional_keys: frozenset[str] = frozenset(),
) -> _E:
    """An event of ``cls`` from its payload; anything but the exact shape is an error, except
    that keys in ``optional_keys`` (fields with a default) may be absent."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise NormalizationError("payload", f"not UTF-8 JSON: {exc}") from None
    if not isinstance(document, dict):
        raise NormalizationError("payload", "not a JSON object", type(document).__name__)
    unknown = document.keys() - decode.keys()
    missing = decode.keys() - document.keys() - optional_keys
    if unknown or missing:
        raise NormalizationError("payload", "wrong set of keys", sorted(unknown | missing))
    values: dict[str, Any] = {name: decode[name](name, raw) for name, raw in document.items()}
    return cls(**values)
