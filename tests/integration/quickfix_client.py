#!/usr/bin/env python3
"""A real QuickFIX (C++ engine) FIXT.1.1 / FIX 5.0 SP2 initiator that records everything it sees.

What this script is for
-----------------------
fixbridge is a drop-copy *acceptor*. Its integration tests must prove that a genuine,
strictly validating FIX engine - not our own codec - accepts what fixbridge sends. This script
plays the back office: it runs a ``quickfix.SocketInitiator`` with the stock FIXT 1.1 and
FIX 5.0 SP2 data dictionaries, every validation switch on, and a FileStore so its sequence
numbers survive a restart the way a production back office's do. It is started as a
subprocess by ``tests/integration/qfharness.py`` (``QuickFixClient``); run it by hand with
``--help`` for the options.

Every observation becomes one JSON object per line in ``--out`` (appended, flushed at once so
a test can poll the file while the client runs). See ``EVENT FORMAT`` below and the
``qfharness`` module docstring.

What it must never do
---------------------
- It never sends an application message of its own (except the one a test names with
  ``--send-on-logon``, sent once after the first Logon of the run) and never alters, fixes up
  or silently drops what it receives: QuickFIX's verdict (accept, session Reject 35=3,
  BusinessMessageReject 35=j, Logout) is the thing under test, so the callbacks only
  *record*.
- It never relaxes validation or sequence handling (no ResetOnLogon unless the caller asks for
  it, no ignoring of gaps), and it never deletes its store: a restart must resume sequence
  numbers exactly like a real back office.
- A Python exception must never escape into the C++ engine (that can kill the process
  silently); each callback is wrapped and reports failures as ``callback_error`` events.

EVENT FORMAT (one JSON object per line)
---------------------------------------
Every event has ``event`` (its kind), ``ts`` (Unix time, float) and ``pid``. Kinds:

- ``process_start`` (``argv``, ``config``), ``stopping`` (``reason``: SIGTERM, SIGINT,
  ``duration Ns``, ``stop-after-app N``, ``parent process exited``), ``process_exit`` (``code``),
  ``error`` (``error``; e.g. missing dictionaries, QuickFIX ConfigError).
- ``create`` / ``logon`` / ``logout`` (``session``): QuickFIX session life-cycle callbacks
  (QuickFIX also calls onLogout after a failed connection attempt).
- ``app_in`` (fromApp), ``app_out`` (toApp), ``admin_in`` (fromAdmin), ``admin_out`` (toAdmin):
  ``session``, ``msg_type``, ``seq`` (int or null), ``poss_dup`` (bool), ``raw`` (the message with
  ``|`` instead of SOH) and ``fields`` (``[[tag, value], ...]``, tags as ints). These are
  QuickFIX's serialisation of the parsed message (its field order, not necessarily the wire's).
  The client's own session Rejects (35=3) and Logouts are ``admin_out``; a BusinessMessageReject
  (35=j) it sends is ``app_out``.
- ``wire_in`` / ``wire_out``: every message exactly as QuickFIX's FileLog recorded it on receipt
  / send, *before* validation, so a message QuickFIX rejected (and never handed to fromApp) is
  still visible. Same keys as ``app_in`` plus ``logged_at`` (the FileLog timestamp).
- ``session_event`` (``session``, ``logged_at``, ``text``): QuickFIX's own event-log lines, e.g.
  ``Message 5 Rejected: Invalid tag number:9999`` or ``Invalid message: ...`` for a garbled one.
- ``callback_error`` (``where``, ``error``, ``traceback``): a recording callback failed.

``wire_*`` and ``session_event`` are mirrored from the FileLog files by a thread polling every
20 ms, so they can land a little after the callback events of the same message; among
themselves they keep the FileLog's order. Everything is flushed before ``process_exit``.

Exit codes: 0 after a clean stop, 2 for missing dictionaries, 3 if QuickFIX cannot start.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import quickfix as fix

SOH = "\x01"
BEGIN_STRING = "FIXT.1.1"
DEFAULT_APPL_VER_ID = "FIX.5.0SP2"  # QuickFIX maps this to ApplVerID 9 (1137=9 on Logon).
TRANSPORT_DICTIONARY = "FIXT11.xml"
APP_DICTIONARY = "FIX50SP2.xml"
CONFIG_NAME = "quickfix_client.cfg"

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_ENGINE_ERROR = 3

_KEEPALIVE: list[Any] = []


def split_fields(raw: str) -> list[tuple[int, str]]:
    """Split a SOH-delimited FIX message into (tag, value) pairs in wire order.

    A token without ``=`` or with a non-numeric tag is kept with tag -1 so nothing is lost.
    (Binary DATA fields that themselves contain SOH are not special-cased.)
    """
    pairs: list[tuple[int, str]] = []
    for token in raw.split(SOH):
        if not token:
            continue
        tag_text, sep, value = token.partition("=")
        try:
            tag = int(tag_text) if sep else -1
        except ValueError:
            tag = -1
        pairs.append((tag, value if sep else token))
    return pairs


def describe_message(raw: str) -> dict[str, Any]:
    """The message keys shared by app_*/admin_*/wire_* events."""
    pairs = split_fields(raw)
    first: dict[int, str] = {}
    for tag, value in pairs:
        first.setdefault(tag, value)
    seq_text = first.get(34)
    seq: int | None
    try:
        seq = int(seq_text) if seq_text is not None else None
    except ValueError:
        seq = None
    return {
        "msg_type": first.get(35),
        "seq": seq,
        "poss_dup": first.get(43) == "Y",
        "raw": raw.replace(SOH, "|"),
        "fields": [[tag, value] for tag, value in pairs],
    }


class EventWriter:
    """Thread-safe JSONL writer: one event per line, flushed immediately."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file: TextIO | None = path.open("a", encoding="utf-8")

    def emit(self, event: str, **fields: Any) -> None:
        record: dict[str, Any] = {"event": event, "ts": time.time(), "pid": os.getpid()}
        record.update(fields)
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            if self._file is None:
                return
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def guarded(writer: EventWriter, where: str, action: Callable[[], None]) -> None:
    """Run a recording action; never let an exception reach the C++ engine."""
    try:
        action()
    except BaseException as exc:  # nothing may propagate into QuickFIX
        with contextlib.suppress(BaseException):
            writer.emit(
                "callback_error", where=where, error=repr(exc), traceback=traceback.format_exc()
            )
        with contextlib.suppress(BaseException):
            print(f"quickfix_client: {where} failed: {exc!r}", file=sys.stderr, flush=True)


def message_text(message: Any) -> str:
    """The serialized form of a quickfix.Message (SOH-delimited)."""
    return str(message.toString())


def send_message(fields: Sequence[tuple[int, str]], session_id: Any) -> None:
    """Send the message ``fields`` describe (35 first, then the body, in order)."""
    message = fix.Message()
    (msg_type_tag, msg_type), *body = fields
    assert msg_type_tag == 35, "--send-on-logon starts with 35=<MsgType>"
    message.getHeader().setField(fix.MsgType(msg_type))
    for tag, value in body:
        message.setField(fix.StringField(tag, value))
    fix.Session.sendToTarget(message, session_id)


class RecordingApplication(fix.Application):  # type: ignore[misc]
    """QuickFIX application callbacks that only record; they never raise or veto."""

    def __init__(
        self,
        writer: EventWriter,
        stop_after_app: int | None,
        request_stop: Callable[[str], None],
        send_on_logon: Sequence[tuple[int, str]] = (),
    ) -> None:
        fix.Application.__init__(self)
        self._send_on_logon = list(send_on_logon)
        self._writer = writer
        self._stop_after_app = stop_after_app
        self._request_stop = request_stop
        self._app_count = 0
        self._count_lock = threading.Lock()

    def _record(self, event: str, message: Any, session_id: Any) -> None:
        def action() -> None:
            self._writer.emit(
                event, session=session_id.toString(), **describe_message(message_text(message))
            )

        guarded(self._writer, event, action)

    def onCreate(self, sessionID: Any) -> None:
        guarded(
            self._writer,
            "create",
            lambda: self._writer.emit("create", session=sessionID.toString()),
        )

    def onLogon(self, sessionID: Any) -> None:
        guarded(
            self._writer, "logon", lambda: self._writer.emit("logon", session=sessionID.toString())
        )
        if self._send_on_logon:
            fields, self._send_on_logon = self._send_on_logon, []
            guarded(self._writer, "send-on-logon", lambda: send_message(fields, sessionID))

    def onLogout(self, sessionID: Any) -> None:
        guarded(
            self._writer,
            "logout",
            lambda: self._writer.emit("logout", session=sessionID.toString()),
        )

    def toAdmin(self, message: Any, sessionID: Any) -> None:
        self._record("admin_out", message, sessionID)

    def fromAdmin(self, message: Any, sessionID: Any) -> None:
        self._record("admin_in", message, sessionID)

    def toApp(self, message: Any, sessionID: Any) -> None:
        self._record("app_out", message, sessionID)

    def fromApp(self, message: Any, sessionID: Any) -> None:
        self._record("app_in", message, sessionID)

        def count() -> None:
            with self._count_lock:
                self._app_count += 1
                reached = (
                    self._stop_after_app is not None and self._app_count >= self._stop_after_app
                )
            if reached:
                # Only flag it: stopping the initiator from its own thread would deadlock.
                self._request_stop(f"stop-after-app {self._stop_after_app}")

        guarded(self._writer, "fromApp-count", count)


class FileLogMirror:
    """Mirrors the lines QuickFIX's FileLog appends into the JSONL, from a polling thread.

    QuickFIX logs every message on receipt *before* validating it, so this is how a message
    that QuickFIX rejected (and therefore never handed to fromApp) becomes visible. (A Python
    ``quickfix.LogFactory`` subclass would be the direct route, but with quickfix 1.16.0 it
    corrupts the heap while the initiator is being built; the FileLog files are reliable.)

    Only lines appended after ``start()`` are mirrored, so a restarted client does not replay
    the previous run's log. Lines are ``<timestamp> : <text>``; a message whose SenderCompID is
    ours is ``wire_out``, any other message ``wire_in``.
    """

    def __init__(
        self,
        writer: EventWriter,
        our_comp_id: str,
        messages_logs: Sequence[tuple[Path, str]],
        event_logs: Sequence[tuple[Path, str]],
        interval: float = 0.02,
    ) -> None:
        self._writer = writer
        self._our_comp_id = our_comp_id
        self._interval = interval
        self._sources: list[_TailedFile] = [
            _TailedFile(path, "messages", session) for path, session in messages_logs
        ] + [_TailedFile(path, "event", session) for path, session in event_logs]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="filelog-mirror", daemon=True)

    def start(self) -> None:
        for source in self._sources:
            source.skip_existing()
        self._thread.start()

    def stop(self) -> None:
        """Stop polling after one last pass that picks up everything written so far."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        guarded(self._writer, "filelog-mirror", self._poll_once)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            guarded(self._writer, "filelog-mirror", self._poll_once)

    def _poll_once(self) -> None:
        for source in self._sources:
            for logged_at, text in source.read_new_lines():
                if source.kind == "event":
                    self._writer.emit(
                        "session_event", session=source.session, logged_at=logged_at, text=text
                    )
                    continue
                described = describe_message(text)
                sender = next((v for t, v in split_fields(text) if t == 49), None)
                kind = "wire_out" if sender == self._our_comp_id else "wire_in"
                self._writer.emit(kind, session=source.session, logged_at=logged_at, **described)


class _TailedFile:
    """Incremental reader of one append-only QuickFIX log file (tolerates truncation/rotation)."""

    def __init__(self, path: Path, kind: str, session: str) -> None:
        self.path = path
        self.kind = kind
        self.session = session
        self._offset = 0
        self._inode: int | None = None
        self._partial = b""

    def skip_existing(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return
        self._offset = stat.st_size
        self._inode = stat.st_ino

    def read_new_lines(self) -> list[tuple[str | None, str]]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return []
        if stat.st_ino != self._inode or stat.st_size < self._offset:
            # FileLog.backup()/clear() rotated or truncated the file: start from its beginning.
            self._inode = stat.st_ino
            self._offset = 0
            self._partial = b""
        if stat.st_size == self._offset:
            return []
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        self._offset += len(chunk)
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        lines: list[tuple[str | None, str]] = []
        for raw_line in complete:
            line = raw_line.decode("utf-8", errors="replace").rstrip("\r")
            if not line:
                continue
            logged_at, sep, text = line.partition(" : ")
            lines.append((logged_at, text) if sep else (None, line))
        return lines


def build_settings_text(args: argparse.Namespace, store_dir: Path, spec_dir: Path) -> str:
    """The QuickFIX session settings file for one initiator session."""
    reset = "Y" if args.reset_on_logon else "N"
    lines = [
        "[DEFAULT]",
        "ConnectionType=initiator",
        f"FileStorePath={store_dir}",
        f"FileLogPath={store_dir}",
        "StartTime=00:00:00",
        "EndTime=00:00:00",
        "ReconnectInterval=1",
        f"HeartBtInt={args.heartbeat}",
        f"ResetOnLogon={reset}",
        "UseDataDictionary=Y",
        f"TransportDataDictionary={spec_dir / TRANSPORT_DICTIONARY}",
        f"AppDataDictionary={spec_dir / APP_DICTIONARY}",
        "ValidateFieldsOutOfOrder=Y",
        "ValidateFieldsHaveValues=Y",
        "ValidateUserDefinedFields=Y",
        "AllowUnknownMsgFields=N",
        "CheckLatency=Y",
        "",
        "[SESSION]",
        f"BeginString={BEGIN_STRING}",
        f"DefaultApplVerID={DEFAULT_APPL_VER_ID}",
        f"SenderCompID={args.sender}",
        f"TargetCompID={args.target}",
        f"SocketConnectHost={args.host}",
        f"SocketConnectPort={args.port}",
        # A second address (an active/standby pair): QuickFIX tries the addresses in turn.
        *([f"SocketConnectHost1={args.host}", f"SocketConnectPort1={args.backup_port}"]
          if args.backup_port else []),
        "",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="QuickFIX FIXT.1.1/FIX 5.0 SP2 initiator that records events as JSONL."
    )
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument(
        "--backup-port", type=int, default=0,
        help="a second acceptor port on the same host (SocketConnectHost1/Port1)",
    )  # fmt: skip
    parser.add_argument("--sender", required=True, help="our SenderCompID (49)")
    parser.add_argument("--target", required=True, help="the acceptor's CompID (56)")
    parser.add_argument("--out", required=True, type=Path, help="JSONL event file (appended)")
    parser.add_argument(
        "--store-dir",
        required=True,
        type=Path,
        help="FileStore + FileLog directory; keep it to keep sequence numbers",
    )
    parser.add_argument(
        "--spec-dir",
        required=True,
        type=Path,
        help=f"directory holding {TRANSPORT_DICTIONARY} and {APP_DICTIONARY}",
    )
    parser.add_argument("--reset-on-logon", action="store_true", help="ResetOnLogon=Y (default N)")
    parser.add_argument("--heartbeat", type=int, default=30, help="HeartBtInt, seconds")
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop after this many seconds (default: run until signalled)",
    )
    parser.add_argument(
        "--stop-after-app",
        type=int,
        default=None,
        metavar="N",
        help="stop after N application messages reached fromApp",
    )
    parser.add_argument(
        "--send-on-logon",
        type=lambda text: split_fields(text.replace("|", SOH)),
        default=[],
        metavar="35=TYPE|TAG=VALUE|...",
        help="one application message to send after the run's first Logon",
    )
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the parent process (the test runner) dies",
    )
    args = parser.parse_args(argv)
    if args.heartbeat <= 0:
        parser.error("--heartbeat must be positive")
    if args.stop_after_app is not None and args.stop_after_app <= 0:
        parser.error("--stop-after-app must be positive")
    return args


def run(args: argparse.Namespace) -> int:
    store_dir = args.store_dir.resolve()
    spec_dir = args.spec_dir.resolve()
    store_dir.mkdir(parents=True, exist_ok=True)
    writer = EventWriter(args.out.resolve())

    parent_pid = os.getppid()
    stop_event = threading.Event()
    stop_reason: list[str] = []

    def request_stop(reason: str) -> None:
        if not stop_event.is_set():
            stop_reason.append(reason)
            stop_event.set()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        request_stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    config_path = store_dir / CONFIG_NAME
    writer.emit("process_start", argv=sys.argv, config=str(config_path))

    missing = [
        name for name in (TRANSPORT_DICTIONARY, APP_DICTIONARY) if not (spec_dir / name).is_file()
    ]
    if missing:
        message = f"missing data dictionaries in {spec_dir}: {', '.join(missing)}"
        writer.emit("error", error=message)
        print(f"quickfix_client: {message}", file=sys.stderr, flush=True)
        writer.emit("process_exit", code=EXIT_USAGE)
        writer.close()
        return EXIT_USAGE

    config_path.write_text(build_settings_text(args, store_dir, spec_dir), encoding="utf-8")

    session_label = f"{BEGIN_STRING}:{args.sender}->{args.target}"
    prefix = store_dir / f"{BEGIN_STRING}-{args.sender}-{args.target}"
    mirror = FileLogMirror(
        writer,
        our_comp_id=args.sender,
        messages_logs=[(Path(f"{prefix}.messages.current.log"), session_label)],
        event_logs=[
            (Path(f"{prefix}.event.current.log"), session_label),
            (store_dir / "GLOBAL.event.current.log", "GLOBAL"),
        ],
    )
    mirror.start()

    try:
        settings = fix.SessionSettings(str(config_path))
        application = RecordingApplication(
            writer, args.stop_after_app, request_stop, args.send_on_logon
        )
        store_factory = fix.FileStoreFactory(settings)
        log_factory = fix.FileLogFactory(settings)
        initiator = fix.SocketInitiator(application, store_factory, settings, log_factory)
        initiator.start()
    except Exception as exc:  # quickfix.ConfigError, RuntimeError, ...
        writer.emit("error", error=repr(exc), traceback=traceback.format_exc())
        print(f"quickfix_client: cannot start initiator: {exc!r}", file=sys.stderr, flush=True)
        mirror.stop()
        writer.emit("process_exit", code=EXIT_ENGINE_ERROR)
        writer.close()
        return EXIT_ENGINE_ERROR

    deadline = None if args.duration is None else time.monotonic() + args.duration
    while not stop_event.wait(0.05):
        if deadline is not None and time.monotonic() >= deadline:
            request_stop(f"duration {args.duration}s")
        if args.exit_with_parent and os.getppid() != parent_pid:
            request_stop("parent process exited")

    writer.emit("stopping", reason=stop_reason[0] if stop_reason else "unknown")
    try:
        initiator.stop()  # Sends Logout and waits (at most ~10 s) for the reply.
    except Exception as exc:
        writer.emit("error", error=repr(exc), traceback=traceback.format_exc())
    mirror.stop()
    writer.emit("process_exit", code=EXIT_OK)
    writer.close()
    # The engine objects hold raw pointers to one another: keep them all alive until os._exit.
    _KEEPALIVE.extend([initiator, log_factory, store_factory, application, settings])
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    code = run(args)
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: SWIG/QuickFIX objects destroyed in arbitrary order at
    # shutdown can crash the process after a perfectly clean stop. Everything is flushed.
    os._exit(code)


if __name__ == "__main__":
    main()
