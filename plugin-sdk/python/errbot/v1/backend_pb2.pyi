from errbot.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StartRequest(_message.Message):
    __slots__ = ("name", "kind", "settings_json", "bot_prefix", "bot_admins", "command_names")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_JSON_FIELD_NUMBER: _ClassVar[int]
    BOT_PREFIX_FIELD_NUMBER: _ClassVar[int]
    BOT_ADMINS_FIELD_NUMBER: _ClassVar[int]
    COMMAND_NAMES_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    settings_json: str
    bot_prefix: str
    bot_admins: _containers.RepeatedScalarFieldContainer[str]
    command_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., settings_json: _Optional[str] = ..., bot_prefix: _Optional[str] = ..., bot_admins: _Optional[_Iterable[str]] = ..., command_names: _Optional[_Iterable[str]] = ...) -> None: ...

class BackendInfo(_message.Message):
    __slots__ = ("bot", "message_size_limit", "limit_in_bytes", "description", "nick_prefix")
    BOT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_SIZE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_IN_BYTES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    NICK_PREFIX_FIELD_NUMBER: _ClassVar[int]
    bot: _common_pb2.Identifier
    message_size_limit: int
    limit_in_bytes: bool
    description: str
    nick_prefix: str
    def __init__(self, bot: _Optional[_Union[_common_pb2.Identifier, _Mapping]] = ..., message_size_limit: _Optional[int] = ..., limit_in_bytes: _Optional[bool] = ..., description: _Optional[str] = ..., nick_prefix: _Optional[str] = ...) -> None: ...

class SessionFrame(_message.Message):
    __slots__ = ("send", "processed")
    SEND_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_FIELD_NUMBER: _ClassVar[int]
    send: SendRequest
    processed: ProcessedRequest
    def __init__(self, send: _Optional[_Union[SendRequest, _Mapping]] = ..., processed: _Optional[_Union[ProcessedRequest, _Mapping]] = ...) -> None: ...

class BackendEvent(_message.Message):
    __slots__ = ("message", "presence", "room", "reaction", "connected", "shutdown", "sent")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    REACTION_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    SHUTDOWN_FIELD_NUMBER: _ClassVar[int]
    SENT_FIELD_NUMBER: _ClassVar[int]
    message: _common_pb2.Message
    presence: _common_pb2.PresenceEvent
    room: _common_pb2.RoomEvent
    reaction: _common_pb2.ReactionEvent
    connected: _common_pb2.Connected
    shutdown: ShutdownRequest
    sent: SendResult
    def __init__(self, message: _Optional[_Union[_common_pb2.Message, _Mapping]] = ..., presence: _Optional[_Union[_common_pb2.PresenceEvent, _Mapping]] = ..., room: _Optional[_Union[_common_pb2.RoomEvent, _Mapping]] = ..., reaction: _Optional[_Union[_common_pb2.ReactionEvent, _Mapping]] = ..., connected: _Optional[_Union[_common_pb2.Connected, _Mapping]] = ..., shutdown: _Optional[_Union[ShutdownRequest, _Mapping]] = ..., sent: _Optional[_Union[SendResult, _Mapping]] = ...) -> None: ...

class SendResult(_message.Message):
    __slots__ = ("id", "code", "error", "message_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    code: int
    error: str
    message_id: str
    def __init__(self, id: _Optional[int] = ..., code: _Optional[int] = ..., error: _Optional[str] = ..., message_id: _Optional[str] = ...) -> None: ...

class ShutdownRequest(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class SendRequest(_message.Message):
    __slots__ = ("to", "content", "in_reply_to", "thread_id", "id", "ephemeral")
    TO_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    IN_REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_FIELD_NUMBER: _ClassVar[int]
    to: _common_pb2.Identifier
    content: _common_pb2.Content
    in_reply_to: str
    thread_id: str
    id: int
    ephemeral: bool
    def __init__(self, to: _Optional[_Union[_common_pb2.Identifier, _Mapping]] = ..., content: _Optional[_Union[_common_pb2.Content, _Mapping]] = ..., in_reply_to: _Optional[str] = ..., thread_id: _Optional[str] = ..., id: _Optional[int] = ..., ephemeral: _Optional[bool] = ...) -> None: ...

class ProcessedRequest(_message.Message):
    __slots__ = ("message_id", "replies")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REPLIES_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    replies: int
    def __init__(self, message_id: _Optional[str] = ..., replies: _Optional[int] = ...) -> None: ...

class UploadResponse(_message.Message):
    __slots__ = ("message_id",)
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    def __init__(self, message_id: _Optional[str] = ...) -> None: ...

class ReactRequest(_message.Message):
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

class ReactResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SetPresenceRequest(_message.Message):
    __slots__ = ("status", "message")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    status: str
    message: str
    def __init__(self, status: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class SetPresenceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BuildIdentifierRequest(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class ListRoomsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListRoomsResponse(_message.Message):
    __slots__ = ("rooms",)
    ROOMS_FIELD_NUMBER: _ClassVar[int]
    rooms: _containers.RepeatedCompositeFieldContainer[RoomInfo]
    def __init__(self, rooms: _Optional[_Iterable[_Union[RoomInfo, _Mapping]]] = ...) -> None: ...

class RoomInfo(_message.Message):
    __slots__ = ("room", "topic", "has_topic", "occupants")
    ROOM_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    HAS_TOPIC_FIELD_NUMBER: _ClassVar[int]
    OCCUPANTS_FIELD_NUMBER: _ClassVar[int]
    room: _common_pb2.Identifier
    topic: str
    has_topic: bool
    occupants: _containers.RepeatedCompositeFieldContainer[_common_pb2.Identifier]
    def __init__(self, room: _Optional[_Union[_common_pb2.Identifier, _Mapping]] = ..., topic: _Optional[str] = ..., has_topic: _Optional[bool] = ..., occupants: _Optional[_Iterable[_Union[_common_pb2.Identifier, _Mapping]]] = ...) -> None: ...

class JoinRoomRequest(_message.Message):
    __slots__ = ("room", "password")
    ROOM_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    room: str
    password: str
    def __init__(self, room: _Optional[str] = ..., password: _Optional[str] = ...) -> None: ...

class LeaveRoomRequest(_message.Message):
    __slots__ = ("room", "reason")
    ROOM_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    room: str
    reason: str
    def __init__(self, room: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class LeaveRoomResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetRoomRequest(_message.Message):
    __slots__ = ("room",)
    ROOM_FIELD_NUMBER: _ClassVar[int]
    room: str
    def __init__(self, room: _Optional[str] = ...) -> None: ...

class SetRoomTopicRequest(_message.Message):
    __slots__ = ("room", "topic")
    ROOM_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    room: str
    topic: str
    def __init__(self, room: _Optional[str] = ..., topic: _Optional[str] = ...) -> None: ...

class InviteToRoomRequest(_message.Message):
    __slots__ = ("room", "people")
    ROOM_FIELD_NUMBER: _ClassVar[int]
    PEOPLE_FIELD_NUMBER: _ClassVar[int]
    room: str
    people: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, room: _Optional[str] = ..., people: _Optional[_Iterable[str]] = ...) -> None: ...

class InviteToRoomResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DestroyRoomRequest(_message.Message):
    __slots__ = ("room",)
    ROOM_FIELD_NUMBER: _ClassVar[int]
    room: str
    def __init__(self, room: _Optional[str] = ...) -> None: ...

class DestroyRoomResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
