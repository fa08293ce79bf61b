"""Admission, table by table: a Logon, the session it names, the peer and the time in; bind or
refuse with a reason out. Each row is one rule of fixbridge/fix/admission.py's docstring."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

import pytest

from fixbridge.config import SessionConfig
from fixbridge.fix.admission import Bind, Live, Peer, Refuse, Slot, admit, peer_refusal
from fixbridge.fix.credentials import hash_password
from fixbridge.fix.schedule import ALWAYS, ScheduleConfig, SessionSchedule, Window
from fixbridge.fix.tls import PeerCertificate
from tests.unit.fixmsg import BRIDGE, CLIENT, T0, S, logon

HOUR = 3600 * S
# T0 is 2023-11-14 22:13:20 UTC: a 22:00-23:00 UTC daily window contains it.
EVENING = ScheduleConfig(timezone="UTC", start_time=time(22, 0), end_time=time(23, 0))
EVENING_WINDOW = Window(T0 - 800 * S, T0 - 800 * S + HOUR)
CERT_A = PeerCertificate("CN=client-a", "client-a", (), "ab" * 32)
PASSWORD_HASH = hash_password("s3cret")
PLAIN_PEER = Peer("10.1.2.3", None, tls=False)
BINDS = Bind(ALWAYS, new_window=False, replaces_dead=False)


def config(**extra: object) -> SessionConfig:
    return SessionConfig.model_validate(
        {"name": "a", "sender_comp_id": BRIDGE, "target_comp_id": CLIENT, **extra}
    )


@dataclass(frozen=True)
class Row:
    name: str
    session: dict[str, object] | None  # None: the CompIDs name no session
    live: Live = Live.NONE
    peer: Peer = PLAIN_PEER
    last_saved_ns: int = 0
    now_ns: int = T0
    credentials: tuple[tuple[int, str], ...] = ()
    expected: Bind | Refuse = BINDS


def refused(reason_part: str, *, probe: bool = False) -> Refuse:
    return Refuse(reason_part, probe_live=probe)


ROWS = [
    Row("free session binds", {}),
    Row("unknown CompIDs", None, expected=refused("unknown CompID pair")),
    Row("allowed address", {"allowed_ips": ["10.0.0.0/8"]}),
    Row(
        "address outside allowed_ips",
        {"allowed_ips": ["192.168.0.0/16"]},
        expected=refused("not in allowed_ips"),
    ),
    Row(
        "certificate required, none presented",
        {"tls": {"require_client_cert": True}},
        peer=Peer("10.1.2.3", None, tls=True),
        expected=refused("none was presented"),
    ),
    Row(
        "certificate required, plain TCP",
        {"tls": {"require_client_cert": True}},
        expected=refused("not TLS"),
    ),
    Row(
        "certificate of another subject",
        {"tls": {"require_client_cert": True, "allowed_subjects": ["client-b"]}},
        peer=Peer("10.1.2.3", CERT_A, tls=True),
        expected=refused("not in allowed_subjects"),
    ),
    Row(
        "certificate of the allowed subject",
        {"tls": {"require_client_cert": True, "allowed_subjects": ["client-a"]}},
        peer=Peer("10.1.2.3", CERT_A, tls=True),
    ),
    Row("another logon being bound", {}, live=Live.BINDING, expected=refused("in progress")),
    Row(
        "outside the schedule window",
        {"schedule": EVENING},
        now_ns=T0 + 2 * HOUR,
        expected=refused("outside its schedule window"),
    ),
    Row(
        "inside the window, numbers from this window",
        {"schedule": EVENING},
        last_saved_ns=T0 - 60 * S,
        expected=Bind(EVENING_WINDOW, new_window=False, replaces_dead=False),
    ),
    Row(
        "inside the window, numbers from yesterday's",
        {"schedule": EVENING},
        last_saved_ns=T0 - 24 * HOUR,
        expected=Bind(EVENING_WINDOW, new_window=True, replaces_dead=False),
    ),
    Row(
        "never used: no reset needed",
        {"schedule": EVENING},
        expected=Bind(EVENING_WINDOW, new_window=False, replaces_dead=False),
    ),
    Row(
        "live connection looks alive: refused at once, probed",
        {},
        live=Live.ALIVE,
        expected=refused("already logged on", probe=True),
    ),
    Row(
        "live connection, wrong password: refused, not probed",
        {"username": "ops", "password_hash": PASSWORD_HASH},
        live=Live.ALIVE,
        credentials=((553, "ops"), (554, "guess")),
        expected=refused("invalid Username(553) or Password(554)"),
    ),
    Row(
        "live connection, right password: probed",
        {"username": "ops", "password_hash": PASSWORD_HASH},
        live=Live.ALIVE,
        credentials=((553, "ops"), (554, "s3cret")),
        expected=refused("already logged on", probe=True),
    ),
    Row(
        "live connection known dead: replaced at once",
        {},
        live=Live.DEAD,
        expected=Bind(ALWAYS, new_window=False, replaces_dead=True),
    ),
    Row(
        "allowlist is checked before the live connection is disturbed",
        {"allowed_ips": ["192.168.0.0/16"]},
        live=Live.ALIVE,
        expected=refused("not in allowed_ips"),
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_admission(row: Row) -> None:
    slot = None
    if row.session is not None:
        cfg = config(**row.session)
        slot = Slot(cfg, SessionSchedule(cfg.schedule), row.live, row.last_saved_ns)
    decision = admit(logon(1, *row.credentials), slot, row.peer, row.now_ns)
    if isinstance(row.expected, Refuse):
        assert isinstance(decision, Refuse), decision
        assert row.expected.reason in decision.reason
        assert decision.probe_live is row.expected.probe_live
    else:
        assert decision == row.expected



PEER_REFUSALS = ("not in allowed_ips", "none was presented", "not TLS", "not in allowed_subjects")


@pytest.mark.parametrize("row", [r for r in ROWS if r.session is not None], ids=lambda r: r.name)
def test_peer_refusal_is_rules_2_and_3_alone(row: Row) -> None:
    """What the acceptor asks before checking a password: a refusal for who the peer is,
    whatever its Logon says, and nothing else."""
    assert row.session is not None
    refusal = peer_refusal(config(**row.session), row.peer)
    expected = row.expected
    by_peer = isinstance(expected, Refuse) and any(p in expected.reason for p in PEER_REFUSALS)
    assert (refusal is not None) is by_peer
    if refusal is not None:
        assert isinstance(expected, Refuse) and expected.reason in refusal.reason
