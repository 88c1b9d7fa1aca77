from errbot.v1 import backend_pb2 as _backend_pb2
from errbot.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EmitRequest(_message.Message):
    __slots__ = ("presence", "reaction", "room", "connected")
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    REACTION_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    presence: _common_pb2.PresenceEvent
    reaction: _common_pb2.ReactionEvent
    room: _common_pb2.RoomEvent
    connected: _common_pb2.Connected
    def __init__(self, presence: _Optional[_Union[_common_pb2.PresenceEvent, _Mapping]] = ..., reaction: _Optional[_Union[_common_pb2.ReactionEvent, _Mapping]] = ..., room: _Optional[_Union[_common_pb2.RoomEvent, _Mapping]] = ..., connected: _Optional[_Union[_common_pb2.Connected, _Mapping]] = ...) -> None: ...

class EmitResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class InjectRequest(_message.Message):
    __slots__ = ("body", "room", "thread_id", "timeout_ms")
    BODY_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    body: str
    room: str
    thread_id: str
    timeout_ms: int
    def __init__(self, body: _Optional[str] = ..., room: _Optional[str] = ..., thread_id: _Optional[str] = ..., timeout_ms: _Optional[int] = ..., **kwargs) -> None: ...

class InjectResponse(_message.Message):
    __slots__ = ("message_id",)
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    def __init__(self, message_id: _Optional[str] = ...) -> None: ...

class ConverseResponse(_message.Message):
    __slots__ = ("message_id", "replies")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REPLIES_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    replies: _containers.RepeatedCompositeFieldContainer[SentMessage]
    def __init__(self, message_id: _Optional[str] = ..., replies: _Optional[_Iterable[_Union[SentMessage, _Mapping]]] = ...) -> None: ...

class OutboxRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SentMessage(_message.Message):
    __slots__ = ("to", "content", "in_reply_to", "thread_id", "text", "file", "reaction", "presence")
    TO_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    IN_REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    REACTION_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    to: _common_pb2.Identifier
    content: _common_pb2.Content
    in_reply_to: str
    thread_id: str
    text: str
    file: SentFile
    reaction: _backend_pb2.ReactRequest
    presence: _backend_pb2.SetPresenceRequest
    def __init__(self, to: _Optional[_Union[_common_pb2.Identifier, _Mapping]] = ..., content: _Optional[_Union[_common_pb2.Content, _Mapping]] = ..., in_reply_to: _Optional[str] = ..., thread_id: _Optional[str] = ..., text: _Optional[str] = ..., file: _Optional[_Union[SentFile, _Mapping]] = ..., reaction: _Optional[_Union[_backend_pb2.ReactRequest, _Mapping]] = ..., presence: _Optional[_Union[_backend_pb2.SetPresenceRequest, _Mapping]] = ...) -> None: ...

class SentFile(_message.Message):
    __slots__ = ("name", "content_type", "data")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    name: str
    content_type: str
    data: bytes
    def __init__(self, name: _Optional[str] = ..., content_type: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class LoadRequest(_message.Message):
    __slots__ = ("body", "expect", "count", "concurrency", "timeout_ms")
    BODY_FIELD_NUMBER: _ClassVar[int]
    EXPECT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    body: str
    expect: str
    count: int
    concurrency: int
    timeout_ms: int
    def __init__(self, body: _Optional[str] = ..., expect: _Optional[str] = ..., count: _Optional[int] = ..., concurrency: _Optional[int] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class LoadResponse(_message.Message):
    __slots__ = ("sent", "correct", "wrong", "elapsed_us", "latencies_us", "duplicated", "lost", "first_failure")
    SENT_FIELD_NUMBER: _ClassVar[int]
    CORRECT_FIELD_NUMBER: _ClassVar[int]
    WRONG_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_US_FIELD_NUMBER: _ClassVar[int]
    LATENCIES_US_FIELD_NUMBER: _ClassVar[int]
    DUPLICATED_FIELD_NUMBER: _ClassVar[int]
    LOST_FIELD_NUMBER: _ClassVar[int]
    FIRST_FAILURE_FIELD_NUMBER: _ClassVar[int]
    sent: int
    correct: int
    wrong: int
    elapsed_us: int
    latencies_us: _containers.RepeatedScalarFieldContainer[int]
    duplicated: int
    lost: int
    first_failure: str
    def __init__(self, sent: _Optional[int] = ..., correct: _Optional[int] = ..., wrong: _Optional[int] = ..., elapsed_us: _Optional[int] = ..., latencies_us: _Optional[_Iterable[int]] = ..., duplicated: _Optional[int] = ..., lost: _Optional[int] = ..., first_failure: _Optional[str] = ...) -> None: ...
