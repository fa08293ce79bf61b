"""What ``/status`` and ``fixbridge status`` show: the bridge at a glance, as data, JSON, HTML or
a plain table.

The bridge fills a :class:`BridgeStatus` from its parts (sessions, streams, journal); this module
only turns it into bytes or text. Pure: no clock, no I/O, no knowledge of FIX or gRPC. Every
value that reaches HTML is escaped, and nothing here ever holds a secret: a status names
sessions, CompIDs, peers' addresses, numbers and times, never credentials or tokens.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

NS_PER_S = 1_000_000_000


def iso(ns: int | None) -> str | None:
    """A UTC instant as ISO 8601 with milliseconds (``2026-12-05T16:08:11.123Z``)."""
    if ns is None or ns <= 0:
        return None
    moment = datetime.fromtimestamp(ns / NS_PER_S, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class SessionStatus:
    name: str
    sender_comp_id: str
    target_comp_id: str
    state: str  # "logged_on", "logging_on" or "offline"
    paused: bool  # an operator paused its delivery (fixbridge admin pause)
    in_schedule: bool
    peer: str | None
    logon_time: str | None
    next_sender_seq: int
    next_target_seq: int
    cursor: int
    backlog: int  # journaled events after the cursor (an upper bound of what is unsent)
    last_sent: str | None
    last_received: str | None
    window_start: str | None  # the schedule window now open (None: closed, or no schedule)
    window_end: str | None


@dataclass(frozen=True, slots=True)
class StreamStatus:
    name: str
    connected: bool
    catching_up: bool  # replaying what it missed (upstream/progress.py)
    resume_mode: str  # how it last connected: "resume_token", "resume_time ...", "live"
    last_response: str | None
    newest_transact_time: str | None
    lag_s: float | None  # now - the newest transact time received
    events_stored: int
    duplicates: int
    flagged: int
    reconnects: int


@dataclass(frozen=True, slots=True)
class BridgeStatus:
    version: str
    now: str | None
    ready: bool
    not_ready_reason: str | None
    journal_path: str
    journal_head: int
    sessions: Sequence[SessionStatus]
    streams: Sequence[StreamStatus]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def status_json(status: BridgeStatus) -> bytes:
    return (json.dumps(status.to_dict(), indent=2) + "\n").encode("utf-8")


_SESSION_COLUMNS = (
    ("name", "session"), ("state", "state"), ("paused", "paused"), ("in_schedule", "in schedule"),
    ("target_comp_id", "client CompID"), ("peer", "peer"), ("logon_time", "logged on at"),
    ("next_sender_seq", "next out"), ("next_target_seq", "next in"), ("cursor", "cursor"),
    ("backlog", "backlog"), ("last_sent", "last sent"), ("last_received", "last received"),
    ("window_end", "window ends"),
)  # fmt: skip
_STREAM_COLUMNS = (
    ("name", "stream"), ("connected", "connected"), ("catching_up", "catching up"),
    ("resume_mode", "resumed by"),
    ("last_response", "last response"), ("lag_s", "lag s"), ("events_stored", "stored"),
    ("duplicates", "duplicates"), ("flagged", "flagged"), ("reconnects", "reconnects"),
)  # fmt: skip


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _rows(items: Sequence[Any], columns: Sequence[tuple[str, str]]) -> list[list[str]]:
    return [[_cell(getattr(item, key)) for key, _ in columns] for item in items]


def _html_table(caption: str, items: Sequence[Any], columns: Sequence[tuple[str, str]]) -> str:
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in _rows(items, columns)
    )
    if not items:
        body = f'<tr><td colspan="{len(columns)}">none</td></tr>'
    return (
        f"<h2>{html.escape(caption)}</h2>\n<table>\n<thead><tr>{head}</tr></thead>\n"
        f"<tbody>{body}</tbody>\n</table>\n"
    )


_STYLE = (
    "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1em}"
    "th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left}th{background:#eee}"
    ".ready{color:#060}.not-ready{color:#a00}"
)


def status_html(status: BridgeStatus) -> bytes:
    """A small self-contained page (no scripts) with the same facts as the JSON."""
    readiness = (
        '<p class="ready">ready</p>'
        if status.ready
        else f'<p class="not-ready">not ready: {html.escape(status.not_ready_reason or "")}</p>'
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f"<title>fixbridge status</title><style>{_STYLE}</style></head>\n<body>\n"
        f"<h1>fixbridge {html.escape(status.version)}</h1>\n{readiness}\n"
        f"<p>at {html.escape(_cell(status.now))}; journal {html.escape(status.journal_path)},"
        f" head offset {status.journal_head}</p>\n"
        + _html_table("Sessions", status.sessions, _SESSION_COLUMNS)
        + _html_table("Upstream streams", status.streams, _STREAM_COLUMNS)
        + "</body>\n</html>\n"
    )
    return page.encode("utf-8")


def _text_table(items: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    rows = [[title for _, title in columns]]
    rows += [[_cell(item.get(key)) for key, _ in columns] for item in items]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def status_text(status: Mapping[str, Any]) -> str:
    """The JSON form (as ``/status`` serves it) as plain tables for a terminal."""
    ready = "ready" if status.get("ready") else f"not ready: {status.get('not_ready_reason')}"
    lines = [
        f"fixbridge {status.get('version')} at {status.get('now')}: {ready}",
        f"journal {status.get('journal_path')}, head offset {status.get('journal_head')}",
        "",
        _text_table(status.get("sessions") or [], _SESSION_COLUMNS),
        "",
        _text_table(status.get("streams") or [], _STREAM_COLUMNS),
    ]
    return "\n".join(lines) + "\n"
