"""/status on the ops port: each configured session with its state and numbers, each stream,
as JSON for tools, as a page a real browser renders (headless Chromium), and as the table
`fixbridge status` prints."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from fixbridge.app import Bridge
from fixbridge.cli import main
from tests.integration.inprocess import ExecutionFeed, bridge, port_of
from tests.integration.rawfix import RawClient
from tests.system_tools import tool

pytestmark = pytest.mark.integration

BRIDGE = "FIXBRIDGE"
SESSIONS = [
    {"name": "backoffice", "sender_comp_id": BRIDGE, "target_comp_id": "BO_<1>"},
    {"name": "compliance", "sender_comp_id": BRIDGE, "target_comp_id": "COMPLIANCE"},
]


def fetch_json(url: str) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"] == "application/json"
        result: dict[str, Any] = json.loads(response.read())
        return result


async def chromium_dom(chromium: str, url: str) -> str:
    """The page as headless Chromium renders it (the DOM after loading)."""
    process = await asyncio.create_subprocess_exec(
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()


def rows_of(dom: str) -> list[list[str]]:
    """The cells of each table row in the rendered DOM (a minimal reader, no dependency)."""
    import html
    import re

    return [
        [html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<td>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", dom, re.DOTALL)
    ]


def test_status_shows_each_session_and_stream_as_json_in_a_browser_and_in_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chromium = tool("chromium-headless-shell", "chromium-headless-shell")

    async def conversation() -> None:
        async with bridge(tmp_path, SESSIONS, ops=True) as b:
            ExecutionFeed(b).append(12)
            client = RawClient("BO_<1>", BRIDGE)
            await client.connect(port_of(b))
            client.logon()
            await client.read_until(lambda box: len([m for m in box if m.msg_type == "8"]) == 12)
            url = f"http://127.0.0.1:{ops_port(b)}/status"

            status = await asyncio.to_thread(fetch_json, url)
            by_name = {s["name"]: s for s in status["sessions"]}
            assert list(by_name) == ["backoffice", "compliance"]
            bo, co = by_name["backoffice"], by_name["compliance"]
            # Our Logon was 1 and the 12 ExecutionReports 2..13; the client's Logon was 1.
            assert (bo["state"], bo["next_sender_seq"], bo["next_target_seq"]) == (
                "logged_on", 14, 2
            )
            assert bo["backlog"] == 0 and bo["cursor"] == status["journal_head"] == 12
            assert bo["peer"].startswith("127.0.0.1:") and bo["logon_time"].endswith("Z")
            assert (co["state"], co["backlog"], co["peer"]) == ("offline", 12, None)
            assert {s["name"] for s in status["streams"]} == {"executions"}
            assert status["ready"] is False  # the upstream is a closed port here
            assert "executions stream is not connected" in status["not_ready_reason"]

            dom = await chromium_dom(chromium, url)
            rows = {row[0]: row for row in rows_of(dom) if row}
            assert rows["backoffice"][1:5] == ["logged_on", "no", "yes", "BO_<1>"]
            assert rows["compliance"][1:2] == ["offline"]
            assert rows["executions"][1] == "no"
            assert "not ready: upstream executions stream is not connected" in dom

            code = await asyncio.to_thread(main, ["status", "--url", url.removesuffix("/status")])
            assert code == 1  # not ready
            client.close()

    asyncio.run(asyncio.wait_for(conversation(), 120))
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].endswith("not ready: upstream executions stream is not connected")
    table = [line.split() for line in printed]
    assert table[4][:5] == ["backoffice", "logged_on", "no", "yes", "BO_<1>"]
    assert table[5][:5] == ["compliance", "offline", "no", "yes", "COMPLIANCE"]


def ops_port(b: Bridge) -> int:
    port = b.metrics_port
    assert port is not None
    return port


def test_status_without_a_bridge_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.integration.qfharness import free_tcp_port

    assert main(["status", "--url", f"http://127.0.0.1:{free_tcp_port()}"]) == 3
    assert "no status from http://127.0.0.1:" in capsys.readouterr().err
