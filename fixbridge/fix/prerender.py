"""Executions' ExecutionReport bodies rendered once, at ingest, and journaled with them.

A catch-up to one session spent about half its time decoding each execution's payload and
encoding its body. Here the body is made when the execution is journaled, from the normalized
event ingestion already holds, once per *rendering* in use (each distinct style among the
sessions that receive executions, :func:`rendering_key`), and kept in the same transaction
as the event (``execution_bodies``), with the four fields a session's scope is decided on.
A session whose rendering has a stored body is sent it as it is (fix/outbound.py); any other
event is rendered as it is sent, as before.

Rules:
- A stored body is exactly what rendering the event at delivery would give: it comes from the
  same precompiled encoder (fix/compiled_bodies.py) applied to the same event, and its key
  names both the style and the code that rendered it (a digest of the modules an
  ExecutionReport body depends on and of the interpreter's version), so a body journaled by
  another version of fixbridge is never used by this one: such events are rendered as they
  are sent.
- An execution whose firm, account or symbol holds U+0000 gets no body (PostgreSQL keeps it
  as U+FFFD, and scope would be decided on other values than the event's); one no body can
  be made of is journaled without one, never refused.
- Bodies are made only where some session of that rendering would be sent the event (its
  scope admits it); a session configured later, or whose scope grew, renders what has none.
- It never decides what a session receives: scope is decided by outbound's own rule on the
  stored fields, which are the event's own.

Pure: no I/O (the digest reads the package's own module files once, at import), no clock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib
import marshal
import os
import pkgutil
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Final

import fixbridge.normalize
from fixbridge.config import ScopeConfig
from fixbridge.fix.compiled_bodies import ExecutionEncoder, execution_report_encoder
from fixbridge.fix.outbound import admits_execution
from fixbridge.journal.records import StoredBody
from fixbridge.journal.store import NewEvent
from fixbridge.normalize.execution import ExecutionEvent
from fixbridge.normalize.style import RenderStyle

# The modules an ExecutionReport body depends on, besides everything in fixbridge.normalize.
_RENDERING_MODULES: Final = ("fixbridge.fix.codec", "fixbridge.fix.compiled_bodies")


def _module_code(module: ModuleType) -> bytes:
    """The code of ``module`` as its file holds it, else its compiled code; when neither can
    be read, bytes no other process has (its bodies are then this process's alone)."""
    file = getattr(module, "__file__", None)
    if file is not None:
        with contextlib.suppress(OSError):
            return Path(file).read_bytes()
    loader = getattr(module, "__loader__", None)
    with contextlib.suppress(Exception):
        code = loader.get_code(module.__name__)  # type: ignore[union-attr]
        if code is not None:
            return marshal.dumps(code)
    return os.urandom(32)


def _code_digest() -> bytes:
    """A digest of the code that renders an ExecutionReport body: every module of
    fixbridge.normalize and :data:`_RENDERING_MODULES`, and the interpreter (whose datetime
    and decimal formatting a body depends on)."""
    names = sorted(
        [
            f"fixbridge.normalize.{info.name}"
            for info in pkgutil.iter_modules(fixbridge.normalize.__path__)
        ]
        + list(_RENDERING_MODULES)
    )
    digest = hashlib.sha256(sys.version.encode() + b"\x00")
    for name in names:
        digest.update(name.encode())
        digest.update(b"\x00")
        digest.update(_module_code(importlib.import_module(name)))
        digest.update(b"\x00")
    return digest.digest()


CODE_DIGEST: Final = _code_digest()


@functools.lru_cache(maxsize=64)
def rendering_key(style: RenderStyle, code: bytes = CODE_DIGEST) -> str:
    """The key bodies rendered in ``style`` by this code are stored under: 16 hexadecimal
    digits of a digest of the style's settings and of ``code``."""
    settings = "|".join(
        f"{f.name}={getattr(style, f.name)!s}" for f in dataclasses.fields(style)
    ).encode()
    return hashlib.sha256(code + b"\x00" + settings).hexdigest()[:16]


@dataclasses.dataclass(frozen=True, slots=True)
class _Rendering:
    key: str
    encode: ExecutionEncoder
    # The scopes of the sessions rendered this way; none when one of them admits every
    # execution (no firm, account or symbol named, not fills only).
    scopes: tuple[ScopeConfig, ...]


def _admits_all(scope: ScopeConfig) -> bool:
    return not (scope.firms or scope.accounts or scope.symbols or scope.fills_only)


class ExecutionBodies:
    """The renderings in use, each with the scopes of its sessions: which bodies to make for
    an execution as it is journaled."""

    def __init__(self, sessions: Iterable[tuple[RenderStyle, ScopeConfig]] = ()) -> None:
        by_style: dict[RenderStyle, list[ScopeConfig]] = {}
        for style, scope in sessions:
            if "executions" in scope.message_kinds:
                by_style.setdefault(style, []).append(scope)
        self._renderings = tuple(
            _Rendering(
                rendering_key(style),
                execution_report_encoder(style),
                () if any(map(_admits_all, scopes)) else tuple(scopes),
            )
            for style, scopes in by_style.items()
        )

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(r.key for r in self._renderings)

    def bodies(self, event: ExecutionEvent) -> tuple[StoredBody, ...]:
        """``event``'s bodies, one per rendering with a session it would be sent to. None for
        an event whose scope fields hold U+0000, which a PostgreSQL text column keeps as
        U+FFFD: its scope is decided on the event itself, as it is sent."""
        if "\x00" in event.firm or "\x00" in event.account or "\x00" in event.symbol:
            return ()
        return tuple(
            StoredBody(
                r.key, event.firm, event.account, event.symbol, event.exec_type, r.encode(event)
            )
            for r in self._renderings
            if not r.scopes or any(admits_execution(scope, event) for scope in r.scopes)
        )

    def attach(self, events: Sequence[NewEvent]) -> list[NewEvent]:
        """``events`` with each execution's bodies (events journaled without a normalized
        execution at hand, or flagged, are left as they are). An execution no body can be
        made of is journaled without one, never refused: delivery renders it, and skips it
        with an error logged if it cannot be rendered at all."""
        if not self._renderings:
            return list(events)
        out: list[NewEvent] = []
        for event in events:
            decoded = event.decoded
            if event.flagged is None and type(decoded) is ExecutionEvent:
                try:
                    bodies = self.bodies(decoded)
                except Exception:  # rendered as it is sent, where delivery says why
                    bodies = ()
                if bodies:
                    event = event.with_bodies(bodies)
            out.append(event)
        return out
