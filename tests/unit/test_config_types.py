"""A config value of the wrong TOML type is refused, and the error speaks TOML and names the key.

TOML has real booleans, integers, floats, strings, lists and tables; a value written as the
wrong one ("no" for false, "9878" for a port, a bare string for a list) is a mistake the file's
author should hear about, not a value to be guessed at.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fixbridge.config import ConfigError, parse_config

BASE = {"sessions": [{"name": "a", "sender_comp_id": "FB", "target_comp_id": "BO"}]}


def config(**sections: object) -> dict[str, object]:
    return {**BASE, **sections}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            config(upstream={"tls": "no"}),
            "upstream.tls: must be true or false (a TOML boolean, without quotes), got a string",
        ),
        (
            config(upstream={"tls": 0}),
            "upstream.tls: must be true or false (a TOML boolean, without quotes), got an integer",
        ),
        (
            config(fix={"port": "9878"}),
            "fix.port: must be a whole number (a TOML integer, without quotes), got a string",
        ),
        (
            config(fix={"port": 9878.5}),
            "fix.port: must be a whole number (a TOML integer, without quotes), got a float",
        ),
        (
            config(fix={"logon_timeout_s": "10"}),
            "fix.logon_timeout_s: must be a number (a TOML integer or float, without quotes),"
            " got a string",
        ),
        (
            {"sessions": [{**BASE["sessions"][0], "scope": {"message_kinds": "executions"}}]},  # type: ignore[index]
            'sessions.0.scope.message_kinds: must be a list (e.g. ["a", "b"]; one item is ["a"]),'
            " got a string",
        ),
        (
            config(journal="journal.db"),
            "journal: must be a table ([section] or { key = value, ... }), got a string",
        ),
        (
            config(fix={"prot": 9878}),
            "fix.prot: is not a setting here (check its spelling and its [section])",
        ),
        (
            {"sessions": [{"name": "a", "sender_comp_id": "FB"}]},
            "sessions.0.target_comp_id: is required but missing",
        ),
    ],
)
def test_a_value_of_the_wrong_toml_type_is_refused_in_toml_words(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(data)
    assert message in str(refused.value)
    assert "tuple" not in str(refused.value) and "valid boolean" not in str(refused.value)


def test_a_wrong_type_error_never_repeats_the_value() -> None:
    """The value may be a secret written in the wrong place: only its TOML type is named."""
    secret = "hunter2-not-a-bool"
    with pytest.raises(ConfigError) as refused:
        parse_config(config(upstream={"tls": secret}))
    assert secret not in str(refused.value)


def test_an_integer_is_a_number_of_seconds_and_true_is_a_boolean() -> None:
    parsed = parse_config(config(fix={"logon_timeout_s": 10}, upstream={"tls": True}))
    assert parsed.fix.logon_timeout_s == 10.0 and parsed.upstream.tls is True


def test_a_keepalive_near_the_exchanges_idle_hour_is_refused() -> None:
    """The exchange's load balancer resets a stream idle for 3,600 s and asks for a KeepAlive
    every 30-60 minutes: at most 3,000 s leaves room for a late one."""
    market_data = {"keepalive_interval_s": 3000}
    assert parse_config(config(upstream={"market_data": market_data})).upstream.market_data
    with pytest.raises(ConfigError) as refused:
        parse_config(config(upstream={"market_data": {"keepalive_interval_s": 3599}}))
    assert "upstream.market_data.keepalive_interval_s" in str(refused.value)


def test_settlement_reports_are_on_unless_a_session_turns_them_off() -> None:
    assert parse_config(BASE).sessions[0].send_settlement_reports is True
    session = {**BASE["sessions"][0], "send_settlement_reports": False}  # type: ignore[index]
    assert parse_config({"sessions": [session]}).sessions[0].send_settlement_reports is False


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-11-21T09:30:00", "sessions.0.start_from: needs a time zone"),
        ("yesterday", 'sessions.0.start_from: must be "head" or an RFC 3339 instant'),
        ("Head", 'sessions.0.start_from: must be "head" or an RFC 3339 instant'),
        (5, 'sessions.0.start_from: must be "head" or an RFC 3339 instant'),
    ],
)
def test_a_session_start_is_head_or_an_instant_with_a_time_zone(
    value: object, message: str
) -> None:
    session = {**BASE["sessions"][0], "start_from": value}  # type: ignore[index]
    with pytest.raises(ConfigError) as refused:
        parse_config({"sessions": [session]})
    assert message in str(refused.value)


def test_a_session_starts_at_the_head_unless_given_an_instant() -> None:
    assert parse_config(BASE).sessions[0].start_from == "head"
    for value in (
        "2026-11-21T09:30:00Z",
        "2026-11-21T10:30:00+01:00",
        datetime(2026, 11, 21, 10, 30, tzinfo=timezone(timedelta(hours=1))),  # a TOML datetime
    ):
        session = {**BASE["sessions"][0], "start_from": value}  # type: ignore[index]
        start = parse_config({"sessions": [session]}).sessions[0].start_from
        assert start == datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
