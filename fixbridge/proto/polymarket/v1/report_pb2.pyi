import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from fixbridge.proto.polymarket.v1 import enums_pb2 as _enums_pb2
from fixbridge.proto.polymarket.v1 import orders_pb2 as _orders_pb2
from fixbridge.proto.polymarket.v1 import trading_pb2 as _trading_pb2
from fixbridge.proto.polymarket.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SearchExecutionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "order_id", "clord_id", "start_time", "end_time", "symbol", "types", "newest_first", "accounts", "client_account_id", "client_participant_id", "parent_order_id", "exec_ids", "start_transact_trade_date", "end_transact_trade_date")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLORD_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    NEWEST_FIRST_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    EXEC_IDS_FIELD_NUMBER: _ClassVar[int]
    START_TRANSACT_TRADE_DATE_FIELD_NUMBER: _ClassVar[int]
    END_TRANSACT_TRADE_DATE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    order_id: str
    clord_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    symbol: str
    types: _containers.RepeatedScalarFieldContainer[_enums_pb2.ExecutionType]
    newest_first: bool
    accounts: _containers.RepeatedScalarFieldContainer[str]
    client_account_id: str
    client_participant_id: str
    parent_order_id: str
    exec_ids: _containers.RepeatedScalarFieldContainer[str]
    start_transact_trade_date: _types_pb2.Date
    end_transact_trade_date: _types_pb2.Date
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., order_id: _Optional[str] = ..., clord_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., symbol: _Optional[str] = ..., types: _Optional[_Iterable[_Union[_enums_pb2.ExecutionType, str]]] = ..., newest_first: _Optional[bool] = ..., accounts: _Optional[_Iterable[str]] = ..., client_account_id: _Optional[str] = ..., client_participant_id: _Optional[str] = ..., parent_order_id: _Optional[str] = ..., exec_ids: _Optional[_Iterable[str]] = ..., start_transact_trade_date: _Optional[_Union[_types_pb2.Date, _Mapping]] = ..., end_transact_trade_date: _Optional[_Union[_types_pb2.Date, _Mapping]] = ...) -> None: ...

class SearchExecutionsResponse(_message.Message):
    __slots__ = ("executions", "next_page_token", "eof")
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EOF_FIELD_NUMBER: _ClassVar[int]
    executions: _containers.RepeatedCompositeFieldContainer[_trading_pb2.Execution]
    next_page_token: str
    eof: bool
    def __init__(self, executions: _Optional[_Iterable[_Union[_trading_pb2.Execution, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., eof: _Optional[bool] = ...) -> None: ...

class SearchTradesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "order_id", "trade_id", "exec_id", "start_time", "end_time", "symbol", "accounts", "states", "trade_link_id")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    TRADE_LINK_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    order_id: str
    trade_id: str
    exec_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    symbol: str
    accounts: _containers.RepeatedScalarFieldContainer[str]
    states: _containers.RepeatedScalarFieldContainer[_enums_pb2.TradeState]
    trade_link_id: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., order_id: _Optional[str] = ..., trade_id: _Optional[str] = ..., exec_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., symbol: _Optional[str] = ..., accounts: _Optional[_Iterable[str]] = ..., states: _Optional[_Iterable[_Union[_enums_pb2.TradeState, str]]] = ..., trade_link_id: _Optional[str] = ...) -> None: ...

class SearchTradesResponse(_message.Message):
    __slots__ = ("trades", "next_page_token", "eof")
    TRADES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EOF_FIELD_NUMBER: _ClassVar[int]
    trades: _containers.RepeatedCompositeFieldContainer[_orders_pb2.Trade]
    next_page_token: str
    eof: bool
    def __init__(self, trades: _Optional[_Iterable[_Union[_orders_pb2.Trade, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., eof: _Optional[bool] = ...) -> None: ...
