"""The admin port: an operator pauses, resumes, logs out and resets a session on a running
bridge, with the token and only with it, and `fixbridge admin` does the same from a shell."""

from __future__ import annotations

import asyncio
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fixbridge.app import Bridge
from fixbridge.cli import main
from tests.integration.inprocess import ExecutionFeed, bridge, port_of
from tests.integration.rawfix import RawClient

pytestmark = pytest.mark.integration

BRIDGE = "FIXBRIDGE"
TOKEN = "admin-token-0123456789abcdef"
SESSIONS = [
    {"name": "alpha", "sender_comp_id": BRIDGE, "target_comp_id": "ALPHA"},
    {"name": "beta", "sender_comp_id": BRIDGE, "target_comp_id": "BETA"},
]


def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "admin.token"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(TOKEN + "\n")
    return path


def post(b: Bridge, path: str, token: str | None = TOKEN, body: str = "") -> tuple[int, str]:
    assert b.admin_server is not None
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    request = urllib.request.Request(
        f"http://127.0.0.1:{b.admin_server.port}{path}", data=body.encode(), method="POST",
        headers=headers,
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode().strip()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode().strip()


def count(b: Bridge, action: str, result: str) -> float:
    value = b.metrics.registry.get_sample_value(
        "fixbridge_admin_actions_total", {"action": action, "result": result}
    )
    return value or 0.0


def test_operator_actions_need_the_token_and_do_what_they_say(tmp_path: Path) -> None:
    async def conversation() -> None:
        async with bridge(tmp_path, SESSIONS, admin_token_file=token_file(tmp_path)) as b:
            call = lambda *a, **k: asyncio.to_thread(post, b, *a, **k)  # noqa: E731
            feed = ExecutionFeed(b)
            first = feed.append(5)
            client = RawClient("ALPHA", BRIDGE)
            await client.connect(port_of(b))
            client.logon()
            await client.read_until(lambda box: len([m for m in box if m.msg_type == "8"]) == 5)

            # Without the token, or with another one: refused, nothing done.
            assert (await call("/sessions/alpha/pause", token=None))[0] == 401
            assert (await call("/sessions/alpha/pause", token="x" * 28))[0] == 401
            assert count(b, "none", "unauthorized") == 2

            # Pause: the session stays logged on, new events wait; resume: they come.
            assert await call("/sessions/alpha/pause") == (200, "session alpha: delivery paused")
            held = feed.append(5)
            status = await b.status()
            alpha = next(s for s in status.sessions if s.name == "alpha")
            assert alpha.paused and alpha.state == "logged_on" and alpha.backlog == 5
            assert await call("/sessions/alpha/resume") == (200, "session alpha: delivery resumed")
            inbox = await client.read_until(
                lambda box: len([m for m in box if m.msg_type == "8"]) == 10
            )
            assert [m.get(17) for m in inbox if m.msg_type == "8"] == first + held

            # Refusals say why: an unknown session, a session nobody is logged on to.
            assert (await call("/sessions/nobody/logout"))[0] == 404
            code, text = await call("/sessions/beta/logout")
            assert (code, text) == (409, "session beta is not logged on")
            assert (await call("/sessions/alpha/explode"))[0] == 404

            # Logout with the operator's text; then reset: numbers back to 1.
            code, text = await call("/sessions/alpha/logout", body="maintenance at 18:00")
            assert code == 200 and "logged out" in text
            inbox = await client.read_until(lambda box: any(m.msg_type == "5" for m in box))
            (logout,) = [m for m in inbox if m.msg_type == "5"]
            assert logout.get(58) == "maintenance at 18:00"
            assert await client.closed_by_peer()
            assert await call("/sessions/alpha/reset") == (
                200, "session alpha: sequence numbers reset to 1"
            )  # fmt: skip
            again = RawClient("ALPHA", BRIDGE)  # its own numbers start at 1 too
            await again.connect(port_of(b))
            again.logon()
            (logon,) = [m for m in await again.read_until(bool) if m.msg_type == "A"]
            assert logon.get(34) == "1"
            assert count(b, "reset", "done") == count(b, "logout", "done") == 1
            assert count(b, "logout", "refused") == 2  # nobody, beta

            # The same from a shell: `fixbridge admin pause alpha`.
            config = tmp_path / "admin.toml"
            assert b.admin_server is not None
            config.write_text(
                f'[admin]\nenabled = true\nport = {b.admin_server.port}\n'
                f'token_file = "{tmp_path / "admin.token"}"\n'
                '[[sessions]]\nname = "alpha"\nsender_comp_id = "X"\ntarget_comp_id = "Y"\n'
            )
            shell = ["--config", str(config)]
            code = await asyncio.to_thread(main, ["admin", "pause", "alpha", *shell])
            assert code == 0 and count(b, "pause", "done") == 2
            code = await asyncio.to_thread(main, ["admin", "logout", "beta", *shell])
            assert code == 1
            again.close()

    asyncio.run(asyncio.wait_for(conversation(), 60))


@pytest.mark.parametrize(
    ("mode", "content", "message"),
    [
        (0o644, TOKEN, "readable by others"),
        (0o600, "short", "the token must be at least 16 characters"),
    ],
)
def test_an_unusable_token_file_stops_the_start_naming_it(
    tmp_path: Path, mode: int, content: str, message: str
) -> None:
    path = tmp_path / "admin.token"
    path.write_text(content)
    path.chmod(mode)

    async def start() -> None:
        async with bridge(tmp_path, SESSIONS, admin_token_file=path):
            pass

    from fixbridge.config import SettingError

    with pytest.raises(SettingError, match=f"admin.token_file = '{path}': {message}"):
        asyncio.run(start())
