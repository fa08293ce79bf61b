"""Memory of the bridge while it answers ResendRequest 1..0 over a large outbound store.

Requirement checked: "A ResendRequest for 1..0 over 100,000 stored messages completes with the
bridge's memory staying within 50 MB of its level before the request."

What one invocation does:

1. Builds a journal with N real ExecutionReport bodies for one session, written through the
   journal's public API (``SqliteJournal.load_session`` + ``record_sent`` in batches). The bodies
   are rendered by ``fixbridge.normalize.execution`` from executions of the seeded market
   simulator. The session's numbers are then set so that the bridge's Logon takes seq N+1.
2. Resend run: starts the real bridge (``python -m fixbridge run``) on a copy of that journal,
   with the upstream pointing at an unused local port (the bridge keeps retrying it). It then
   logs on as a raw FIX initiator without a reset and sends ResendRequest 7=1 16=0. It reads
   until every sequence number 1..L is covered, where L is the Logon's MsgSeqNum. Each number
   is covered by a replayed message or a SequenceReset-GapFill. Meanwhile a thread samples the
   bridge's VmRSS every 20 ms. The kernel's peak (VmHWM) is reset just before the request, so
   spikes between samples count too.
3. Baseline run: a fresh bridge on an identical copy of the journal, the same logon, then idle
   for as long as the resend took. It shows how much the RSS moves without a resend.

Run ``python bench/resend_memory.py [--messages 100000] [--json]``. The exit status is 0 when the
growth is within the bound and the resend was complete and correct, otherwise 1. Sizes are in
MB = 1,000,000 bytes, the strictest reading of the requirement.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from array import array
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from fixbridge.fix.codec import FixMessage, FrameParser, Garbled, Oversize, encode_fields, frame
from fixbridge.journal.records import OutboundMessage
from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.normalize.execution import execution_report_body, normalize_execution
from fixbridge.normalize.style import RenderStyle
from fixbridge.normalize.timestamps import Precision, format_utc_timestamp
from fixbridge.simulator.market import MarketModel

REPO = Path(__file__).resolve().parents[1]
SESSION = "bench"
BRIDGE_COMP_ID, CLIENT_COMP_ID = "FIXBRIDGE", "BENCHCLIENT"
DEFAULT_MESSAGES = 100_000
DEFAULT_BOUND_MB = 50.0
CLIENT_NEXT_SEQ = 42  # the client's next MsgSeqNum as the bridge has it stored
HEARTBEAT_S = 30
SAMPLE_INTERVAL_S = 0.02
SETTLE_S = 1.0  # after logon, before the request: let start-up allocations finish
TAIL_S = 0.5  # after full coverage, keep reading: anything extra would be a duplicate
WRITE_BATCH = 5_000
START_NS = 1_763_683_200_000_000_000  # 2025-11-21T00:00:00Z
MB = 1_000_000


# --- measuring the bridge's memory -------------------------------------------------------------


def _status_kib(pid: int, key: str) -> int | None:
    """A ``kB`` line of /proc/<pid>/status (VmRSS, VmHWM), or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def rss_bytes(pid: int) -> int:
    kib = _status_kib(pid, "VmRSS")
    if kib is None:
        raise RuntimeError(f"process {pid} is gone")
    return kib * 1024


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident memory so far (VmHWM), in MB; None once it is gone."""
    kib = _status_kib(pid, "VmHWM")
    return None if kib is None else round(kib * 1024 / 1e6, 1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak(pid: int) -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of ``pid``; False where that is not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


class RssSampler:
    """Samples a process's VmRSS from a thread every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL_S) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int]] = []  # (monotonic seconds, RSS bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            kib = _status_kib(self.pid, "VmRSS")
            if kib is None:
                return
            self.samples.append((time.monotonic(), kib * 1024))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def window(self, start: float, end: float) -> list[int]:
        return [rss for t, rss in list(self.samples) if start <= t <= end]


@dataclass(frozen=True, slots=True)
class MemoryFigures:
    """The bridge's RSS around one measured window, in bytes."""

    window_s: float
    before: int  # read just before the window opened
    peak_sampled: int  # highest 20 ms sample in the window
    peak_kernel: int | None  # VmHWM at the end, reset at the start (None: reset not allowed)
    after: int  # read at the end of the window
    samples: int
    cpu_s: float  # CPU seconds the bridge used in the window

    @property
    def peak(self) -> int:
        return max(self.peak_sampled, self.peak_kernel or 0)

    @property
    def growth(self) -> int:
        return self.peak - self.before


class Window:
    """Opens a measurement window on a sampled process; ``close`` returns its figures."""

    def __init__(self, sampler: RssSampler) -> None:
        self._sampler = sampler
        pid = sampler.pid
        self._kernel_peak = reset_peak(pid)
        self.before = rss_bytes(pid)
        self._cpu = cpu_seconds(pid)
        self.start = time.monotonic()

    def close(self) -> MemoryFigures:
        end = time.monotonic()
        pid = self._sampler.pid
        after = rss_bytes(pid)
        cpu = cpu_seconds(pid) - self._cpu
        hwm = _status_kib(pid, "VmHWM") if self._kernel_peak else None
        window = self._sampler.window(self.start, end)
        return MemoryFigures(
            window_s=end - self.start,
            before=self.before,
            peak_sampled=max([*window, self.before, after]),
            peak_kernel=None if hwm is None else hwm * 1024,
            after=after,
            samples=len(window),
            cpu_s=cpu,
        )


# --- the journal -------------------------------------------------------------------------------


def execution_bodies(count: int, seed: int) -> Iterator[bytes]:
    """``count`` ExecutionReport bodies rendered from the seeded simulator's executions."""
    model = MarketModel(seed)
    now = START_NS
    made = 0
    while made < count:
        output = model.step(now, max_executions=count - made)
        now += 50_000_000
        for execution in output.executions:
            event = normalize_execution(execution)
            yield encode_fields(execution_report_body(event, RenderStyle(Precision.NANOS)))
            made += 1


@dataclass(frozen=True, slots=True)
class StoredJournal:
    path: Path
    messages: int
    body_bytes: int
    body_crcs: array[int]  # crc32 of the body stored at seq i + 1
    build_s: float


def build_journal(path: Path, messages: int, seed: int = 7) -> StoredJournal:
    """A journal whose session SESSION has sent and stored ``messages`` ExecutionReports.

    After this, the bridge's next sender seq is ``messages + 1`` (its Logon takes it) and the
    next seq it expects from the client is CLIENT_NEXT_SEQ.
    """
    started = time.perf_counter()
    crcs = array("I")
    total = 0
    journal = SqliteJournal(path, synchronous="normal")
    try:
        record = journal.load_session(SESSION)
        batch: list[OutboundMessage] = []
        seq = record.next_sender_seq
        for body in execution_bodies(messages, seed):
            sending_time = format_utc_timestamp(START_NS + seq * 1_000_000, Precision.NANOS)
            batch.append(OutboundMessage(seq, "8", sending_time, body))
            crcs.append(zlib.crc32(body))
            total += len(body)
            seq += 1
            if len(batch) == WRITE_BATCH:
                journal.record_sent(SESSION, batch, seq, record.cursor_offset, at_ns=time.time_ns())
                batch = []
        if batch:
            journal.record_sent(SESSION, batch, seq, record.cursor_offset, at_ns=time.time_ns())
        journal.save_sequence_numbers(SESSION, seq, CLIENT_NEXT_SEQ, at_ns=time.time_ns())
    finally:
        journal.close()
    return StoredJournal(path, messages, total, crcs, time.perf_counter() - started)


def stored_target_seq(path: Path) -> int:
    """The next MsgSeqNum the journal expects from the client (read before the bridge opens it)."""
    journal = SqliteJournal(path, synchronous="normal")
    try:
        return journal.load_session(SESSION).next_target_seq
    finally:
        journal.close()


def copy_journal(source: Path, target: Path) -> Path:
    """A byte copy of a closed journal (WAL already checkpointed), so each run starts alike."""
    shutil.copyfile(source, target)
    for suffix in ("-wal", "-shm"):
        extra = source.with_name(source.name + suffix)
        if extra.exists():
            shutil.copyfile(extra, target.with_name(target.name + suffix))
    return target


# --- the bridge subprocess ---------------------------------------------------------------------


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_bridge_config(
    path: Path, journal: Path, fix_port: int, upstream_port: int, resend_rate: int | None = None
) -> Path:
    """A minimal config: one session; ``resend_rate`` is written only when given."""
    rate = [] if resend_rate is None else [f"resend_rate = {resend_rate}"]
    path.write_text(
        "\n".join(
            [
                'log_level = "INFO"',
                "[upstream]",
                f'target = "127.0.0.1:{upstream_port}"',
                "[journal]",
                f"path = {json.dumps(str(journal))}",
                'synchronous = "normal"',
                "[fix]",
                'host = "127.0.0.1"',
                f"port = {fix_port}",
                "[metrics]",
                "enabled = false",
                "[[sessions]]",
                f'name = "{SESSION}"',
                f'sender_comp_id = "{BRIDGE_COMP_ID}"',
                f'target_comp_id = "{CLIENT_COMP_ID}"',
                *rate,
                "",
            ]
        ),
        encoding="utf-8",
    )
    return path


class Bridge:
    """``python -m fixbridge run --config FILE`` as a child process; stopped with SIGTERM."""

    def __init__(
        self, workdir: Path, journal: Path, name: str, resend_rate: int | None = None
    ) -> None:
        self.fix_port = unused_port()
        self.config = write_bridge_config(
            workdir / f"{name}.toml", journal, self.fix_port, unused_port(), resend_rate
        )
        self.log = workdir / f"{name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self.exit_code: int | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self, timeout: float = 30.0) -> None:
        self._log_file = self.log.open("ab")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "fixbridge", "run", "--config", str(self.config)],
            cwd=REPO,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"bridge exited with {self._proc.returncode}:\n{self.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.fix_port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"bridge is not listening on {self.fix_port}:\n{self.tail()}")

    def stop(self, timeout: float = 15.0) -> int:
        assert self._proc is not None
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        self.exit_code = self._proc.returncode
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return self.exit_code

    def tail(self, lines: int = 30) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> Bridge:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self.exit_code is None:
            self.stop()


# --- a raw FIX initiator -----------------------------------------------------------------------


class SessionEnded(RuntimeError):
    """The bridge logged us out or closed the connection."""


class FixClient:
    """A minimal blocking FIXT.1.1 initiator built on fixbridge's codec."""

    def __init__(self, port: int, next_seq: int) -> None:
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=10.0)
        self._parser = FrameParser(1 << 20)
        self._pending: deque[FixMessage] = deque()  # parsed, not yet handed out
        self.next_seq = next_seq
        self.garbled = 0
        self.test_requests_answered = 0

    def send(self, msg_type: str, fields: list[tuple[int, str]]) -> None:
        stamp = format_utc_timestamp(time.time_ns(), Precision.MILLIS)
        header = encode_fields(
            [(49, CLIENT_COMP_ID), (56, BRIDGE_COMP_ID), (34, str(self.next_seq)), (52, stamp)]
        )
        self._sock.sendall(frame(msg_type, header, encode_fields(fields)))
        self.next_seq += 1

    def frames(self, deadline: float) -> Iterator[FixMessage]:
        """Frames as they arrive until ``deadline``; TestRequests are answered, not yielded.

        A caller may stop iterating at any frame: the ones already read stay queued for the
        next call.
        """
        pending = self._pending
        while True:
            while pending:
                yield pending.popleft()
            if time.monotonic() >= deadline:
                return
            self._sock.settimeout(max(0.01, min(0.2, deadline - time.monotonic())))
            try:
                data = self._sock.recv(1 << 18)
            except TimeoutError:
                continue
            if not data:
                raise SessionEnded("the bridge closed the connection")
            for item in self._parser.feed(data):
                if isinstance(item, Garbled):
                    self.garbled += 1
                elif isinstance(item, Oversize):
                    raise SessionEnded(f"frame of {item.declared} bytes over the limit")
                elif item.msg_type == "1":
                    self.send("0", [(112, item.get(112) or "")])
                    self.test_requests_answered += 1
                else:
                    pending.append(item)

    def logon(self, timeout: float = 10.0) -> int:
        """Log on without a reset; returns the MsgSeqNum of the bridge's Logon reply."""
        self.send("A", [(98, "0"), (108, str(HEARTBEAT_S)), (1137, "9")])
        for msg in self.frames(time.monotonic() + timeout):
            if msg.msg_type == "A":
                return int(msg.get(34) or 0)
            if msg.msg_type == "5":
                raise SessionEnded(f"logon refused: {msg.get(58)}")
        raise SessionEnded("no Logon reply")

    def idle(self, seconds: float) -> list[FixMessage]:
        """Keep the session alive for ``seconds``; returns what arrived."""
        return list(self.frames(time.monotonic() + seconds))

    def logout(self, timeout: float = 5.0) -> bool:
        """Logout and wait for the bridge's Logout; True when it came."""
        self.send("5", [])
        with contextlib.suppress(SessionEnded):
            for msg in self.frames(time.monotonic() + timeout):
                if msg.msg_type == "5":
                    return True
        return False

    def close(self) -> None:
        self._sock.close()


# --- checking the replay -----------------------------------------------------------------------


@dataclass(slots=True)
class ReplayCheck:
    """What the answer to ResendRequest 1..0 contained, checked against the store."""

    last_seq: int  # L: the request covers 1..L
    replayed: int = 0  # application messages with 1 <= seq <= L
    gap_fills: int = 0
    gap_fill_ranges: list[tuple[int, int]] = field(default_factory=list)  # (seq, NewSeqNo)
    missing_poss_dup: int = 0  # replayed or gap-filled without 43=Y
    missing_orig_sending_time: int = 0  # replayed or gap-filled without 122
    body_mismatches: int = 0  # replayed body differs from the stored body of that seq
    out_of_order: int = 0  # a frame of the replay with a seq not above the previous one
    out_of_range: int = 0  # a PossDup frame or gap fill claiming seqs outside 1..L
    other_frames: int = 0  # anything else (heartbeats, a Reject, ...)
    uncovered: list[int] = field(default_factory=list)
    duplicated: list[int] = field(default_factory=list)
    _counts: array[int] = field(init=False, repr=False)  # times each seq was covered
    _covered: int = field(init=False, default=0)  # seqs covered at least once
    _previous: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._counts = array("I", [0]) * (self.last_seq + 1)

    @property
    def complete(self) -> bool:
        return self._covered == self.last_seq

    def _cover(self, first: int, last: int) -> None:
        counts = self._counts
        for seq in range(max(first, 1), min(last, self.last_seq) + 1):
            if counts[seq] == 0:
                self._covered += 1
            counts[seq] += 1
        if first < 1 or last > self.last_seq:
            self.out_of_range += 1

    def _header_flags(self, msg: FixMessage) -> None:
        if msg.get(43) != "Y":
            self.missing_poss_dup += 1
        if msg.get(122) is None:
            self.missing_orig_sending_time += 1

    def _ordered(self, seq: int) -> None:
        if seq <= self._previous:
            self.out_of_order += 1
        self._previous = seq

    def add(self, msg: FixMessage, stored_crcs: array[int]) -> None:
        seq = int(msg.get(34) or 0)
        if msg.msg_type == "4" and msg.get(123) == "Y":
            new_seq = int(msg.get(36) or 0)
            self.gap_fills += 1
            self.gap_fill_ranges.append((seq, new_seq))
            self._header_flags(msg)
            self._ordered(seq)
            self._cover(seq, new_seq - 1)
        elif msg.msg_type not in ("0", "1", "2", "3", "5", "A") and 1 <= seq <= self.last_seq:
            self.replayed += 1
            self._header_flags(msg)
            self._ordered(seq)
            self._cover(seq, seq)
            if seq > len(stored_crcs) or zlib.crc32(_body_of(msg.raw)) != stored_crcs[seq - 1]:
                self.body_mismatches += 1
        elif msg.get(43) == "Y":
            self.out_of_range += 1
        else:
            self.other_frames += 1

    def finish(self) -> None:
        counts = self._counts
        self.uncovered = [s for s in range(1, self.last_seq + 1) if counts[s] == 0]
        self.duplicated = [s for s in range(1, self.last_seq + 1) if counts[s] > 1]


def _body_of(raw: bytes) -> bytes:
    """The body of a frame the bridge built: after SendingTime(52), the last header field."""
    sending_time = raw.index(b"\x0152=")
    start = raw.index(b"\x01", sending_time + 1) + 1
    return raw[start:-7]  # the trailer is 10=NNN<SOH>


# --- the runs ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResendRun:
    check: ReplayCheck
    elapsed_s: float
    memory: MemoryFigures
    logout_confirmed: bool
    test_requests_answered: int
    bridge_exit: int | None
    error: str | None  # why the replay stopped early, if it did


def _logon(client: FixClient, bridge: Bridge) -> int:
    try:
        return client.logon()
    except (SessionEnded, OSError) as exc:
        raise RuntimeError(f"logon failed: {exc}\n{bridge.tail()}") from exc


def _replay(client: FixClient, check: ReplayCheck, crcs: array[int], timeout: float) -> float:
    """Send ResendRequest 1..0 and read until 1..L is covered; returns the seconds it took."""
    started = time.monotonic()
    client.send("2", [(7, "1"), (16, "0")])
    for msg in client.frames(started + timeout):
        check.add(msg, crcs)
        if check.complete:
            break
    elapsed = time.monotonic() - started
    if check.complete:  # anything more for 1..L from now on would be a duplicate
        for msg in client.frames(time.monotonic() + TAIL_S):
            check.add(msg, crcs)
    return elapsed


def resend_run(
    workdir: Path, stored: StoredJournal, resend_rate: int | None = None, timeout: float = 600.0
) -> ResendRun:
    journal = copy_journal(stored.path, workdir / "resend.db")
    client_seq = stored_target_seq(journal)
    error: str | None = None
    confirmed = False
    bridge_proc = Bridge(workdir, journal, "resend", resend_rate)
    with bridge_proc as bridge, RssSampler(bridge.pid) as sampler:
        client = FixClient(bridge.fix_port, client_seq)
        try:
            check = ReplayCheck(_logon(client, bridge))
            client.idle(SETTLE_S)
            window = Window(sampler)
            try:
                elapsed = _replay(client, check, stored.body_crcs, timeout)
            except (SessionEnded, OSError) as exc:
                elapsed, error = time.monotonic() - window.start, f"{exc}\n{bridge.tail()}"
            if error is None and not check.complete:
                error = f"1..{check.last_seq} not covered within {timeout:.0f} s"
            memory = window.close()
            check.finish()
            if error is None:
                confirmed = client.logout()
        finally:
            client.close()
        answered = client.test_requests_answered
        exit_code = bridge.stop()
    return ResendRun(check, elapsed, memory, confirmed, answered, exit_code, error)


def baseline_run(
    workdir: Path, stored: StoredJournal, seconds: float, resend_rate: int | None = None
) -> MemoryFigures:
    """The same bridge, journal and logon, but no request: idle for ``seconds``."""
    journal = copy_journal(stored.path, workdir / "baseline.db")
    client_seq = stored_target_seq(journal)
    bridge_proc = Bridge(workdir, journal, "baseline", resend_rate)
    with bridge_proc as bridge, RssSampler(bridge.pid) as sampler:
        client = FixClient(bridge.fix_port, client_seq)
        try:
            _logon(client, bridge)
            client.idle(SETTLE_S)
            window = Window(sampler)
            client.idle(seconds)
            memory = window.close()
            client.logout()
        finally:
            client.close()
        bridge.stop()
    return memory


@dataclass(frozen=True, slots=True)
class BenchResult:
    messages: int
    body_bytes_avg: float
    build_s: float
    run: ResendRun
    baseline: MemoryFigures | None
    bound_mb: float
    resend_rate: int | None  # the session's resend_rate, None = the bridge's default

    @property
    def within_bound(self) -> bool:
        return self.run.memory.growth < self.bound_mb * MB

    @property
    def replay_correct(self) -> bool:
        c = self.run.check
        return (
            c.complete
            and not c.uncovered
            and not c.duplicated
            and c.missing_poss_dup == 0
            and c.missing_orig_sending_time == 0
            and c.body_mismatches == 0
            and c.out_of_order == 0
            and c.out_of_range == 0
        )

    @property
    def passed(self) -> bool:
        return self.within_bound and self.replay_correct

    @property
    def throughput(self) -> float:
        c = self.run.check
        return (c.replayed + c.gap_fills) / self.run.elapsed_s if self.run.elapsed_s else 0.0

    def to_json(self) -> dict[str, object]:
        check = self.run.check
        out: dict[str, object] = {
            "messages_stored": self.messages,
            "resend_rate": "default" if self.resend_rate is None else self.resend_rate,
            "body_bytes_avg": round(self.body_bytes_avg, 1),
            "journal_build_s": round(self.build_s, 2),
            "range": [1, check.last_seq],
            "replayed": check.replayed,
            "gap_fills": check.gap_fills,
            "gap_fill_ranges": check.gap_fill_ranges[:20],
            "uncovered": len(check.uncovered),
            "duplicated": len(check.duplicated),
            "missing_poss_dup": check.missing_poss_dup,
            "missing_orig_sending_time": check.missing_orig_sending_time,
            "body_mismatches": check.body_mismatches,
            "out_of_order": check.out_of_order,
            "out_of_range": check.out_of_range,
            "other_frames": check.other_frames,
            "elapsed_s": round(self.run.elapsed_s, 3),
            "throughput_msgs_per_s": round(self.throughput),
            "memory": _memory_json(self.run.memory),
            "baseline_memory": None if self.baseline is None else _memory_json(self.baseline),
            "bridge_exit_code": self.run.bridge_exit,
            "error": self.run.error,
            "logout_confirmed": self.run.logout_confirmed,
            "bound_mb": self.bound_mb,
            "within_bound": self.within_bound,
            "replay_correct": self.replay_correct,
            "result": "PASS" if self.passed else "FAIL",
        }
        if self.baseline is not None:
            out["growth_minus_baseline_mb"] = _mb(self.run.memory.growth - self.baseline.growth)
            out["peak_ratio_to_baseline_peak"] = round(self.run.memory.peak / self.baseline.peak, 3)
        return out


def _mb(value: int) -> float:
    return round(value / MB, 2)


def _memory_json(memory: MemoryFigures) -> dict[str, object]:
    data = asdict(memory)
    for key in ("before", "peak_sampled", "peak_kernel", "after"):
        if data[key] is not None:
            data[key + "_mb"] = _mb(data.pop(key))
    data["window_s"] = round(memory.window_s, 3)
    data["cpu_s"] = round(memory.cpu_s, 2)
    data["peak_mb"] = _mb(memory.peak)
    data["growth_mb"] = _mb(memory.growth)
    return data


def run_benchmark(
    messages: int = DEFAULT_MESSAGES,
    *,
    workdir: Path | None = None,
    bound_mb: float = DEFAULT_BOUND_MB,
    baseline: bool = True,
    seed: int = 7,
    resend_rate: int | None = None,
) -> BenchResult:
    """Build the journal, run the resend (and the idle baseline), return every figure."""
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="resend-")))
        workdir.mkdir(parents=True, exist_ok=True)
        stored = build_journal(workdir / "built.db", messages, seed)
        run = resend_run(workdir, stored, resend_rate)
        idle = (
            baseline_run(workdir, stored, max(run.elapsed_s, 1.0), resend_rate)
            if baseline
            else None
        )
    avg = stored.body_bytes / messages if messages else 0.0
    return BenchResult(messages, avg, stored.build_s, run, idle, bound_mb, resend_rate)


# --- command line ------------------------------------------------------------------------------


def _memory_lines(label: str, memory: MemoryFigures) -> list[str]:
    kernel = "n/a" if memory.peak_kernel is None else f"{memory.peak_kernel / MB:.1f}"
    return [
        f"{label}: window {memory.window_s:.2f} s, {memory.samples} samples,"
        f" bridge CPU {memory.cpu_s:.2f} s",
        f"  RSS before {memory.before / MB:.1f} MB, peak {memory.peak / MB:.1f} MB"
        f" (sampled {memory.peak_sampled / MB:.1f}, kernel VmHWM {kernel}),"
        f" after {memory.after / MB:.1f} MB",
        f"  peak - before: {memory.growth / MB:+.2f} MB",
    ]


def report(result: BenchResult) -> str:
    check = result.run.check
    rate = result.resend_rate
    lines = [
        f"stored messages:   {result.messages} ExecutionReports"
        f" (avg body {result.body_bytes_avg:.0f} B, journal built in {result.build_s:.1f} s)",
        f"ResendRequest:     7=1 16=0 -> covers 1..{check.last_seq}"
        f" (session resend_rate: {'default' if rate is None else rate})",
        f"replayed:          {check.replayed} (43=Y missing {check.missing_poss_dup},"
        f" 122 missing {check.missing_orig_sending_time}, body mismatches"
        f" {check.body_mismatches})",
        f"gap fills:         {check.gap_fills} {check.gap_fill_ranges[:5]}",
        f"coverage:          uncovered {len(check.uncovered)}, covered twice or more"
        f" {len(check.duplicated)}, out of order {check.out_of_order},"
        f" out of range {check.out_of_range}",
        f"elapsed:           {result.run.elapsed_s:.2f} s"
        + (f" (stopped early: {result.run.error})" if result.run.error else ""),
        f"throughput:        {result.throughput:,.0f} msgs/s",
        *_memory_lines("resend", result.run.memory),
    ]
    if result.baseline is not None:
        lines += _memory_lines("baseline (idle, logged on, no request)", result.baseline)
        extra = result.run.memory.growth - result.baseline.growth
        ratio = result.run.memory.peak / result.baseline.peak
        lines.append(
            f"resend vs baseline: growth {extra / MB:+.2f} MB over the baseline's,"
            f" peak ratio {ratio:.3f}"
        )
    verdict = "PASS" if result.passed else "FAIL"
    lines.append(
        f"{verdict}: peak growth {result.run.memory.growth / MB:.2f} MB"
        f" {'<' if result.within_bound else '>='} {result.bound_mb:g} MB bound;"
        f" replay {'correct' if result.replay_correct else 'INCORRECT'}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--messages", type=int, default=DEFAULT_MESSAGES, help="stored messages (default 100000)"
    )
    parser.add_argument(
        "--bound-mb", type=float, default=DEFAULT_BOUND_MB, help="allowed RSS growth (default 50)"
    )
    parser.add_argument("--seed", type=int, default=7, help="market simulator seed (default 7)")
    parser.add_argument(
        "--resend-rate",
        type=int,
        help="set the session's resend_rate (msgs/s, 0 = unpaced); default: the bridge's own",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the idle baseline run")
    parser.add_argument("--workdir", type=Path, help="keep journals, configs and bridge logs here")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.messages < 1:
        parser.error("--messages must be at least 1")
    result = run_benchmark(
        args.messages,
        workdir=args.workdir,
        bound_mb=args.bound_mb,
        baseline=not args.no_baseline,
        seed=args.seed,
        resend_rate=args.resend_rate,
    )
    print(json.dumps(result.to_json()) if args.json else report(result))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
