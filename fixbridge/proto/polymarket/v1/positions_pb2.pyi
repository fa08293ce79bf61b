import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Position(_message.Message):
    __slots__ = ("account", "symbol", "net_position", "qty_bought", "qty_sold", "cost", "realized", "bod_position", "expired", "update_time")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    NET_POSITION_FIELD_NUMBER: _ClassVar[int]
    QTY_BOUGHT_FIELD_NUMBER: _ClassVar[int]
    QTY_SOLD_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    REALIZED_FIELD_NUMBER: _ClassVar[int]
    BOD_POSITION_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    account: str
    symbol: str
    net_position: int
    qty_bought: int
    qty_sold: int
    cost: int
    realized: int
    bod_position: int
    expired: bool
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, account: _Optional[str] = ..., symbol: _Optional[str] = ..., net_position: _Optional[int] = ..., qty_bought: _Optional[int] = ..., qty_sold: _Optional[int] = ..., cost: _Optional[int] = ..., realized: _Optional[int] = ..., bod_position: _Optional[int] = ..., expired: _Optional[bool] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
