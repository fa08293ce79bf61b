"""Whether a connection's Logon may bind to a configured session: one pure decision.

In: the Logon, the configured session its CompIDs name (None when they name none) with what is
live on it, the peer's address and verified client certificate, and the time. Out: ``Bind``
(with the schedule window it belongs to) or ``Refuse`` with the reason the log shows. It never
touches a socket, the journal or a clock: ``fix/acceptor.py`` gathers the inputs and carries
the decision out.

Rules, in this order (the first that applies decides):

1. CompIDs naming no configured session -> refuse.
2. An address outside the session's ``allowed_ips`` -> refuse.
3. A client certificate the session's TLS rules do not accept -> refuse.
4. Another Logon for the session still being bound -> refuse.
5. Outside the session's schedule window -> refuse.
6. A live connection that still looks alive: refuse at once (FIX test case 1b: a duplicate
   identity is disconnected). A Logon that is well formed and carries the right credentials
   also starts a TestRequest probe of the live connection; if that goes unanswered the live
   connection is dropped, so the client's next Logon binds. An unusable one never disturbs
   the live session.
7. Otherwise bind. A live connection already known dead (a write failed, the peer reset it)
   is replaced at once. When the session's stored numbers were last written in an earlier
   schedule window, the numbers restart at 1 (a new session instance).

Refused connections are closed without a message; a bound connection's FixSession answers the
Logon itself (a Logon with a problem of its own gets a Logout naming it).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from fixbridge.config import SessionConfig
from fixbridge.fix.codec import FixMessage
from fixbridge.fix.schedule import SessionSchedule, Window
from fixbridge.fix.session import LogonPolicy, logon_problem
from fixbridge.fix.tls import PeerCertificate, check_client

SENDER_COMP_ID, TARGET_COMP_ID = 49, 56


class Live(enum.Enum):
    """What a session has on it when a Logon for it arrives."""

    NONE = "none"  # nobody is logged on
    BINDING = "binding"  # another Logon for it is being bound right now
    ALIVE = "alive"  # a logged-on connection that looks alive
    DEAD = "dead"  # a logged-on connection whose socket is known to be gone


@dataclass(frozen=True, slots=True)
class Slot:
    """A configured session as admission sees it."""

    config: SessionConfig
    schedule: SessionSchedule
    live: Live
    last_saved_ns: int  # when its sequence numbers were last stored (0 = never)


@dataclass(frozen=True, slots=True)
class Peer:
    """Who is connecting: the address without the port, and the verified certificate."""

    address: str
    certificate: PeerCertificate | None
    tls: bool


@dataclass(frozen=True, slots=True)
class Bind:
    window: Window  # the schedule window the connection belongs to
    new_window: bool  # the stored numbers belong to an earlier window: restart at 1
    replaces_dead: bool  # the live connection is gone: drop it, then bind


@dataclass(frozen=True, slots=True)
class Refuse:
    reason: str
    probe_live: bool = False  # give the live connection a TestRequest to prove it is there


Admission = Bind | Refuse


def admit(
    logon: FixMessage,
    slot: Slot | None,
    peer: Peer,
    now_ns: int,
    password_ok: bool | None = None,
) -> Admission:
    """Bind or refuse a connection whose first message is ``logon`` (rules: module doc).

    ``password_ok``: ``logon``'s Password already checked against the session's hash by the
    caller (off the event loop); None: checked here."""
    if slot is None:
        return Refuse(
            f"unknown CompID pair SenderCompID={logon.get(SENDER_COMP_ID)!r}"
            f" TargetCompID={logon.get(TARGET_COMP_ID)!r}"
        )
    config = slot.config
    refusal = peer_refusal(config, peer)
    if refusal is not None:
        return refusal
    if slot.live is Live.BINDING:
        return Refuse(f"another logon for session {config.name} is in progress")
    window = slot.schedule.window_at(now_ns)
    if window is None:
        return Refuse(f"session {config.name} is outside its schedule window")
    if slot.live is Live.ALIVE:
        policy = LogonPolicy(config.username, config.password_hash, password_ok)
        problem = logon_problem(logon, policy)
        if problem is not None:
            return Refuse(f"{problem} (session {config.name} is logged on; left undisturbed)")
        return Refuse(
            f"session {config.name} is already logged on; probing that connection",
            probe_live=True,
        )
    new_window = slot.last_saved_ns != 0 and not slot.schedule.same_window(
        slot.last_saved_ns, now_ns
    )
    return Bind(window, new_window, replaces_dead=slot.live is Live.DEAD)


def peer_refusal(config: SessionConfig, peer: Peer) -> Refuse | None:
    """Rules 2 and 3: the session takes no Logon from this peer, whatever the Logon says (so
    the caller need not check its password)."""
    if not config.allows(peer.address):
        return Refuse(f"address {peer.address} not in allowed_ips of session {config.name}")
    certificate_problem = check_client(config.tls, peer.certificate, tls=peer.tls)
    if certificate_problem is not None:
        return Refuse(certificate_problem)
    return None
