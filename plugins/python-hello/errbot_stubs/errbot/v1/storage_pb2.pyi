from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StorageGetRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class StorageGetResponse(_message.Message):
    __slots__ = ("found", "value_json", "version")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    VALUE_JSON_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    found: bool
    value_json: str
    version: int
    def __init__(self, found: _Optional[bool] = ..., value_json: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class StorageSetRequest(_message.Message):
    __slots__ = ("key", "value_json", "if_version")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_JSON_FIELD_NUMBER: _ClassVar[int]
    IF_VERSION_FIELD_NUMBER: _ClassVar[int]
    key: str
    value_json: str
    if_version: int
    def __init__(self, key: _Optional[str] = ..., value_json: _Optional[str] = ..., if_version: _Optional[int] = ...) -> None: ...

class StorageSetResponse(_message.Message):
    __slots__ = ("written", "version", "current_json")
    WRITTEN_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CURRENT_JSON_FIELD_NUMBER: _ClassVar[int]
    written: bool
    version: int
    current_json: str
    def __init__(self, written: _Optional[bool] = ..., version: _Optional[int] = ..., current_json: _Optional[str] = ...) -> None: ...

class StorageDeleteRequest(_message.Message):
    __slots__ = ("key", "if_version")
    KEY_FIELD_NUMBER: _ClassVar[int]
    IF_VERSION_FIELD_NUMBER: _ClassVar[int]
    key: str
    if_version: int
    def __init__(self, key: _Optional[str] = ..., if_version: _Optional[int] = ...) -> None: ...

class StorageDeleteResponse(_message.Message):
    __slots__ = ("deleted", "version")
    DELETED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    version: int
    def __init__(self, deleted: _Optional[bool] = ..., version: _Optional[int] = ...) -> None: ...

class StorageKeysRequest(_message.Message):
    __slots__ = ("prefix",)
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    def __init__(self, prefix: _Optional[str] = ...) -> None: ...

class StorageKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, keys: _Optional[_Iterable[str]] = ...) -> None: ...

class StorageChange(_message.Message):
    __slots__ = ("seq", "watching", "key", "rewritten")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    WATCHING_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    REWRITTEN_FIELD_NUMBER: _ClassVar[int]
    seq: int
    watching: StorageWatching
    key: StorageKeyChanged
    rewritten: StorageNamespaceRewritten
    def __init__(self, seq: _Optional[int] = ..., watching: _Optional[_Union[StorageWatching, _Mapping]] = ..., key: _Optional[_Union[StorageKeyChanged, _Mapping]] = ..., rewritten: _Optional[_Union[StorageNamespaceRewritten, _Mapping]] = ...) -> None: ...

class StorageWatching(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StorageKeyChanged(_message.Message):
    __slots__ = ("key", "version")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    key: str
    version: int
    def __init__(self, key: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class StorageNamespaceRewritten(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StorageWatchAck(_message.Message):
    __slots__ = ("seq",)
    SEQ_FIELD_NUMBER: _ClassVar[int]
    seq: int
    def __init__(self, seq: _Optional[int] = ...) -> None: ...
