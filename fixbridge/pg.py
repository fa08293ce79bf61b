"""Connecting to PostgreSQL, for the journal and the lease alike: a DSN read and checked
without ever quoting it, libpq settings that bound every wait, and errors told in a line with
the password masked.

Never logs or returns a DSN or a password; opens no connection itself.
"""

from __future__ import annotations

from typing import Any

import psycopg
import psycopg.conninfo


def connect_kwargs(dsn: str, timeout_s: float, application: str) -> dict[str, Any]:
    """libpq settings that bound every wait on a connection, both ways: the client's TCP
    keepalives and user timeout, the server's, and statement and lock timeouts. Options the
    DSN gives come first and are kept."""
    ms = max(1, round(timeout_s * 1000))
    seconds = max(1, round(timeout_s / 2))
    given = parse_dsn(dsn).get("options", "")
    ours = " ".join([
        f"-c statement_timeout={ms}",
        f"-c lock_timeout={ms}",
        f"-c tcp_keepalives_idle={seconds}",
        f"-c tcp_keepalives_interval={seconds}",
        "-c tcp_keepalives_count=2",
        f"-c tcp_user_timeout={ms}",
    ])  # fmt: skip
    return {
        "connect_timeout": max(2, round(timeout_s)),
        "options": f"{given} {ours}".strip(),
        "keepalives": 1,
        "keepalives_idle": seconds,
        "keepalives_interval": seconds,
        "keepalives_count": 2,
        "tcp_user_timeout": ms,
        "application_name": application,
    }


def parse_dsn(dsn: str) -> dict[str, Any]:
    """The DSN's settings; ValueError, quoting nothing of it (it may hold a password), when
    it is not a libpq connection string."""
    try:
        return dict(psycopg.conninfo.conninfo_to_dict(dsn))
    except psycopg.Error:
        raise ValueError("the PostgreSQL DSN is not a valid libpq connection string") from None


def text_of(exc: BaseException, password: str) -> str:
    """An error in a line, ``password`` masked should the text quote it."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if password:
        text = text.replace(password, "***")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
