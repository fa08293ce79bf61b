"""A journal writer for the crash test: numbered batches and a session's sends, until killed.

``python -m tests.contract.crash_writer SPEC``: goes on from what the journal holds. Batch n
is BATCH executions ``b<n>-<i>`` appended with resume token ``n``; after each, the session
``s`` stores three messages and moves its cursor to the head. It prints ``ready`` once its first
batch is written, then writes until SIGKILL ends it at some moment the test does not choose.
"""

from __future__ import annotations

import asyncio
import sys

from fixbridge.journal.records import OutboundMessage
from fixbridge.journal.store import NewEvent
from tests.contract.backends import open_journal

BATCH = 25
SESSION = "s"
STAMP = "20261206-00:00:00"


async def main(spec: str) -> None:
    journal = open_journal(spec)
    n = int(journal.resume_token("executions") or b"0")
    journal.load_session(SESSION)
    first = n + 1
    while True:
        if n == first:
            print("ready", flush=True)  # one batch written in this run: the kill may come
        n += 1
        events = [NewEvent(f"b{n}-{i}", n, b"{}", b"raw") for i in range(BATCH)]
        await journal.append_async("executions", events, str(n).encode(), n)
        record = journal.load_session(SESSION)
        seq = record.next_sender_seq
        sent = [OutboundMessage(seq + i, "8", STAMP, b"17=%d\x01" % (seq + i)) for i in range(3)]
        await journal.submit_sent(
            SESSION, sent, seq + 3, journal.head_offset(), at_ns=n,
            after_offset=record.cursor_offset,
        ).result()  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
