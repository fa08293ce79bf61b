"""Structural checks of one inbound FIX message, before the session acts on it.

Each check returns the first ``Problem`` in wire order (the SessionRejectReason(373) value, the
tag at fault for RefTagID(371), a line for the log) or None. Rules, from FIXT.1.1:

- a field with an empty value (``56=``, ``115=``) -> 373=4, whatever the message;
- a standard-header field after a body field -> 373=14, whatever the message;
- a header field other than the NoHops group's twice -> 373=13;
- SenderCompID(49), TargetCompID(56) or SendingTime(52) missing -> 373=1;
- in an administrative message: a tag FIXT.1.1 does not define -> 373=0, one it defines but
  not for this MsgType -> 373=2, a non-group field twice -> 373=13, a required field missing
  -> 373=1.

Application messages are not checked beyond the header: a read-only drop copy answers every
one with BusinessMessageReject whatever its body. Pure: a parsed message in, a value out.
"""

from __future__ import annotations

from dataclasses import dataclass

from fixbridge.fix.codec import FixMessage
from fixbridge.fix.fixt import (
    ADMIN_MESSAGES,
    DEFINED_TAGS,
    HEADER_REPEATABLE,
    HEADER_TAGS,
    INVALID_TAG_NUMBER,
    REQUIRED_TAG_MISSING,
    TAG_NOT_DEFINED_FOR_MESSAGE_TYPE,
    TAG_OUT_OF_ORDER,
    TAG_REPEATED,
    TAG_WITHOUT_VALUE,
    TRAILER_TAGS,
)

SENDER_COMP_ID, TARGET_COMP_ID, SENDING_TIME = 49, 56, 52
_REQUIRED_HEADER = (SENDER_COMP_ID, TARGET_COMP_ID, SENDING_TIME)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a message gets a session-level Reject."""

    reason: str  # SessionRejectReason(373)
    ref_tag: int | None  # RefTagID(371)
    detail: str  # for the log


def structure_problem(msg: FixMessage) -> Problem | None:
    """Empty values, header order, repeated header fields, required header fields."""
    for tag, value in msg.fields:
        if value == "":
            return Problem(TAG_WITHOUT_VALUE, tag, f"tag {tag} has no value")
    first_body: int | None = None
    seen: set[int] = set()
    for tag, _ in msg.fields[3:]:  # 8, 9 and 35 are the first three (the parser checks)
        if tag in TRAILER_TAGS:
            continue
        if tag not in HEADER_TAGS:
            first_body = tag if first_body is None else first_body
            continue
        if first_body is not None:
            return Problem(TAG_OUT_OF_ORDER, tag, f"header tag {tag} after body tag {first_body}")
        if tag in seen and tag not in HEADER_REPEATABLE:
            return Problem(TAG_REPEATED, tag, f"header tag {tag} appears more than once")
        seen.add(tag)
    for tag in _REQUIRED_HEADER:
        if tag not in seen:
            return Problem(REQUIRED_TAG_MISSING, tag, f"required header tag {tag} is missing")
    return None


def admin_field_problem(msg: FixMessage) -> Problem | None:
    """The body of an administrative message against FIXT.1.1 (None for other MsgTypes)."""
    message = ADMIN_MESSAGES.get(msg.msg_type)
    if message is None:
        return None
    allowed = message.fields | HEADER_TAGS | TRAILER_TAGS
    repeatable = message.repeatable | HEADER_REPEATABLE
    seen: set[int] = set()
    for tag, _ in msg.fields:
        if tag not in DEFINED_TAGS:
            return Problem(INVALID_TAG_NUMBER, tag, f"tag {tag} is not defined by FIXT.1.1")
        if tag not in allowed:
            return Problem(
                TAG_NOT_DEFINED_FOR_MESSAGE_TYPE,
                tag,
                f"tag {tag} is not defined for {message.name}",
            )
        if tag in seen and tag not in repeatable:
            return Problem(TAG_REPEATED, tag, f"tag {tag} appears more than once")
        seen.add(tag)
    for tag in sorted(message.required - seen):
        return Problem(REQUIRED_TAG_MISSING, tag, f"{message.name} requires tag {tag}")
    return None
