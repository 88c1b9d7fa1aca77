from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Level(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEVEL_UNSPECIFIED: _ClassVar[Level]
    LEVEL_DEBUG: _ClassVar[Level]
    LEVEL_INFO: _ClassVar[Level]
    LEVEL_WARN: _ClassVar[Level]
    LEVEL_ERROR: _ClassVar[Level]
LEVEL_UNSPECIFIED: Level
LEVEL_DEBUG: Level
LEVEL_INFO: Level
LEVEL_WARN: Level
LEVEL_ERROR: Level

class Identifier(_message.Message):
    __slots__ = ("backend", "person", "nick", "fullname", "email", "room", "room_name", "client", "acl", "display")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    PERSON_FIELD_NUMBER: _ClassVar[int]
    NICK_FIELD_NUMBER: _ClassVar[int]
    FULLNAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    ROOM_NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    ACL_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_FIELD_NUMBER: _ClassVar[int]
    backend: str
    person: str
    nick: str
    fullname: str
    email: str
    room: str
    room_name: str
    client: str
    acl: str
    display: str
    def __init__(self, backend: _Optional[str] = ..., person: _Optional[str] = ..., nick: _Optional[str] = ..., fullname: _Optional[str] = ..., email: _Optional[str] = ..., room: _Optional[str] = ..., room_name: _Optional[str] = ..., client: _Optional[str] = ..., acl: _Optional[str] = ..., display: _Optional[str] = ...) -> None: ...

class Message(_message.Message):
    __slots__ = ("id", "to", "body", "direct", "thread_id", "delayed", "from_self", "timestamp_ms", "mentions", "extras")
    class ExtrasEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    DIRECT_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    DELAYED_FIELD_NUMBER: _ClassVar[int]
    FROM_SELF_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    MENTIONS_FIELD_NUMBER: _ClassVar[int]
    EXTRAS_FIELD_NUMBER: _ClassVar[int]
    id: str
    to: Identifier
    body: str
    direct: bool
    thread_id: str
    delayed: bool
    from_self: bool
    timestamp_ms: int
    mentions: _containers.RepeatedCompositeFieldContainer[Identifier]
    extras: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., to: _Optional[_Union[Identifier, _Mapping]] = ..., body: _Optional[str] = ..., direct: _Optional[bool] = ..., thread_id: _Optional[str] = ..., delayed: _Optional[bool] = ..., from_self: _Optional[bool] = ..., timestamp_ms: _Optional[int] = ..., mentions: _Optional[_Iterable[_Union[Identifier, _Mapping]]] = ..., extras: _Optional[_Mapping[str, str]] = ..., **kwargs) -> None: ...

class Card(_message.Message):
    __slots__ = ("title", "body", "summary", "link", "image", "thumbnail", "color", "fields")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    THUMBNAIL_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    title: str
    body: str
    summary: str
    link: str
    image: str
    thumbnail: str
    color: str
    fields: _containers.RepeatedCompositeFieldContainer[CardField]
    def __init__(self, title: _Optional[str] = ..., body: _Optional[str] = ..., summary: _Optional[str] = ..., link: _Optional[str] = ..., image: _Optional[str] = ..., thumbnail: _Optional[str] = ..., color: _Optional[str] = ..., fields: _Optional[_Iterable[_Union[CardField, _Mapping]]] = ...) -> None: ...

class CardField(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Content(_message.Message):
    __slots__ = ("markdown", "card", "template")
    MARKDOWN_FIELD_NUMBER: _ClassVar[int]
    CARD_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    markdown: str
    card: Card
    template: Template
    def __init__(self, markdown: _Optional[str] = ..., card: _Optional[_Union[Card, _Mapping]] = ..., template: _Optional[_Union[Template, _Mapping]] = ...) -> None: ...

class Template(_message.Message):
    __slots__ = ("name", "params_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    params_json: str
    def __init__(self, name: _Optional[str] = ..., params_json: _Optional[str] = ...) -> None: ...

class FileHeader(_message.Message):
    __slots__ = ("to", "to_text", "backend", "name", "content_type", "size", "thread_id", "in_reply_to", "comment")
    TO_FIELD_NUMBER: _ClassVar[int]
    TO_TEXT_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    IN_REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    to: Identifier
    to_text: str
    backend: str
    name: str
    content_type: str
    size: int
    thread_id: str
    in_reply_to: str
    comment: str
    def __init__(self, to: _Optional[_Union[Identifier, _Mapping]] = ..., to_text: _Optional[str] = ..., backend: _Optional[str] = ..., name: _Optional[str] = ..., content_type: _Optional[str] = ..., size: _Optional[int] = ..., thread_id: _Optional[str] = ..., in_reply_to: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class FileChunk(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: FileHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[FileHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class PresenceEvent(_message.Message):
    __slots__ = ("who", "status", "message")
    WHO_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    who: Identifier
    status: str
    message: str
    def __init__(self, who: _Optional[_Union[Identifier, _Mapping]] = ..., status: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RoomEvent(_message.Message):
    __slots__ = ("kind", "room", "topic", "who", "by")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[RoomEvent.Kind]
        KIND_JOINED: _ClassVar[RoomEvent.Kind]
        KIND_LEFT: _ClassVar[RoomEvent.Kind]
        KIND_TOPIC: _ClassVar[RoomEvent.Kind]
    KIND_UNSPECIFIED: RoomEvent.Kind
    KIND_JOINED: RoomEvent.Kind
    KIND_LEFT: RoomEvent.Kind
    KIND_TOPIC: RoomEvent.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    WHO_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    kind: RoomEvent.Kind
    room: Identifier
    topic: str
    who: Identifier
    by: Identifier
    def __init__(self, kind: _Optional[_Union[RoomEvent.Kind, str]] = ..., room: _Optional[_Union[Identifier, _Mapping]] = ..., topic: _Optional[str] = ..., who: _Optional[_Union[Identifier, _Mapping]] = ..., by: _Optional[_Union[Identifier, _Mapping]] = ...) -> None: ...

class ReactionEvent(_message.Message):
    __slots__ = ("who", "message_id", "reaction", "added")
    WHO_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REACTION_FIELD_NUMBER: _ClassVar[int]
    ADDED_FIELD_NUMBER: _ClassVar[int]
    who: Identifier
    message_id: str
    reaction: str
    added: bool
    def __init__(self, who: _Optional[_Union[Identifier, _Mapping]] = ..., message_id: _Optional[str] = ..., reaction: _Optional[str] = ..., added: _Optional[bool] = ...) -> None: ...

class Connected(_message.Message):
    __slots__ = ("bot",)
    BOT_FIELD_NUMBER: _ClassVar[int]
    bot: Identifier
    def __init__(self, bot: _Optional[_Union[Identifier, _Mapping]] = ...) -> None: ...
