"""Connecting to PostgreSQL, for the journal and the lease alike: a DSN read and checked
without ever quoting it, libpq settings that bound every wait, and errors told in a line with
the password masked.

Never logs or returns a DSN or a password; opens no connection itself.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psycopg
import psycopg.conninfo

log = logging.getLogger("fixbridge.pg")


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


def with_password(
    dsn: str,
    password_file: Path | None,
    password_env: str | None,
    environ: Mapping[str, str] = os.environ,
) -> str:
    """``dsn`` with the password from ``password_file`` (its first line) or the environment
    variable ``password_env``; unchanged when neither is given (libpq's own ~/.pgpass and
    PGPASSWORD still apply). Raises :class:`PasswordError` naming the setting, never the
    password."""
    if password_file is not None:
        where = "journal.password_file"
        try:
            text = password_file.read_text(encoding="utf-8")
            mode = password_file.stat().st_mode
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise PasswordError(f"{where}: cannot read {password_file}: {reason}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("%s: %s is readable by other users; chmod 600 it", where, password_file)
        password = text.splitlines()[0] if text.strip() else ""
    elif password_env is not None:
        where = "journal.password_env"
        password = environ.get(password_env, "")
        if not password:
            raise PasswordError(f"{where}: environment variable {password_env} is not set or empty")
    else:
        return dsn
    if not password:
        raise PasswordError(f"{where}: the password is empty")
    return str(psycopg.conninfo.make_conninfo(dsn, password=password))


class PasswordError(ValueError):
    """The database password cannot be had (the message names the setting, never it)."""
