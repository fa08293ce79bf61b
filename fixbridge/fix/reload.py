"""What a configuration reload changes: sessions added, removed or changed, and the settings
that only a restart can apply.

Sessions are matched by name. A session whose settings differ in any way (CompIDs, scope,
credentials, schedule, profile; not ``start_from``, which only a session the journal has never
seen uses) is "changed": its client is logged out and its next Logon
binds under the new settings, so no connection ever runs half on the old settings and half on
the new. Sessions that did not change are left alone: their clients stay logged on. Pure: it
compares two validated configurations and decides nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fixbridge.config import BridgeConfig, SessionConfig

# Sections the running bridge holds open (sockets, the journal file, upstream channels): a new
# value is kept for the next start, and the reload says so.
RESTART_ONLY = ("upstream", "journal", "ha", "fix", "metrics", "admin")


@dataclass(frozen=True, slots=True)
class SessionChanges:
    added: tuple[SessionConfig, ...]
    removed: tuple[SessionConfig, ...]
    changed: tuple[tuple[SessionConfig, SessionConfig], ...]  # (running, new)
    kept: tuple[SessionConfig, ...]

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def summary(self) -> str:
        def names(sessions: Sequence[SessionConfig]) -> str:
            return ", ".join(s.name for s in sessions) or "none"

        return (
            f"sessions added: {names(self.added)}; removed: {names(self.removed)};"
            f" changed: {names([new for _, new in self.changed])}; unchanged: {len(self.kept)}"
        )


def session_changes(
    running: Sequence[SessionConfig], new: Sequence[SessionConfig]
) -> SessionChanges:
    """How ``new`` differs from ``running``, session by session (in configuration order)."""
    before = {s.name: s for s in running}
    after = {s.name: s for s in new}
    return SessionChanges(
        added=tuple(s for s in new if s.name not in before),
        removed=tuple(s for s in running if s.name not in after),
        changed=tuple(
            (before[s.name], s) for s in new if s.name in before and _differs(before[s.name], s)
        ),
        kept=tuple(s for s in new if s.name in before and not _differs(before[s.name], s)),
    )


def _differs(running: SessionConfig, new: SessionConfig) -> bool:
    """A running session's start_from was used when it was first seen, if ever: a new value
    changes nothing for it, so it alone does not log its client out."""
    return running.model_copy(update={"start_from": new.start_from}) != new


def restart_only_changes(running: BridgeConfig, new: BridgeConfig) -> list[str]:
    """The sections whose new values wait for a restart (in RESTART_ONLY order)."""
    return [name for name in RESTART_ONLY if getattr(running, name) != getattr(new, name)]
