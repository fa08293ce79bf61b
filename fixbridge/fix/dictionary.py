"""Names of the FIX tags and enum values fixbridge sends, for people reading messages.

Used by the console client (``fixbridge demo``, ``fixbridge tail``) and ``fixbridge log``
to print ``ExecType=F(Trade)`` instead of ``150=F``. It is documentation in code form: it never
influences what goes on the wire.
"""

from __future__ import annotations

from collections.abc import Iterable

TAG_NAMES: dict[int, str] = {
    1: "Account", 6: "AvgPx", 7: "BeginSeqNo", 8: "BeginString", 9: "BodyLength",
    10: "CheckSum", 11: "ClOrdID", 12: "Commission", 13: "CommType", 14: "CumQty",
    16: "EndSeqNo", 17: "ExecID", 19: "ExecRefID", 22: "SecurityIDSource", 31: "LastPx",
    32: "LastQty", 34: "MsgSeqNum", 35: "MsgType", 36: "NewSeqNo", 37: "OrderID",
    38: "OrderQty", 39: "OrdStatus", 40: "OrdType", 41: "OrigClOrdID", 43: "PossDupFlag",
    44: "Price", 45: "RefSeqNum", 48: "SecurityID", 49: "SenderCompID", 52: "SendingTime",
    54: "Side", 55: "Symbol", 56: "TargetCompID", 58: "Text", 59: "TimeInForce",
    60: "TransactTime", 75: "TradeDate", 98: "EncryptMethod", 99: "StopPx", 103: "OrdRejReason",
    108: "HeartBtInt", 110: "MinQty", 112: "TestReqID", 119: "SettlCurrAmt",
    122: "OrigSendingTime", 123: "GapFillFlag", 126: "ExpireTime", 141: "ResetSeqNumFlag",
    150: "ExecType", 151: "LeavesQty", 167: "SecurityType", 371: "RefTagID",
    372: "RefMsgType", 373: "SessionRejectReason", 378: "ExecRestatementReason",
    380: "BusinessRejectReason", 381: "GrossTradeAmt", 447: "PartyIDSource", 448: "PartyID",
    452: "PartyRole", 453: "NoPartyIDs", 460: "Product", 789: "NextExpectedMsgSeqNum",
    797: "CopyMsgIndicator", 828: "TrdType", 880: "TrdMatchID", 1028: "ManualOrderIndicator",
    1057: "AggressorIndicator", 553: "Username", 554: "Password", 925: "NewPassword",
    1137: "DefaultApplVerID", 107: "SecurityDesc", 325: "UnsolicitedIndicator",
    326: "SecurityTradingStatus", 487: "TradeReportTransType", 552: "NoSides",
    571: "TradeReportID", 625: "TradingSessionSubID", 702: "NoPositions", 703: "PosType",
    704: "LongQty", 705: "ShortQty", 707: "PosAmtType", 708: "PosAmt", 715: "ClearingBusinessDate",
    721: "PosMaintRptID", 724: "PosReqType", 728: "PosReqResult", 753: "NoPosAmt",
    820: "TradeLinkID", 829: "TrdSubType", 856: "TradeReportType", 939: "TrdRptStatus",
    965: "SecurityStatus", 1003: "TradeID", 1055: "PositionCurrency", 1427: "SideExecID",
    2096: "PosAmtStreamDesc", 268: "NoMDEntries", 269: "MDEntryType",
    270: "MDEntryPx", 272: "MDEntryDate", 273: "MDEntryTime", 286: "OpenCloseSettlFlag",
    730: "SettlPrice", 731: "SettlPriceType", 734: "PriorSettlPrice", 779: "LastUpdateTime",
    893: "LastFragment", 1703: "NoCollateralAmounts", 1704: "CurrentCollateralAmount",
    1705: "CollateralCurrency", 20105: "MarketSettlementReportID", 20107: "MarketResult",
    20108: "NoMarketSettlementPartyIDs", 20109: "MarketSettlementPartyID",
    20110: "MarketSettlementPartyRole",
}  # fmt: skip

MSG_TYPES = {
    "0": "Heartbeat", "1": "TestRequest", "2": "ResendRequest", "3": "Reject",
    "4": "SequenceReset", "5": "Logout", "8": "ExecutionReport", "A": "Logon",
    "j": "BusinessMessageReject", "AE": "TradeCaptureReport", "f": "SecurityStatus",
    "AP": "PositionReport", "W": "MarketDataSnapshotFullRefresh", "UMS": "MarketSettlementReport",
}  # fmt: skip

VALUE_LABELS: dict[int, dict[str, str]] = {
    35: MSG_TYPES,
    39: {"0": "New", "1": "PartiallyFilled", "2": "Filled", "3": "DoneForDay", "4": "Canceled",
         "6": "PendingCancel", "8": "Rejected", "A": "PendingNew", "C": "Expired",
         "E": "PendingReplace"},
    150: {"0": "New", "3": "DoneForDay", "4": "Canceled", "5": "Replaced", "8": "Rejected",
          "C": "Expired", "F": "Trade", "H": "TradeCancel"},
    54: {"1": "Buy", "2": "Sell"},
    40: {"2": "Limit", "3": "Stop", "4": "StopLimit", "K": "MarketWithLeftOverAsLimit"},
    59: {"0": "Day", "1": "GoodTillCancel", "3": "ImmediateOrCancel", "4": "FillOrKill",
         "6": "GoodTillDate"},
    13: {"3": "Absolute"},
    22: {"8": "ExchangeSymbol"},
    447: {"D": "Proprietary"},
    452: {"1": "ExecutingFirm", "3": "ClientID", "24": "CustomerAccount"},
    460: {"12": "Other"},
    828: {"0": "RegularTrade"},
    1057: {"Y": "Aggressor", "N": "Passive"},
    43: {"Y": "PossibleDuplicate"},
    1137: {"9": "FIX50SP2"},
    269: {"6": "SettlementPrice"},
    286: {"0": "DailySettlementEntry", "2": "DeliverySettlementEntry", "3": "ExpectedEntry"},
    731: {"1": "Final", "2": "Theoretical"},
    487: {"0": "New", "1": "Cancel", "2": "Replace"},
    939: {"0": "Accepted", "1": "Rejected", "2": "Cancelled"},
    326: {"1": "OpeningDelay", "2": "TradingHalt", "4": "NoOpenNoResume", "17": "ReadyToTrade",
          "18": "NotAvailableForTrading", "19": "NotTradedOnThisMarket", "21": "PreOpen",
          "24": "PreCross", "26": "PostClose"},
}  # fmt: skip

_QUIET = frozenset({8, 9, 10, 49, 56})


def describe(fields: Iterable[tuple[int, str]]) -> str:
    """One readable line: ``MsgType=8(ExecutionReport) MsgSeqNum=12 ExecType=F(Trade) …``."""
    parts = []
    for tag, value in fields:
        if tag in _QUIET:
            continue
        name = TAG_NAMES.get(tag, str(tag))
        label = VALUE_LABELS.get(tag, {}).get(value)
        parts.append(f"{name}={value}({label})" if label else f"{name}={value}")
    return " ".join(parts)
