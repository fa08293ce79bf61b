"""The simulator's listen addresses on its command line: ``HOST:PORT``, checked before use.

A bare host (``127.0.0.1``) would otherwise reach gRPC, which takes it to mean port 443; an
IPv6 host is written in brackets (``[::1]:0``). Port 0 means any free port. This module only
reads text: it never opens a socket.
"""

from __future__ import annotations

import argparse


def listen_address(text: str) -> str:
    """``text`` if it is ``HOST:PORT`` with a port 0..65535, else an argparse error naming it."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        inner = host[1:-1]
        host_ok = bool(inner) and ":" in inner
    else:
        host_ok = bool(host) and ":" not in host
    if not sep or not host_ok or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(
            f"must be HOST:PORT (e.g. 127.0.0.1:50051, [::1]:50051; port 0 = any free port),"
            f" got {text!r}"
        )
    return text
