from errbot.v1 import common_pb2 as _common_pb2
from errbot.v1 import control_pb2 as _control_pb2
from errbot.v1 import plugin_pb2 as _plugin_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SetDynamicPluginsRequest(_message.Message):
    __slots__ = ("plugins",)
    PLUGINS_FIELD_NUMBER: _ClassVar[int]
    plugins: _containers.RepeatedCompositeFieldContainer[_plugin_pb2.PluginDescription]
    def __init__(self, plugins: _Optional[_Iterable[_Union[_plugin_pb2.PluginDescription, _Mapping]]] = ...) -> None: ...

class SetDynamicPluginsResponse(_message.Message):
    __slots__ = ("warnings",)
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class BotStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BotStatusResponse(_message.Message):
    __slots__ = ("uptime_seconds", "started_at_ms", "version", "plugins", "children")
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PLUGINS_FIELD_NUMBER: _ClassVar[int]
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    uptime_seconds: int
    started_at_ms: int
    version: str
    plugins: _containers.RepeatedCompositeFieldContainer[_control_pb2.PluginEntry]
    children: _containers.RepeatedCompositeFieldContainer[_control_pb2.ChildStatus]
    def __init__(self, uptime_seconds: _Optional[int] = ..., started_at_ms: _Optional[int] = ..., version: _Optional[str] = ..., plugins: _Optional[_Iterable[_Union[_control_pb2.PluginEntry, _Mapping]]] = ..., children: _Optional[_Iterable[_Union[_control_pb2.ChildStatus, _Mapping]]] = ...) -> None: ...

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

class StartPollerRequest(_message.Message):
    __slots__ = ("method", "interval_secs", "times", "args_json")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_SECS_FIELD_NUMBER: _ClassVar[int]
    TIMES_FIELD_NUMBER: _ClassVar[int]
    ARGS_JSON_FIELD_NUMBER: _ClassVar[int]
    method: str
    interval_secs: float
    times: int
    args_json: str
    def __init__(self, method: _Optional[str] = ..., interval_secs: _Optional[float] = ..., times: _Optional[int] = ..., args_json: _Optional[str] = ...) -> None: ...

class StartPollerResponse(_message.Message):
    __slots__ = ("already_running",)
    ALREADY_RUNNING_FIELD_NUMBER: _ClassVar[int]
    already_running: bool
    def __init__(self, already_running: _Optional[bool] = ...) -> None: ...

class StopPollerRequest(_message.Message):
    __slots__ = ("method", "args_json")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    ARGS_JSON_FIELD_NUMBER: _ClassVar[int]
    method: str
    args_json: str
    def __init__(self, method: _Optional[str] = ..., args_json: _Optional[str] = ...) -> None: ...

class StopPollerResponse(_message.Message):
    __slots__ = ("stopped",)
    STOPPED_FIELD_NUMBER: _ClassVar[int]
    stopped: bool
    def __init__(self, stopped: _Optional[bool] = ...) -> None: ...

class ListPollersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPollersResponse(_message.Message):
    __slots__ = ("pollers",)
    POLLERS_FIELD_NUMBER: _ClassVar[int]
    pollers: _containers.RepeatedCompositeFieldContainer[PollerInfo]
    def __init__(self, pollers: _Optional[_Iterable[_Union[PollerInfo, _Mapping]]] = ...) -> None: ...

class PollerInfo(_message.Message):
    __slots__ = ("plugin", "method", "args_json", "interval_secs", "times", "ticks", "failures", "last_error", "next_in_secs", "running")
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    ARGS_JSON_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_SECS_FIELD_NUMBER: _ClassVar[int]
    TIMES_FIELD_NUMBER: _ClassVar[int]
    TICKS_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    NEXT_IN_SECS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    plugin: str
    method: str
    args_json: str
    interval_secs: float
    times: int
    ticks: int
    failures: int
    last_error: str
    next_in_secs: float
    running: bool
    def __init__(self, plugin: _Optional[str] = ..., method: _Optional[str] = ..., args_json: _Optional[str] = ..., interval_secs: _Optional[float] = ..., times: _Optional[int] = ..., ticks: _Optional[int] = ..., failures: _Optional[int] = ..., last_error: _Optional[str] = ..., next_in_secs: _Optional[float] = ..., running: _Optional[bool] = ...) -> None: ...
