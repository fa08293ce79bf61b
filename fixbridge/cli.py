"""The ``fixbridge`` command: run | demo | tail | simulate | check-config | check-journal |
backup | restore | log | reconcile | hash-password | dictionary.

Exit codes: 0 clean stop, 2 unusable configuration (the message names the key), 1 other
startup failure (port in use, journal locked). Errors are one readable line, not a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import getpass
import json
import logging
import os
import platform
import signal
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

from fixbridge import __version__
from fixbridge.app import Bridge, SteppedDown, journal_where
from fixbridge.config import ConfigError, SettingError, load_config
from fixbridge.fix.credentials import hash_password
from fixbridge.fix.shipped_dictionaries import (
    APPLICATION_FILE,
    TRANSPORT_FILE,
    DictionaryError,
    write_dictionaries,
)
from fixbridge.fix.tls import TlsConfigError, server_context
from fixbridge.journal.backup import backup, restore
from fixbridge.journal.integrity import check_journal
from fixbridge.journal.store import JournalError
from fixbridge.msglog import add_log_arguments, run_log
from fixbridge.normalize.style import Profile
from fixbridge.ops.admin import ACTIONS as ADMIN_ACTIONS
from fixbridge.ops.admin import INSTANT_HINT, parse_instant, read_token
from fixbridge.ops.logging import configure_logging
from fixbridge.ops.progress_bar import ProgressBar
from fixbridge.ops.status import status_text
from fixbridge.ops.stop_watch import StopWatch
from fixbridge.simulator.cli import add_simulate_arguments, run_simulate
from fixbridge.tail import add_tail_arguments, run_tail
from fixbridge.upstream.auth import AuthConfigError, load_private_key
from fixbridge.upstream.subscriber import UpstreamRequestError

log = logging.getLogger("fixbridge")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
CONFIG_ENV = "FIXBRIDGE_CONFIG"  # the config path when --config is not given (containers)


def resolve_config_path(args: argparse.Namespace) -> Path:
    """``--config``, else ``$FIXBRIDGE_CONFIG``: a container image sets the variable once."""
    if args.config is not None:
        return Path(args.config)
    from_env = os.environ.get(CONFIG_ENV)
    if not from_env:
        raise ConfigError(f"no config file: pass --config FILE or set {CONFIG_ENV}")
    return Path(from_env)


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event, watch: StopWatch | None = None) -> Iterator[None]:
    """While inside: SIGINT and SIGTERM end the run cleanly instead of killing it mid-write.
    The handlers are plain signal handlers, which run even while the event loop is held up
    (the loop's own would wait for it): each arms the ``watch``, when there is one (the
    stop's deadline: its thread is installed here), and wakes the loop to stop. The handlers
    they replaced come back on the way out."""
    loop = asyncio.get_running_loop()
    if watch is not None:
        watch.install(loop)

    def begin_stop(signum: int, frame: FrameType | None) -> None:
        if watch is not None:
            watch.arm()
        with contextlib.suppress(RuntimeError):  # the loop has closed: the stop is over
            loop.call_soon_threadsafe(stop.set)

    replaced = {sig: signal.signal(sig, begin_stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in replaced.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)


def reload_on_sighup(bridge: Bridge, config_path: Path) -> None:
    """SIGHUP re-reads the config file (``Bridge.reload``) instead of ending the process."""
    loop = asyncio.get_running_loop()
    reloads: set[asyncio.Task[bool]] = set()

    def reload() -> None:
        log.info("SIGHUP: reloading the configuration from %s", config_path)
        task = asyncio.create_task(bridge.reload(config_path), name="reload")
        reloads.add(task)  # held until done: a task nobody references may be collected
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)


async def _run(config_path: Path, watch: StopWatch) -> int:
    config = load_config(config_path)
    configure_logging(config.logging.format, config.effective_log_level)
    log.info(
        "fixbridge %s (Python %s) starting with config %s",
        __version__,
        platform.python_version(),
        config_path.resolve(),
    )
    stop = asyncio.Event()
    with stop_on_signals(stop, watch):
        bridge = Bridge(config)
        reload_on_sighup(bridge, config_path)
        try:
            # A stop the bridge begins itself (a subscriber failing for good) has the
            # deadline too.
            await bridge.run_until(stop, on_stop=watch.arm)
        finally:
            watch.arm()  # and so does the loop's teardown after a start that failed
    return 0


# The service's cyclic garbage collector thresholds (gc.set_threshold). Ingest makes several
# container objects per execution (the normalized event, its order record, the journal row),
# most gone within one append; with the default young threshold (700) the collector ran every
# ~100 executions and its older generations walked the whole heap (the renderers' cache of
# decoded events included). Measured with bench/ingest.py at 100,000 executions: ~52-54 CPU us
# per execution with the defaults, ~44 with these. Garbage in reference cycles is still
# collected, only in larger steps; nothing relies on when.
RUN_GC_THRESHOLDS = (50_000, 20, 50)


# A bridge that lost the lease exits with this (EX_TEMPFAIL): its service manager starts it
# again, and it comes back as the standby.
STEPPED_DOWN_EXIT = 75


def cmd_run(args: argparse.Namespace) -> int:
    gc.set_threshold(*RUN_GC_THRESHOLDS)
    # The stop's deadline covers the loop's own teardown (tasks cancelled, the default
    # executor's threads joined). Once asyncio.run has returned the stop has ended, and the
    # watch must not end a process that goes on (a caller of main() in the same process).
    watch = StopWatch()
    try:
        return asyncio.run(_run(resolve_config_path(args), watch))
    finally:
        watch.disarm()


def cmd_check_config(args: argparse.Namespace) -> int:
    """Every check ``run`` makes before it serves, then "OK" and a summary; an error names
    the setting and exits 2 before anything is printed to stdout."""
    path = resolve_config_path(args)
    config = load_config(path)
    if config.upstream.auth is not None:
        load_private_key(config.upstream.auth)  # AuthConfigError names the key
    if config.fix.tls is not None:  # TlsConfigError names the file
        want_certs = any(s.tls.require_client_cert for s in config.sessions)
        server_context(config.fix.tls, want_client_certs=want_certs)
    journal = config.journal
    if journal.backend == "postgresql" and journal.dsn is not None:
        from fixbridge.pg import PasswordError, with_password

        try:  # the password can be had (the database itself is not contacted)
            with_password(journal.dsn, journal.password_file, journal.password_env)
        except PasswordError as exc:
            raise SettingError(str(exc)) from None
    print(f"{path}: OK")
    print(f"  upstream  {config.upstream.target} (tls={config.upstream.tls})")
    if config.upstream.auth is not None:
        print(f"  auth      {config.upstream.auth.client_id} at {config.upstream.auth.token_url}")
    if config.journal.backend == "sqlite":
        print(f"  journal   {config.journal.path} (synchronous={config.journal.synchronous})")
    else:
        print(f"  journal   {journal_where(config)}")
    if config.ha.enabled:
        ha = config.ha
        print(
            f"  ha        {ha.name or socket.gethostname()}: lease {ha.lease_ttl_s:g} s,"
            f" renewed every {ha.renew_every_s:g} s"
        )
    print(f"  FIX       {config.fix.host}:{config.fix.port}")
    for s in config.sessions:
        kinds = ",".join(s.scope.message_kinds)
        print(
            f"  session   {s.name}: {s.target_comp_id} -> {s.sender_comp_id} [{kinds}]"
            f" fix_profile={s.fix_profile.value}"
        )
    return 0


def _journal_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help=f"TOML config file (default: ${CONFIG_ENV})")
    parser.add_argument(
        "--journal", type=Path, help="journal file (default: the config's journal.path)"
    )


def _journal_path(args: argparse.Namespace) -> Path:
    """``--journal``, else the config's ``journal.path`` (these tools read a SQLite file)."""
    if args.journal is not None:
        return Path(args.journal)
    journal = load_config(resolve_config_path(args)).journal
    if journal.backend != "sqlite":
        raise ConfigError(
            f'journal.backend = "{journal.backend}": this command reads a SQLite journal file;'
            " give one with --journal"
        )
    return journal.path


STATUS_TIMEOUT_S = 10.0


def _status_url(args: argparse.Namespace) -> str:
    """``--url``, else the config's ops port (on loopback when it listens on every address)."""
    if args.url is not None:
        return str(args.url).rstrip("/") + "/status"
    metrics = load_config(resolve_config_path(args)).metrics
    if not metrics.enabled:
        raise ConfigError("metrics.enabled is false: the bridge serves no /status to ask")
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(metrics.host, metrics.host)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{metrics.port}/status"


def cmd_status(args: argparse.Namespace) -> int:
    """Ask a running bridge for /status and print it; exit 0 ready, 1 not ready, 3 no answer."""
    url = _status_url(args)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=STATUS_TIMEOUT_S) as response:
            body = response.read()
        status = json.loads(body)
    except (OSError, ValueError) as exc:
        print(f"fixbridge: no status from {url}: {exc}", file=sys.stderr)
        return 3
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        print(status_text(status), end="")
    return 0 if status.get("ready") else 1


def cmd_admin(args: argparse.Namespace) -> int:
    """An operator action on a running bridge's admin port; exit 0 done, 1 refused, 3 no
    answer. The token comes from the config's admin.token_file, never from the command line."""
    body = args.text or ""
    if args.action == "replay":
        if parse_instant(args.since or "") is None:
            print(f"fixbridge: admin replay needs --since, {INSTANT_HINT}", file=sys.stderr)
            return 2
        body = args.since
    admin = load_config(resolve_config_path(args)).admin
    if not admin.enabled or admin.token_file is None:
        raise ConfigError("admin.enabled is false: the bridge has no admin port to ask")
    token = read_token(admin.token_file)
    host = f"[{admin.host}]" if ":" in admin.host else admin.host
    url = f"http://{host}:{admin.port}/sessions/{args.session}/{args.action}"
    request = urllib.request.Request(
        url,
        data=body.encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
    )
    try:
        with urllib.request.urlopen(request, timeout=STATUS_TIMEOUT_S) as response:
            print(response.read().decode().strip())
            return 0
    except urllib.error.HTTPError as refused:
        print(f"fixbridge: {refused.read().decode().strip()}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"fixbridge: no answer from {url}: {exc}", file=sys.stderr)
        return 3


def cmd_check_journal(args: argparse.Namespace) -> int:
    """Check a journal read-only (it may be in use); exit 1 when it is unfit to serve."""
    path = _journal_path(args)
    bar: ProgressBar | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        bar = bar or ProgressBar("decoding events", total)
        bar.update(done)

    try:
        findings = check_journal(path, full=args.full, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    print(f"{path}: {'sound' if findings.sound else 'DAMAGED'}")
    for line in findings.checked:
        print(f"  checked   {line}")
    for line in findings.notes:
        print(f"  note      {line}")
    for line in findings.problems:
        print(f"  problem   {line}")
    return 0 if findings.sound else 1


def cmd_backup(args: argparse.Namespace) -> int:
    """Copy the journal while the bridge runs."""
    summary = backup(_journal_path(args), args.out)
    print(
        f"wrote {summary.path}: {summary.size_bytes} bytes, {summary.events} events"
        f" (head offset {summary.head_offset}), {summary.sessions} session(s); checked"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Put a backup in place of the journal (the bridge must be stopped)."""
    path = _journal_path(args)
    moved = restore(args.backup_file, path)
    print(f"restored {args.backup_file} to {path}")
    if moved is not None:
        print(f"the journal it replaced is kept as {moved}")
    print(
        "start the bridge: clients receive what was journaled after the backup again, and the"
        " exchange's streams replay from the backup's resume tokens"
    )
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    """Search the journal's FIX message log (read-only; it may be in use)."""
    return run_log(_journal_path(args), args)


def cmd_reconcile(args: argparse.Namespace) -> int:
    """One trade date: journal vs the exchange's Report API vs each session (read-only);
    exit codes in fixbridge/reconcile/command.py."""
    from fixbridge.reconcile.command import run as run_reconcile

    config = load_config(resolve_config_path(args))
    journal = Path(args.journal) if args.journal is not None else config.journal.path
    return run_reconcile(config, journal, args.date, args.format)


def cmd_dictionary(args: argparse.Namespace) -> int:
    """Write a profile's QuickFIX dictionaries and say how a client loads them."""
    profile = Profile(args.profile)
    try:
        written = write_dictionaries(profile, args.out)
    except DictionaryError as exc:
        print(f"fixbridge: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print(
        f"QuickFIX (session settings): UseDataDictionary=Y,"
        f" TransportDataDictionary={args.out / TRANSPORT_FILE},"
        f" AppDataDictionary={args.out / APPLICATION_FILE}"
    )
    return 0


def cmd_hash_password(args: argparse.Namespace) -> int:
    """Read a password (prompted on a terminal, else one line of stdin); print its hash."""
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("fixbridge: the two passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        print("fixbridge: empty password", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from fixbridge.demo import run_demo

    configure_logging("plain", "WARNING")
    return asyncio.run(run_demo(duration=args.duration, rate=args.rate, seed=args.seed))


def _reconcile_date(text: str) -> object:
    from fixbridge.reconcile.command import parse_date

    return parse_date(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fixbridge", description="Read-only FIX 5.0 SP2 drop copy for the DropCopyAPI."
    )
    parser.add_argument("--version", action="version", version=f"fixbridge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the bridge from a TOML config file")
    run.add_argument("--config", type=Path, help=f"TOML config file (default: ${CONFIG_ENV})")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check-config", help="validate a config file and summarise it")
    check.add_argument("--config", type=Path, help=f"TOML config file (default: ${CONFIG_ENV})")
    check.set_defaults(func=cmd_check_config)

    status_cmd = sub.add_parser(
        "status", help="show a running bridge's sessions and streams (its /status)"
    )
    status_cmd.add_argument(
        "--config", type=Path, help=f"TOML config, for metrics.host/port (default: ${CONFIG_ENV})"
    )
    status_cmd.add_argument("--url", help="the ops base URL instead, e.g. http://host:9108")
    status_cmd.add_argument("--json", action="store_true", help="print the JSON as served")
    status_cmd.set_defaults(func=cmd_status)

    admin_cmd = sub.add_parser(
        "admin",
        help="log out, reset, pause, resume or replay a session on a running bridge",
    )
    admin_cmd.add_argument("action", choices=list(ADMIN_ACTIONS))
    admin_cmd.add_argument("session", help="the session's name in the config")
    admin_cmd.add_argument("--text", help="Text(58) of the Logout (logout, reset)")
    admin_cmd.add_argument(
        "--since",
        help="replay: the events from this exchange time on (RFC 3339, e.g."
        " 2026-11-21T09:30:00Z) go out again as new messages with PossResend(97)=Y",
    )
    admin_cmd.add_argument(
        "--config", type=Path, help=f"TOML config, for [admin] (default: ${CONFIG_ENV})"
    )
    admin_cmd.set_defaults(func=cmd_admin)

    check_journal_cmd = sub.add_parser(
        "check-journal", help="check a journal's integrity (read-only; may run beside the bridge)"
    )
    _journal_arguments(check_journal_cmd)
    check_journal_cmd.add_argument(
        "--full", action="store_true", help="SQLite's full check, and decode every event"
    )
    check_journal_cmd.set_defaults(func=cmd_check_journal)

    backup_cmd = sub.add_parser("backup", help="copy the journal while the bridge runs")
    _journal_arguments(backup_cmd)
    backup_cmd.add_argument("--out", type=Path, required=True, help="the backup file to write")
    backup_cmd.set_defaults(func=cmd_backup)

    restore_cmd = sub.add_parser(
        "restore", help="put a backup in place of the journal (bridge stopped)"
    )
    _journal_arguments(restore_cmd)
    restore_cmd.add_argument("backup_file", type=Path, help="a file written by fixbridge backup")
    restore_cmd.set_defaults(func=cmd_restore)

    log_cmd = sub.add_parser(
        "log", help="search the FIX message log; print or export it (read-only)"
    )
    _journal_arguments(log_cmd)
    add_log_arguments(log_cmd)
    log_cmd.set_defaults(func=cmd_log)

    reconcile_cmd = sub.add_parser(
        "reconcile",
        help="compare a trade date's journal with the exchange's reports and the sessions",
    )
    _journal_arguments(reconcile_cmd)
    reconcile_cmd.add_argument(
        "--date", type=_reconcile_date, required=True, help="trade date, YYYY-MM-DD"
    )
    reconcile_cmd.add_argument("--format", choices=["table", "json"], default="table")
    reconcile_cmd.set_defaults(func=cmd_reconcile)

    demo = sub.add_parser("demo", help="simulator + bridge + console FIX client, no config")
    demo.add_argument("--duration", type=float, default=None, help="seconds, then stop")
    demo.add_argument("--rate", type=float, default=20.0, help="executions per second")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=cmd_demo)

    hashpw = sub.add_parser(
        "hash-password", help="hash a session Logon password for the config's password_hash"
    )
    hashpw.set_defaults(func=cmd_hash_password)

    tail = sub.add_parser("tail", help="log on to a session and print each message (ops check)")
    add_tail_arguments(tail)
    tail.set_defaults(func=run_tail)

    dictionary = sub.add_parser(
        "dictionary", help="write a fix_profile's QuickFIX data dictionaries for a client"
    )
    dictionary.add_argument(
        "--profile", choices=[p.value for p in Profile], default=Profile.EXCHANGE.value,
        help="the session's fix_profile (default: exchange)",
    )  # fmt: skip
    dictionary.add_argument(
        "--out", type=Path, required=True, help="folder to write the two files into"
    )
    dictionary.set_defaults(func=cmd_dictionary)

    simulate = sub.add_parser("simulate", help="run the simulated exchange (gRPC DropCopyAPI)")
    add_simulate_arguments(simulate)
    simulate.set_defaults(func=run_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, TlsConfigError, AuthConfigError, UpstreamRequestError) as exc:
        print(f"fixbridge: configuration error: {exc}", file=sys.stderr)
        return 2
    except (JournalError, SettingError, OSError) as exc:
        print(f"fixbridge: cannot start: {exc}", file=sys.stderr)
        return 1
    except SteppedDown as exc:
        print(f"fixbridge: stepped down: {exc}", file=sys.stderr)
        return STEPPED_DOWN_EXIT
    except KeyboardInterrupt:
        return 0
