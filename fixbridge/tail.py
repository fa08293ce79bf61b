"""``fixbridge tail``: log on to a running bridge as a session's client and print each message.

For checking a deployment from the outside (firewall, TLS, CompIDs, credentials, that
messages flow) with nothing but fixbridge installed. It is the console client of
``fixbridge demo`` with connection options. Exit status: 0 when the session ends with a
Logout (ours after ``--count`` messages or Ctrl-C, or fixbridge's), 1 with one line on stderr
when the connection or the Logon is refused or the connection drops, 2 for bad arguments.
Its Logon carries ResetSeqNumFlag=Y: point it at a session of its own, not at a back
office's, whose sequence numbers it would reset. The password is read from an environment
variable so that it never appears in ``ps`` or shell history.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import ssl
import sys
from pathlib import Path

from fixbridge.fix.console import ConsoleClient


class TailError(Exception):
    """A reason to exit 1 with one line: the session could not be watched."""


def add_tail_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", required=True, help="fixbridge's FIX host")
    parser.add_argument("--port", type=int, required=True, help="fixbridge's FIX port")
    parser.add_argument(
        "--sender", required=True, help="our SenderCompID(49): the session's target_comp_id"
    )
    parser.add_argument(
        "--target", required=True, help="our TargetCompID(56): the session's sender_comp_id"
    )
    parser.add_argument("--heartbeat", type=int, default=30, help="HeartBtInt(108), seconds")
    parser.add_argument("--tls", action="store_true", help="TLS to the FIX port")
    parser.add_argument("--ca-file", type=Path, help="CA bundle for --tls (system roots else)")
    parser.add_argument("--cert-file", type=Path, help="client certificate (PEM) for --tls")
    parser.add_argument("--key-file", type=Path, help="its private key (PEM)")
    parser.add_argument("--username", help="Username(553) for the Logon")
    parser.add_argument(
        "--password-env", metavar="VAR", help="environment variable holding Password(554)"
    )
    parser.add_argument("--count", type=int, help="log out after this many application messages")
    parser.add_argument(
        "--logon-timeout", type=float, default=30.0, help="seconds to wait for the Logon answer"
    )


def _tls_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not args.tls:
        if args.ca_file or args.cert_file or args.key_file:
            raise ValueError("--ca-file, --cert-file and --key-file need --tls")
        return None
    context = ssl.create_default_context(cafile=args.ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if args.cert_file:
        context.load_cert_chain(args.cert_file, args.key_file)
    elif args.key_file:
        raise ValueError("--key-file needs --cert-file")
    return context


def client_from_args(args: argparse.Namespace) -> ConsoleClient:
    """The console client the arguments describe; ``ValueError`` names a bad argument."""
    if not 1 <= args.heartbeat <= 3600:
        raise ValueError("--heartbeat must be 1..3600 seconds")
    if args.count is not None and args.count < 1:
        raise ValueError("--count must be at least 1")
    password = None
    if args.password_env:
        password = os.environ.get(args.password_env)
        if password is None:
            raise ValueError(f"--password-env: environment variable {args.password_env} is not set")
    return ConsoleClient(
        args.host,
        args.port,
        args.sender,
        args.target,
        output=lambda line: print(line, flush=True),
        heartbeat_s=args.heartbeat,
        ssl_context=_tls_context(args),
        username=args.username,
        password=password,
        max_app_messages=args.count,
        logon_timeout_s=args.logon_timeout,
    )


async def tail(client: ConsoleClient, where: str) -> None:
    """Watch the session until it ends; ``TailError`` unless it ended cleanly."""
    from fixbridge.cli import stop_on_signals

    stop = asyncio.Event()
    try:
        with stop_on_signals(stop):
            end = await client.run(stop)
    except ssl.SSLError as exc:
        raise TailError(f"TLS handshake with {where} failed: {exc.reason or exc}") from None
    except TimeoutError:
        raise TailError(f"cannot connect to {where}: timed out") from None
    except OSError as exc:
        raise TailError(f"cannot connect to {where}: {_connect_error(exc)}") from None
    if end.refused:
        raise TailError(f"logon refused by {where}: {end.reason or 'Logout without Text'}")
    if not end.clean:
        raise TailError(f"{where}: {end.reason}")
    print(f"-- {client.app_messages} application messages", flush=True)


def _connect_error(exc: OSError) -> str:
    """``Connection refused`` rather than asyncio's ``Connect call failed ('10.0.0.1', 9878)``."""
    if isinstance(exc, socket.gaierror) or not exc.errno or exc.errno < 0:
        return exc.strerror or str(exc)
    return os.strerror(exc.errno)


def run_tail(args: argparse.Namespace) -> int:
    where = f"{args.host}:{args.port}"
    try:
        client = client_from_args(args)
    except (ValueError, OSError) as exc:
        print(f"fixbridge tail: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(tail(client, where))
    except TailError as exc:
        print(f"fixbridge tail: {exc}", file=sys.stderr)
        return 1
    return 0
