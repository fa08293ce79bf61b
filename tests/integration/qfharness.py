"""pytest helpers that drive a real QuickFIX initiator against fixbridge (or any FIXT acceptor).

What this module is for
-----------------------
fixbridge's integration tests must be judged by a genuine, strictly validating FIX engine.
This module runs ``tests/integration/quickfix_client.py`` (a ``quickfix.SocketInitiator``
with the stock FIXT 1.1 / FIX 5.0 SP2 dictionaries and validation on) as a subprocess and
reads back the JSONL it writes, so a test can:

- get the stock QuickFIX data dictionaries: ``quickfix_spec_dir(version)`` (fetched once from
  the ``quickfix==<version>`` sdist on PyPI into ``<repo>/.cache/quickfix-spec/<version>/``, or
  under the directory named by ``$FIXBRIDGE_QUICKFIX_SPEC``);
- start / stop / restart the back-office client: ``QuickFixClient`` (its FileStore survives
  restarts, so sequence numbers continue exactly as a real back office's would);
- wait for and inspect what QuickFIX accepted (``app_messages()``), what it rejected
  (``rejects_sent()``, ``rejected_inbound()``), every raw message on the wire (``wire_in`` /
  ``wire_out`` events) and QuickFIX's own event log (``event_log_tail()``).

JSONL event format: see the docstring of ``quickfix_client.py``. In short, one object per line
with ``event`` in {process_start, create, logon, logout, admin_in, admin_out, app_in, app_out,
wire_in, wire_out, session_event, stopping, process_exit, error, callback_error}, plus ``ts``
and ``pid``; message events add ``msg_type``, ``seq``, ``poss_dup``, ``raw`` ("|" for SOH) and
``fields`` ([[tag, value], ...]).

What it must never do
---------------------
- Never import or call fixbridge: it only observes the FIX wire through QuickFIX, so it can
  judge fixbridge independently (its self-test runs against a QuickFIX acceptor instead).
- Never weaken QuickFIX's validation or edit what the client recorded; the JSONL file is
  append-only evidence and is only read here.
- Never leave a client process behind: ``stop()`` escalates SIGTERM to SIGKILL, the context
  manager always stops, and the client exits by itself if the test process dies.
- Never extract anything from the downloaded sdist except the two dictionary files.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

try:  # POSIX only; without it concurrent fetches merely duplicate work.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_SCRIPT = Path(__file__).resolve().with_name("quickfix_client.py")

QUICKFIX_VERSION = "1.16.0"  # the newest stock dictionaries: extension packs included
ORIGINAL_FIX50SP2_VERSION = "1.15.1"  # the last with the original FIX 5.0 SP2 dictionary
SPEC_ENV_VAR = "FIXBRIDGE_QUICKFIX_SPEC"
DEFAULT_SPEC_CACHE = REPO_ROOT / ".cache" / "quickfix-spec"
#: Dictionary file -> expected attributes of its root <fix> element.
SPEC_FILES: Mapping[str, Mapping[str, str]] = {
    "FIXT11.xml": {"type": "FIXT", "major": "1", "minor": "1"},
    "FIX50SP2.xml": {"type": "FIX", "major": "5", "minor": "0", "servicepack": "2"},
}
BEGIN_STRING = "FIXT.1.1"
DEFAULT_APPL_VER_ID = "9"  # FIX.5.0SP2
SOH = "\x01"

MESSAGE_EVENTS = frozenset({"admin_in", "admin_out", "app_in", "app_out", "wire_in", "wire_out"})
_POLL_INTERVAL_S = 0.05


class QuickFixSpecError(RuntimeError):
    """The stock QuickFIX data dictionaries could not be found or fetched."""


# --------------------------------------------------------------------------------------------
# Data dictionaries
# --------------------------------------------------------------------------------------------


def _spec_file_ok(path: Path, expected: Mapping[str, str]) -> bool:
    """True if ``path`` is a QuickFIX dictionary whose root carries the expected version."""
    if not path.is_file() or path.stat().st_size == 0:
        return False
    try:
        for _event, element in ET.iterparse(path, events=("start",)):
            return element.tag == "fix" and all(
                element.get(key) == value for key, value in expected.items()
            )
    except ET.ParseError:
        return False
    return False


def _spec_dir_ok(directory: Path) -> bool:
    return all(_spec_file_ok(directory / name, attrs) for name, attrs in SPEC_FILES.items())


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """An inter-process lock (flock) so parallel test workers fetch only once."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    with path.open("a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _fetch_spec_files(target: Path, version: str) -> None:
    """Download the quickfix sdist with pip and extract only the two dictionaries into target."""
    with tempfile.TemporaryDirectory(prefix="quickfix-sdist-") as tmp:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            f"quickfix=={version}",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--disable-pip-version-check",
            "-d",
            tmp,
        ]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=600, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise QuickFixSpecError(f"could not run {' '.join(command)}: {exc!r}") from exc
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip().splitlines()
            raise QuickFixSpecError(
                f"`{' '.join(command)}` failed with exit code {result.returncode} (no access "
                f"to PyPI? then set {SPEC_ENV_VAR} to a directory whose {version}/ holds the "
                f"quickfix {version} sdist's spec/{{{','.join(SPEC_FILES)}}}):\n"
                + "\n".join(output[-20:])
            )
        sdists = sorted(Path(tmp).glob(f"quickfix-{version}.tar.gz"))
        if not sdists:
            raise QuickFixSpecError(
                f"pip download succeeded but left no quickfix-{version}.tar.gz in {tmp}"
            )
        try:
            with tarfile.open(sdists[0], "r:gz") as archive:
                for name in SPEC_FILES:
                    member_name = f"quickfix-{version}/spec/{name}"
                    member = archive.getmember(member_name)
                    extracted = archive.extractfile(member) if member.isfile() else None
                    if extracted is None:
                        raise QuickFixSpecError(f"{member_name} is not a file in {sdists[0]}")
                    data = extracted.read()
                    partial = target / f".{name}.{os.getpid()}.part"
                    partial.write_bytes(data)
                    os.replace(partial, target / name)
        except (KeyError, tarfile.TarError, OSError) as exc:
            raise QuickFixSpecError(
                f"cannot extract the dictionaries from {sdists[0]}: {exc!r}"
            ) from exc


def quickfix_spec_dir(version: str = QUICKFIX_VERSION) -> Path:
    """Return a directory holding QuickFIX ``version``'s stock ``FIXT11.xml`` and
    ``FIX50SP2.xml``.

    That is ``<root>/<version>/``, the root being ``$FIXBRIDGE_QUICKFIX_SPEC`` if set, else
    ``<repo>/.cache/quickfix-spec/``. When the files are missing they are fetched once with
    ``python -m pip download quickfix==<version> --no-deps --no-binary :all:`` and extracted
    from the sdist's ``spec/`` folder. Raises ``QuickFixSpecError`` if that is impossible.
    """
    configured = os.environ.get(SPEC_ENV_VAR)
    root = Path(configured).expanduser() if configured else DEFAULT_SPEC_CACHE
    target = (root / version).resolve()
    if _spec_dir_ok(target):
        return target
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise QuickFixSpecError(f"cannot create the spec cache directory {target}: {exc}") from exc
    with _exclusive_lock(target / ".fetch.lock"):
        if not _spec_dir_ok(target):  # Another worker may have fetched them meanwhile.
            _fetch_spec_files(target, version)
    if not _spec_dir_ok(target):
        raise QuickFixSpecError(
            f"{target} does not hold valid {' and '.join(SPEC_FILES)} after fetching them; "
            f"set {SPEC_ENV_VAR} to a directory whose {version}/ holds the quickfix {version} "
            "spec/ files"
        )
    return target


# --------------------------------------------------------------------------------------------
# Parsed messages
# --------------------------------------------------------------------------------------------


def _split(raw: str) -> tuple[tuple[int, str], ...]:
    separator = SOH if SOH in raw else "|"
    pairs: list[tuple[int, str]] = []
    for token in raw.split(separator):
        if not token:
            continue
        tag_text, sep, value = token.partition("=")
        try:
            pairs.append((int(tag_text), value) if sep else (-1, token))
        except ValueError:
            pairs.append((-1, token))
    return tuple(pairs)


@dataclass(frozen=True)
class FixMessage:
    """One recorded FIX message: the (tag, value) pairs in order, plus where it was seen.

    ``fields`` maps each tag to its *first* value; use ``pairs``, ``get_all`` or ``group`` for
    repeating groups. Note: for ``app_*``/``admin_*`` events the pairs are QuickFIX's
    re-serialisation of the parsed message; ``wire_*`` events carry the exact logged text.
    """

    pairs: tuple[tuple[int, str], ...]
    event: str = ""
    raw: str = ""
    ts: float | None = None
    pid: int | None = None

    @classmethod
    def parse(cls, raw: str, *, event: str = "") -> FixMessage:
        """Parse a message delimited by SOH, or by ``|`` when it contains no SOH."""
        return cls(pairs=_split(raw), event=event, raw=raw.replace(SOH, "|"))

    @classmethod
    def from_event(cls, record: Mapping[str, Any]) -> FixMessage:
        """Build from a JSONL message event (uses its ``fields`` list, else parses ``raw``)."""
        raw = str(record.get("raw", ""))
        fields = record.get("fields")
        pairs = (
            tuple((int(tag), str(value)) for tag, value in fields)
            if isinstance(fields, list)
            else _split(raw)
        )
        ts, pid = record.get("ts"), record.get("pid")
        return cls(
            pairs=pairs,
            event=str(record.get("event", "")),
            raw=raw,
            ts=float(ts) if isinstance(ts, int | float) else None,
            pid=pid if isinstance(pid, int) else None,
        )

    @cached_property
    def fields(self) -> dict[int, str]:
        first: dict[int, str] = {}
        for tag, value in self.pairs:
            first.setdefault(tag, value)
        return first

    @property
    def msg_type(self) -> str | None:
        return self.fields.get(35)

    @property
    def seq_num(self) -> int | None:
        value = self.fields.get(34)
        return int(value) if value is not None and value.isdigit() else None

    @property
    def poss_dup(self) -> bool:
        return self.fields.get(43) == "Y"

    def get(self, tag: int, default: str | None = None) -> str | None:
        return self.fields.get(tag, default)

    def get_all(self, tag: int) -> list[str]:
        return [value for t, value in self.pairs if t == tag]

    def __getitem__(self, tag: int) -> str:
        return self.fields[tag]

    def __contains__(self, tag: object) -> bool:
        return tag in self.fields

    def group(
        self, count_tag: int, delimiter_tag: int, member_tags: Iterable[int] = ()
    ) -> list[list[tuple[int, str]]]:
        """The instances of the repeating group counted by ``count_tag`` (first occurrence).

        Each instance starts at ``delimiter_tag``. Without a dictionary the end of the last
        instance is unknown, so pass ``member_tags`` (all tags that may appear in an instance,
        nested ones included) to stop there; with no members, the last instance runs up to the
        CheckSum (10). Stops after the announced count of instances.
        """
        members = set(member_tags)
        restrict = bool(members)
        members.add(delimiter_tag)
        start = next((i for i, (t, _v) in enumerate(self.pairs) if t == count_tag), None)
        if start is None:
            return []
        expected = int(self.pairs[start][1]) if self.pairs[start][1].isdigit() else 0
        instances: list[list[tuple[int, str]]] = []
        for tag, value in self.pairs[start + 1 :]:
            if tag == delimiter_tag:
                if len(instances) == expected:
                    break
                instances.append([])
            elif not instances or tag == 10 or (restrict and tag not in members):
                break
            instances[-1].append((tag, value))
        return instances

    def __str__(self) -> str:
        return self.raw or "|".join(f"{tag}={value}" for tag, value in self.pairs)


# --------------------------------------------------------------------------------------------
# The client process
# --------------------------------------------------------------------------------------------


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bind to port 0 and release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"<{path} does not exist>"
    return "\n".join(text.replace(SOH, "|").splitlines()[-lines:])


def _summarise(record: Mapping[str, Any]) -> str:
    kind = record.get("event", "?")
    if kind in MESSAGE_EVENTS:
        return f"{kind:<9} {record.get('raw', '')}"
    details = {k: v for k, v in record.items() if k not in {"event", "ts", "pid", "traceback"}}
    return f"{kind:<9} {json.dumps(details, ensure_ascii=False)}" if details else str(kind)


class QuickFixClient:
    """A QuickFIX back-office initiator running as a subprocess, observed through its JSONL.

    ``workdir`` holds ``events.jsonl`` (all runs, appended), ``client.stdio.log`` and
    ``store/`` (FileStore + FileLog + generated settings). Reuse the same workdir to keep the
    sequence numbers, exactly like restarting a real back office.

    ``current_run=True`` on the query methods restricts them to events of the process started
    by the latest ``start()``; the default covers every run recorded in ``events.jsonl``.
    """

    def __init__(
        self,
        *,
        port: int,
        sender: str,
        target: str,
        workdir: str | os.PathLike[str],
        host: str = "127.0.0.1",
        spec_dir: str | os.PathLike[str] | None = None,
        reset_on_logon: bool = False,
        heartbeat: int = 30,
        duration: float | None = None,
        stop_after_app: int | None = None,
        env: Mapping[str, str] | None = None,
        send_on_logon: str | None = None,
        backup_port: int | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.backup_port = backup_port  # a second address, tried in turn with ``port``
        self.sender = sender
        self.target = target
        self.workdir = Path(workdir).resolve()
        self.spec_dir = Path(spec_dir).resolve() if spec_dir is not None else None
        self.reset_on_logon = reset_on_logon
        self.heartbeat = heartbeat
        self.duration = duration
        self.stop_after_app = stop_after_app
        self.env = dict(env or {})
        self.send_on_logon = send_on_logon  # "35=TYPE|TAG=VALUE|...": sent after each start's Logon
        self.store_dir = self.workdir / "store"
        self.events_path = self.workdir / "events.jsonl"
        self.stdio_path = self.workdir / "client.stdio.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._stdio: IO[bytes] | None = None
        self._run_offset = 0
        self.runs = 0

    # -- paths ----------------------------------------------------------------------------

    @property
    def _log_prefix(self) -> str:
        return f"{BEGIN_STRING}-{self.sender}-{self.target}"

    @property
    def event_log_path(self) -> Path:
        """QuickFIX's FileLog event file for the session (all runs, appended)."""
        return self.store_dir / f"{self._log_prefix}.event.current.log"

    @property
    def messages_log_path(self) -> Path:
        """QuickFIX's FileLog message file (every message in and out, as logged)."""
        return self.store_dir / f"{self._log_prefix}.messages.current.log"

    @property
    def seqnums_path(self) -> Path:
        return self.store_dir / f"{self._log_prefix}.seqnums"

    # -- process control --------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def returncode(self) -> int | None:
        """The exit code of the latest run (None while running or before the first start)."""
        return self._process.poll() if self._process is not None else None

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        """The command line ``start()`` runs."""
        spec_dir = self.spec_dir if self.spec_dir is not None else quickfix_spec_dir()
        command = [
            sys.executable,
            "-u",
            str(CLIENT_SCRIPT),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--sender",
            self.sender,
            "--target",
            self.target,
            "--out",
            str(self.events_path),
            "--store-dir",
            str(self.store_dir),
            "--spec-dir",
            str(spec_dir),
            "--heartbeat",
            str(self.heartbeat),
            "--exit-with-parent",
        ]
        if self.backup_port is not None:
            command += ["--backup-port", str(self.backup_port)]
        if self.reset_on_logon:
            command.append("--reset-on-logon")
        if self.duration is not None:
            command += ["--duration", str(self.duration)]
        if self.stop_after_app is not None:
            command += ["--stop-after-app", str(self.stop_after_app)]
        if self.send_on_logon is not None:
            command += ["--send-on-logon", self.send_on_logon]
        return command

    def start(self) -> None:
        """Start the client process (it connects, retrying every second, and logs on)."""
        if self.is_running:
            raise RuntimeError(f"QuickFIX client already running (pid {self.pid})")
        self._close_stdio()
        command = self.command()
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self._run_offset = self.events_path.stat().st_size if self.events_path.exists() else 0
        self._stdio = self.stdio_path.open("ab")
        self._stdio.write(f"--- start: {' '.join(command)}\n".encode())
        self._stdio.flush()
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._stdio,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            env=environment,
        )
        self.runs += 1

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM the client (it logs out cleanly), wait, SIGKILL after ``timeout``.

        Returns the exit code (0 after a clean stop), or None if it was never started.
        QuickFIX waits up to ~10 s for the counterparty's Logout reply, hence the timeout.
        """
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self._close_stdio()
        return process.returncode

    def restart(self, timeout: float = 15.0) -> int | None:
        """Stop (returning that run's exit code) and start again with the same store."""
        code = self.stop(timeout=timeout)
        self.start()
        return code

    def wait_for_exit(self, timeout: float = 15.0) -> int:
        """Wait for the client to exit on its own (--duration / --stop-after-app)."""
        process = self._require_process()
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"QuickFIX client still running after {timeout:.1f}s\n" + self.diagnostics()
            ) from None
        self._close_stdio()
        return code

    def __enter__(self) -> Self:
        if not self.is_running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running else f"exited({self.returncode})"
        return (
            f"QuickFixClient({self.sender}->{self.target} @ {self.host}:{self.port}, "
            f"pid={self.pid}, {state}, workdir={self.workdir})"
        )

    def _require_process(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError("QuickFIX client was never started")
        return self._process

    def _close_stdio(self) -> None:
        if self._stdio is not None:
            self._stdio.close()
            self._stdio = None

    # -- reading the record -----------------------------------------------------------------

    def events(self, *, current_run: bool = False) -> list[dict[str, Any]]:
        """All complete JSONL events so far (a line still being written is skipped)."""
        try:
            with self.events_path.open("rb") as handle:
                if current_run:
                    handle.seek(self._run_offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        records: list[dict[str, Any]] = []
        for line in data.split(b"\n")[:-1]:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def messages(
        self, *kinds: str, msg_type: str | Iterable[str] | None = None, current_run: bool = False
    ) -> list[FixMessage]:
        """Messages from the given event kinds (e.g. "app_in", "wire_in"), in record order."""
        unknown = set(kinds) - MESSAGE_EVENTS
        if not kinds or unknown:
            raise ValueError(f"kinds must be among {sorted(MESSAGE_EVENTS)}, got {kinds}")
        types = (
            {msg_type}
            if isinstance(msg_type, str)
            else (set(msg_type) if msg_type is not None else None)
        )
        return [
            FixMessage.from_event(record)
            for record in self.events(current_run=current_run)
            if record.get("event") in kinds and (types is None or record.get("msg_type") in types)
        ]

    def app_messages(self, *, current_run: bool = False) -> list[FixMessage]:
        """Application messages QuickFIX validated and delivered to fromApp."""
        return self.messages("app_in", current_run=current_run)

    def unvalidated_app_messages(self, *, current_run: bool = False) -> list[FixMessage]:
        """Application messages QuickFIX accepted *without* validating their body.

        QuickFIX validates a FIXT application message's body against the dictionary of its
        ApplVerID (1128, else the session's DefaultApplVerID 9 = FIX.5.0SP2). Only FIX.5.0SP2
        is loaded, so a message carrying e.g. 1128=7 or 8 is delivered with only its header
        checked, undefined tags and all. Tests should assert this list is empty.
        """
        return [
            message
            for message in self.app_messages(current_run=current_run)
            if message.get(1128, DEFAULT_APPL_VER_ID) != DEFAULT_APPL_VER_ID
        ]

    def rejects_sent(self, *, current_run: bool = False) -> list[FixMessage]:
        """Session Rejects (35=3, admin_out) and BusinessMessageRejects (35=j, app_out) the
        client sent, in order."""
        return [
            message
            for message in self.messages("admin_out", "app_out", current_run=current_run)
            if (message.event, message.msg_type) in {("admin_out", "3"), ("app_out", "j")}
        ]

    def rejects_received(self, *, current_run: bool = False) -> list[FixMessage]:
        """Rejects (35=3) and BusinessMessageRejects (35=j) the client received."""
        return [
            message
            for message in self.messages("admin_in", "app_in", current_run=current_run)
            if (message.event, message.msg_type) in {("admin_in", "3"), ("app_in", "j")}
        ]

    def rejected_inbound(
        self, *, current_run: bool = False
    ) -> list[tuple[FixMessage, FixMessage | None]]:
        """Each reject the client sent, paired with the inbound message it refers to.

        The offending message is the ``wire_in`` of the same process whose MsgSeqNum equals
        the reject's RefSeqNum (45); None if the FileLog mirror has not caught up (it polls
        every 20 ms) or the message could not be identified.
        """
        wire: dict[tuple[int | None, int | None], FixMessage] = {}
        for message in self.messages("wire_in", current_run=current_run):
            wire[(message.pid, message.seq_num)] = message
        pairs: list[tuple[FixMessage, FixMessage | None]] = []
        for reject in self.rejects_sent(current_run=current_run):
            ref = reject.get(45)
            ref_seq = int(ref) if ref is not None and ref.isdigit() else None
            pairs.append((reject, wire.get((reject.pid, ref_seq))))
        return pairs

    def session_events(self, *, current_run: bool = False) -> list[str]:
        """QuickFIX's event-log lines (mirrored into the JSONL), e.g. "Message 5 Rejected: ..."
        or "Invalid message: ..." for a garbled message it dropped without a reject."""
        return [
            str(record.get("text", ""))
            for record in self.events(current_run=current_run)
            if record.get("event") == "session_event"
        ]

    def logons(self, *, current_run: bool = False) -> list[FixMessage]:
        """The Logon messages the client sent (admin_out 35=A), e.g. to read their 34/141."""
        return self.messages("admin_out", msg_type="A", current_run=current_run)

    def stored_seq_nums(self) -> tuple[int, int] | None:
        """(next sender, next target) MsgSeqNum as persisted in the client's FileStore."""
        try:
            text = self.seqnums_path.read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return None
        match = re.search(r"(\d+)\s*:\s*(\d+)", text)
        return (int(match.group(1)), int(match.group(2))) if match else None

    def event_log_text(self) -> str:
        """The whole QuickFIX FileLog event file ("" if it does not exist yet)."""
        try:
            return self.event_log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def event_log_tail(self, lines: int = 40) -> str:
        return _tail(self.event_log_path, lines)

    def diagnostics(self, lines: int = 30) -> str:
        """A debugging report: process state, recent JSONL events, QuickFIX logs, stdio."""
        records = self.events(current_run=True)
        counts = Counter(str(record.get("event")) for record in records)
        state = (
            "not started"
            if self._process is None
            else "running"
            if self.is_running
            else f"exited with code {self.returncode}"
        )
        parts = [
            f"client: {self!r} ({state}; run {self.runs})",
            f"events this run: {dict(sorted(counts.items()))}",
            f"--- last {lines} JSONL events of this run ({self.events_path}):",
            *(_summarise(record) for record in records[-lines:]),
            f"--- tail of the QuickFIX event log ({self.event_log_path}):",
            _tail(self.event_log_path, lines),
            f"--- tail of the client's stdout/stderr ({self.stdio_path}):",
            _tail(self.stdio_path, lines),
        ]
        return "\n".join(parts)

    # -- waiting ----------------------------------------------------------------------------

    def wait_for(
        self, condition: Callable[[], bool], timeout: float, description: str | Callable[[], str]
    ) -> None:
        """Poll ``condition`` until true; AssertionError with diagnostics on timeout or if the
        client exits first. ``description`` may be a callable, evaluated only on failure."""
        deadline = time.monotonic() + timeout
        while True:
            if condition():
                return
            failure: str | None = None
            if self._process is not None and self._process.poll() is not None:
                if condition():  # The final events may have landed just before the exit.
                    return
                failure = f"QuickFIX client exited (code {self._process.returncode}) while waiting"
            elif time.monotonic() >= deadline:
                failure = f"timed out after {timeout:.1f}s waiting"
            if failure is not None:
                what = description() if callable(description) else description
                raise AssertionError(f"{failure} for {what}\n{self.diagnostics()}")
            time.sleep(_POLL_INTERVAL_S)

    def wait_for_event(
        self, kind: str, timeout: float = 10.0, *, count: int = 1, current_run: bool = True
    ) -> dict[str, Any]:
        """Wait until ``count`` events of ``kind`` exist; returns the count-th one."""
        found: list[dict[str, Any]] = []

        def condition() -> bool:
            found[:] = [
                record
                for record in self.events(current_run=current_run)
                if record.get("event") == kind
            ]
            return len(found) >= count

        scope = "this run" if current_run else "all runs"
        self.wait_for(condition, timeout, f"{count} {kind!r} event(s) ({scope})")
        return found[count - 1]

    def wait_for_logon(self, timeout: float = 10.0) -> None:
        """Wait until the current client process is logged on (QuickFIX onLogon)."""
        self.wait_for_event("logon", timeout, current_run=True)

    def wait_for_app(
        self,
        n: int,
        timeout: float = 10.0,
        *,
        current_run: bool = False,
        unique_tag: int | None = None,
    ) -> None:
        """Wait until at least ``n`` application messages reached fromApp (all runs by default;
        ``current_run=True`` counts only the latest process's). With ``unique_tag`` (e.g. 17,
        ExecID) it counts distinct values of that tag instead, so resends and duplicates after
        a reconnect are not counted twice."""
        have = [0]

        def condition() -> bool:
            messages = self.app_messages(current_run=current_run)
            have[0] = (
                len(messages)
                if unique_tag is None
                else len({m.get(unique_tag) for m in messages if unique_tag in m})
            )
            return have[0] >= n

        scope = "this run" if current_run else "all runs"
        what = (
            "application messages" if unique_tag is None else f"distinct values of tag {unique_tag}"
        )
        self.wait_for(condition, timeout, lambda: f"{n} {what} in fromApp ({scope}; got {have[0]})")
