from errbot.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BotReactRequest(_message.Message):
    __slots__ = ("to", "message_id", "reaction", "remove")
    TO_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REACTION_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    to: _common_pb2.Identifier
    message_id: str
    reaction: str
    remove: bool
    def __init__(self, to: _Optional[_Union[_common_pb2.Identifier, _Mapping]] = ..., message_id: _Optional[str] = ..., reaction: _Optional[str] = ..., remove: _Optional[bool] = ...) -> None: ...

class BotReactResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BotPresenceRequest(_message.Message):
    __slots__ = ("backend", "status", "message")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    backend: str
    status: str
    message: str
    def __init__(self, backend: _Optional[str] = ..., status: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class BotPresenceResponse(_message.Message):
    __slots__ = ("unsupported",)
    UNSUPPORTED_FIELD_NUMBER: _ClassVar[int]
    unsupported: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, unsupported: _Optional[_Iterable[str]] = ...) -> None: ...

class BotSendRequest(_message.Message):
    __slots__ = ("to", "to_text", "backend", "content", "thread_id", "in_reply_to")
    TO_FIELD_NUMBER: _ClassVar[int]
    TO_TEXT_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    IN_REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    to: _common_pb2.Identifier
    to_text: str
    backend: str
    content: _common_pb2.Content
    thread_id: str
    in_reply_to: str
    def __init__(self, to: _Optional[_Union[_common_pb2.Identifier, _Mapping]] = ..., to_text: _Optional[str] = ..., backend: _Optional[str] = ..., content: _Optional[_Union[_common_pb2.Content, _Mapping]] = ..., thread_id: _Optional[str] = ..., in_reply_to: _Optional[str] = ...) -> None: ...

class BotSendResponse(_message.Message):
    __slots__ = ("message_id",)
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    def __init__(self, message_id: _Optional[str] = ...) -> None: ...

class WarnAdminsRequest(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class WarnAdminsResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BotBuildIdentifierRequest(_message.Message):
    __slots__ = ("text", "backend")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    text: str
    backend: str
    def __init__(self, text: _Optional[str] = ..., backend: _Optional[str] = ...) -> None: ...
