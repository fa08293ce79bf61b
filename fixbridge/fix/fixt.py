"""What the FIXT.1.1 transport dictionary defines for the session layer, as tables.

The standard header and trailer, the fields of each administrative message (which are
required, which may repeat), the routing tags a reply carries reversed, and the standard
description of each SessionRejectReason(373) value (for log lines).
Numbers and names are the FIXT.1.1 specification's; ``tests/unit/test_fix_fixt.py`` checks
them against QuickFIX's stock FIXT11.xml.

Data only: no parsing, no decisions. It never describes application messages (their fields
belong to the FIX 5.0 SP2 application dictionary, which the session layer does not check).
"""

from __future__ import annotations

from dataclasses import dataclass

BEGIN_STRING, BODY_LENGTH, MSG_TYPE, CHECK_SUM = 8, 9, 35, 10

HEADER_TAGS: frozenset[int] = frozenset(
    {
        8, 9, 35,  # BeginString, BodyLength, MsgType: the first three fields, in this order
        1128, 1156, 1129,  # ApplVerID, ApplExtID, CstmApplVerID
        49, 56,  # SenderCompID, TargetCompID
        115, 128, 90, 91,  # OnBehalfOfCompID, DeliverToCompID, SecureDataLen, SecureData
        34, 50, 142, 57, 143,  # MsgSeqNum, SenderSubID, SenderLocationID, TargetSubID/LocationID
        116, 144, 129, 145,  # OnBehalfOfSubID/LocationID, DeliverToSubID/LocationID
        43, 97, 52, 122,  # PossDupFlag, PossResend, SendingTime, OrigSendingTime
        212, 213, 347, 369,  # XmlDataLen, XmlData, MessageEncoding, LastMsgSeqNumProcessed
        627, 628, 629, 630,  # NoHops and its group: HopCompID, HopSendingTime, HopRefID
    }
)  # fmt: skip
"""Fields of the standard header (FIXT.1.1), wherever a message carries them."""

HEADER_REPEATABLE: frozenset[int] = frozenset({628, 629, 630})
"""Header fields that repeat legitimately: the members of the NoHops(627) group."""

TRAILER_TAGS: frozenset[int] = frozenset({93, 89, 10})  # SignatureLength, Signature, CheckSum


@dataclass(frozen=True, slots=True)
class AdminMessage:
    """The body of one administrative message."""

    name: str
    required: frozenset[int]
    optional: frozenset[int]
    repeatable: frozenset[int] = frozenset()  # members of a repeating group in the body

    @property
    def fields(self) -> frozenset[int]:
        return self.required | self.optional


_TEXT = frozenset({58, 354, 355})  # Text, EncodedTextLen, EncodedText

ADMIN_MESSAGES: dict[str, AdminMessage] = {
    "0": AdminMessage("Heartbeat", frozenset(), frozenset({112})),
    "1": AdminMessage("TestRequest", frozenset({112}), frozenset()),
    "2": AdminMessage("ResendRequest", frozenset({7, 16}), frozenset()),
    "3": AdminMessage(
        "Reject",
        frozenset({45}),
        frozenset({371, 372, 1130, 1406, 1131, 373}) | _TEXT,
    ),
    "4": AdminMessage("SequenceReset", frozenset({36}), frozenset({123})),
    "5": AdminMessage("Logout", frozenset(), frozenset({1409}) | _TEXT),
    "A": AdminMessage(
        "Logon",
        frozenset({98, 108, 1137}),
        frozenset(
            {95, 96, 141, 789, 383, 464, 553, 554, 925, 1400, 1401, 1402, 1403, 1404, 1409}
            | {1407, 1408}
            | {384, 372, 385, 1130, 1131}  # NoMsgTypes and its group
        )
        | _TEXT,
        repeatable=frozenset({372, 385, 1130, 1131}),
    ),
}
"""The FIXT.1.1 administrative messages by MsgType."""

DEFINED_TAGS: frozenset[int] = (
    HEADER_TAGS
    | TRAILER_TAGS
    | frozenset(tag for message in ADMIN_MESSAGES.values() for tag in message.fields)
)
"""Every field FIXT.1.1 defines: an administrative message carrying any other is rejected
with 373=0 (invalid tag number)."""

ROUTING_REVERSED: dict[int, int] = {115: 128, 128: 115, 116: 129, 129: 116, 144: 145, 145: 144}
"""OnBehalfOf* <-> DeliverTo*: a reply to a routed message carries each routing tag swapped."""

# SessionRejectReason(373) values and their standard descriptions.
INVALID_TAG_NUMBER = "0"
REQUIRED_TAG_MISSING = "1"
TAG_NOT_DEFINED_FOR_MESSAGE_TYPE = "2"
TAG_WITHOUT_VALUE = "4"
VALUE_INCORRECT = "5"
INCORRECT_DATA_FORMAT = "6"
COMPID_PROBLEM = "9"
SENDING_TIME_ACCURACY = "10"
INVALID_MSGTYPE = "11"
TAG_REPEATED = "13"
TAG_OUT_OF_ORDER = "14"

REJECT_TEXT: dict[str, str] = {
    INVALID_TAG_NUMBER: "Invalid tag number",
    REQUIRED_TAG_MISSING: "Required tag missing",
    TAG_NOT_DEFINED_FOR_MESSAGE_TYPE: "Tag not defined for this message type",
    TAG_WITHOUT_VALUE: "Tag specified without a value",
    VALUE_INCORRECT: "Value is incorrect (out of range) for this tag",
    INCORRECT_DATA_FORMAT: "Incorrect data format for value",
    COMPID_PROBLEM: "CompID problem",
    SENDING_TIME_ACCURACY: "SendingTime accuracy problem",
    INVALID_MSGTYPE: "Invalid MsgType",
    TAG_REPEATED: "Tag appears more than once",
    TAG_OUT_OF_ORDER: "Tag specified out of required order",
}
