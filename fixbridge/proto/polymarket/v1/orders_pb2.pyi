from fixbridge.proto.polymarket.v1 import enums_pb2 as _enums_pb2
from fixbridge.proto.polymarket.v1 import trading_pb2 as _trading_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Trade(_message.Message):
    __slots__ = ("id", "aggressor", "passive", "trade_type", "state", "reporting_counterparty", "text", "trade_link_id", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    AGGRESSOR_FIELD_NUMBER: _ClassVar[int]
    PASSIVE_FIELD_NUMBER: _ClassVar[int]
    TRADE_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REPORTING_COUNTERPARTY_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TRADE_LINK_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    aggressor: _trading_pb2.Execution
    passive: _trading_pb2.Execution
    trade_type: _enums_pb2.TradeType
    state: _enums_pb2.TradeState
    reporting_counterparty: _enums_pb2.Side
    text: str
    trade_link_id: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., aggressor: _Optional[_Union[_trading_pb2.Execution, _Mapping]] = ..., passive: _Optional[_Union[_trading_pb2.Execution, _Mapping]] = ..., trade_type: _Optional[_Union[_enums_pb2.TradeType, str]] = ..., state: _Optional[_Union[_enums_pb2.TradeState, str]] = ..., reporting_counterparty: _Optional[_Union[_enums_pb2.Side, str]] = ..., text: _Optional[str] = ..., trade_link_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...
