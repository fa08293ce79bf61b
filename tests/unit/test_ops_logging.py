"""Log output: plain lines with session/stream tags, JSON lines a shipper can parse, and no
secret reaching either, whatever a message or traceback carries."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from fixbridge.ops.logging import configure_logging, redact

PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
    "-----END PRIVATE KEY-----"
)
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjbGllbnQifQ.c2lnbmF0dXJl"


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, logging.Logger]]:
    """A fresh stream for configure_logging; the root logger is restored afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    out = io.StringIO()
    yield out, logging.getLogger("fixbridge.test")
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def test_plain_keeps_the_classic_format_and_appends_session_and_stream(
    captured: tuple[io.StringIO, logging.Logger],
) -> None:
    out, log = captured
    configure_logging("plain", "INFO", stream=out)
    log.info("logon accepted from %s", "10.0.0.1:5000", extra={"session": "backoffice"})
    log.warning("stream reconnecting", extra={"stream": "executions", "session": "ops"})
    log.debug("below the level")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d INFO fixbridge\.test: "
        r"logon accepted from 10\.0\.0\.1:5000 session=backoffice",
        lines[0],
    )
    assert lines[1].endswith(
        "WARNING fixbridge.test: stream reconnecting session=ops stream=executions"
    )


def test_plain_time_is_iso_8601_with_the_hosts_utc_offset(
    captured: tuple[io.StringIO, logging.Logger], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same instant written on a host at UTC+05:30 (no DST) and read back is the instant."""
    monkeypatch.setenv("TZ", "IST-5:30")  # POSIX form: needs no tz database
    time.tzset()
    try:
        out, log = captured
        configure_logging("plain", "INFO", stream=out)
        record = log.makeRecord(log.name, logging.INFO, __file__, 1, "tick", None, None)
        record.created = 1_796_486_400.25  # 2026-12-05T16:00:00.250Z
        log.handle(record)
        stamp = out.getvalue().split(" ", 1)[0]
        assert stamp == "2026-12-05T21:30:00.250+05:30"
        parsed = datetime.fromisoformat(stamp)
        assert parsed.timestamp() == 1_796_486_400.25
    finally:
        monkeypatch.undo()
        time.tzset()


def test_plain_without_extras_is_the_previous_format(
    captured: tuple[io.StringIO, logging.Logger],
) -> None:
    out, log = captured
    configure_logging("plain", "INFO", stream=out)
    log.error("journal locked")
    assert out.getvalue().rstrip("\n").endswith(" ERROR fixbridge.test: journal locked")


def test_json_is_one_parsable_object_per_line_with_extras(
    captured: tuple[io.StringIO, logging.Logger],
) -> None:
    out, log = captured
    configure_logging("json", "DEBUG", stream=out)
    log.info("sent %d messages", 3, extra={"session": "backoffice", "stream": "trades", "count": 3})
    log.debug('quotes "and" newlines\nsurvive')
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["level"] == "INFO"
    assert first["logger"] == "fixbridge.test"
    assert first["message"] == "sent 3 messages"
    assert (first["session"], first["stream"], first["count"]) == ("backoffice", "trades", 3)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert "exc_info" not in first
    assert second["message"] == 'quotes "and" newlines\nsurvive'


def test_json_carries_the_traceback_as_one_string(
    captured: tuple[io.StringIO, logging.Logger],
) -> None:
    out, log = captured
    configure_logging("json", "INFO", stream=out)
    try:
        raise RuntimeError("token endpoint said no")
    except RuntimeError:
        log.exception("refresh failed")
    (entry,) = (json.loads(line) for line in out.getvalue().splitlines())
    assert entry["level"] == "ERROR"
    assert entry["exc_info"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: token endpoint said no" in entry["exc_info"]


def test_extras_that_are_not_json_are_rendered_as_text(
    captured: tuple[io.StringIO, logging.Logger],
) -> None:
    out, log = captured
    configure_logging("json", "INFO", stream=out)
    log.info("x", extra={"peer": ("10.0.0.1", 5000)})
    assert json.loads(out.getvalue())["peer"] == "('10.0.0.1', 5000)"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("authorization: Bearer abc.DEF-123_x/y+z==", "abc.DEF-123_x/y+z=="),
        (f"token request body client_assertion={JWT}&grant_type=x", JWT),
        ("client_assertion_type=jwt-bearer&client_assertion=s3cr3t&x=1", "s3cr3t"),
        ("login with password=hunter2 failed", "hunter2"),
        ('{"password": "hunter2", "user": "ops"}', "hunter2"),
        ("client_secret: abcdef", "abcdef"),
        (f"loaded key {PEM} from env", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"),
        ("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB truncated", "MHcCAQEEIB"),
        (f"raw header {JWT} seen", JWT),
        ("garbled 8=FIXT.1.1|35=A|553=ops|554=hunter2|10=000|", "hunter2"),
        ("8=FIXT.1.1\x0135=A\x01554=hunter2\x01", "hunter2"),
    ],
)
def test_redact_masks_secrets(text: str, secret: str) -> None:
    masked = redact(text)
    assert secret not in masked
    assert "REDACTED" in masked


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "session backoffice: ResendRequest 7..0; 553=ops 5540=1 stream=executions"
    assert redact(text) == text


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_no_secret_reaches_the_output_in_messages_args_extras_or_tracebacks(
    captured: tuple[io.StringIO, logging.Logger], fmt: str
) -> None:
    out, log = captured
    configure_logging(fmt, "INFO", stream=out)  # type: ignore[arg-type]
    log.info("header %s", "Bearer sekrit-token", extra={"session": "s"})
    log.info("ok", extra={"access_token": "sekrit-token", "note": "password=sekrit-token"})
    try:
        raise ValueError(f"bad key {PEM}")
    except ValueError:
        log.exception("cannot load key")
    text = out.getvalue()
    assert "sekrit-token" not in text
    assert "MIIEvQIB" not in text
    assert "Bearer [REDACTED]" in text
    assert "[REDACTED PRIVATE KEY]" in text


def test_configure_twice_replaces_its_own_handler_only(
    captured: tuple[io.StringIO, logging.Logger],
) -> None:
    out, log = captured
    other = io.StringIO()
    configure_logging("plain", "INFO", stream=other)
    configure_logging("json", "WARNING", stream=out)
    log.warning("once")
    log.info("filtered by level")
    assert other.getvalue() == ""
    assert [json.loads(line)["message"] for line in out.getvalue().splitlines()] == ["once"]


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="plain"):
        configure_logging("xml", "INFO")  # type: ignore[arg-type]
