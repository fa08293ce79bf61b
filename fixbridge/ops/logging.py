"""Log output for operators and log shippers: plain lines or one JSON object per line.

``configure_logging`` installs one stderr handler on the root logger with the chosen format
and a redaction filter. The filter is defence in depth: no fixbridge module logs a secret on
purpose, but an exception text or a peer's message might carry one, so bearer tokens, JWTs,
PEM private keys, ``password=`` / ``client_assertion=`` style values and FIX Password(554)
are masked in every message and traceback before any formatter sees them. This module must
never raise from a log call and never write a value it has not passed through ``redact``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Literal, TextIO

LogFormat = Literal["plain", "json"]

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "[REDACTED]"

# (pattern, replacement) applied in order; each keeps the label and masks only the value.
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A PEM private key block (RSA/EC/PKCS#8/encrypted), or the start of a truncated one.
    (
        re.compile(
            r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----"
            r"(?:.*?-----END \1PRIVATE KEY-----|.*)",
            re.DOTALL,
        ),
        "[REDACTED PRIVATE KEY]",
    ),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/-]+=*"), rf"\g<1>{MASK}"),
    # key=value, key: value, "key": "value" for names that only ever hold secrets.
    (
        re.compile(
            r"(?i)(\b(?:client_assertion|client_secret|password|passwd|access_token"
            r"|refresh_token|id_token|private_key|api_key|secret)\b[\"']?\s*[=:]\s*[\"']?)"
            r"[^\s\"'&,;}]+"
        ),
        rf"\g<1>{MASK}",
    ),
    # A JWT anywhere (client assertions and access tokens are JWTs).
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), MASK),
    # FIX Password(554) / NewPassword(925) in a raw or |-separated frame.
    (re.compile(r"(?<![0-9])(554|925)=[^\x01|\s]+"), rf"\g<1>={MASK}"),
)

# Extra attribute names whose value is dropped whatever it looks like.
_SECRET_KEY = re.compile(r"(?i)pass|secret|token|assertion|authori[sz]ation|private|credential")

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}

# Extras shown at the end of a plain line, in this order, when present.
_PLAIN_EXTRAS = ("session", "stream")


def redact(text: str) -> str:
    """``text`` with every secret-shaped value masked."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message and traceback through :func:`redact` (never drops)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad %-format must not lose the record
            message = f"{record.msg!r} % {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def extras(record: logging.LogRecord) -> dict[str, object]:
    """The ``extra=`` fields of a record, as JSON-safe values with secrets masked."""
    found: dict[str, object] = {}
    for key, value in record.__dict__.items():
        if key in _RECORD_ATTRS or key.startswith("_"):
            continue
        if _SECRET_KEY.search(key):
            found[key] = MASK
        elif value is None or isinstance(value, bool | int | float):
            found[key] = value
        else:
            found[key] = redact(str(value))
    return found


class PlainFormatter(logging.Formatter):
    """The classic line, plus `` session=… stream=…`` when the record carries them. The time
    is ISO 8601 in the host's time zone with its UTC offset (``2026-12-05T16:08:11.123+01:00``),
    so lines from hosts in different zones, or either side of a DST change, still order."""

    def __init__(self) -> None:
        super().__init__(PLAIN_FORMAT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        local = datetime.fromtimestamp(record.created, UTC).astimezone()
        return local.isoformat(timespec="milliseconds")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)  # the traceback, if any, is appended after this
        for key in _PLAIN_EXTRAS:
            value = getattr(record, key, None)
            if value is not None:
                line += f" {key}={redact(str(value))}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, extras, exc_info."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, object] = {
            "ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in extras(record).items():
            entry.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = redact(record.exc_text)
        if record.stack_info:
            entry["stack_info"] = redact(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


_FORMATTERS: dict[str, type[logging.Formatter]] = {
    "plain": PlainFormatter,
    "json": JsonFormatter,
}


class _FixbridgeHandler(logging.StreamHandler[TextIO]):
    """Marks the handler ``configure_logging`` owns, so a second call replaces it."""


def configure_logging(
    format: LogFormat = "plain", level: str = "INFO", *, stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record to ``stream`` (stderr) in ``format``, at ``level`` and above.

    Idempotent: a previous fixbridge handler is replaced; handlers others installed (pytest's
    capture, an embedding application's) are left alone.
    """
    if format not in _FORMATTERS:
        raise ValueError(f"log format must be 'plain' or 'json', got {format!r}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _FixbridgeHandler)]:
        root.removeHandler(old)
    handler = _FixbridgeHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(_FORMATTERS[format]())
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(logging.getLevelName(level.upper()))
    return handler
