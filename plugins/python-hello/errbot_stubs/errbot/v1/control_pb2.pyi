from errbot.v1 import common_pb2 as _common_pb2
from errbot.v1 import plugin_pb2 as _plugin_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReposAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPOS_ACTION_UNSPECIFIED: _ClassVar[ReposAction]
    REPOS_ACTION_LIST: _ClassVar[ReposAction]
    REPOS_ACTION_SEARCH: _ClassVar[ReposAction]
    REPOS_ACTION_INSTALL: _ClassVar[ReposAction]
    REPOS_ACTION_UNINSTALL: _ClassVar[ReposAction]
    REPOS_ACTION_UPDATE: _ClassVar[ReposAction]

class PluginActionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLUGIN_ACTION_KIND_UNSPECIFIED: _ClassVar[PluginActionKind]
    PLUGIN_ACTION_KIND_ACTIVATE: _ClassVar[PluginActionKind]
    PLUGIN_ACTION_KIND_DEACTIVATE: _ClassVar[PluginActionKind]
    PLUGIN_ACTION_KIND_RELOAD: _ClassVar[PluginActionKind]
    PLUGIN_ACTION_KIND_BLACKLIST: _ClassVar[PluginActionKind]
    PLUGIN_ACTION_KIND_UNBLACKLIST: _ClassVar[PluginActionKind]
REPOS_ACTION_UNSPECIFIED: ReposAction
REPOS_ACTION_LIST: ReposAction
REPOS_ACTION_SEARCH: ReposAction
REPOS_ACTION_INSTALL: ReposAction
REPOS_ACTION_UNINSTALL: ReposAction
REPOS_ACTION_UPDATE: ReposAction
PLUGIN_ACTION_KIND_UNSPECIFIED: PluginActionKind
PLUGIN_ACTION_KIND_ACTIVATE: PluginActionKind
PLUGIN_ACTION_KIND_DEACTIVATE: PluginActionKind
PLUGIN_ACTION_KIND_RELOAD: PluginActionKind
PLUGIN_ACTION_KIND_BLACKLIST: PluginActionKind
PLUGIN_ACTION_KIND_UNBLACKLIST: PluginActionKind

class FlowsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FlowsResponse(_message.Message):
    __slots__ = ("declared", "in_progress")
    DECLARED_FIELD_NUMBER: _ClassVar[int]
    IN_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    declared: _containers.RepeatedCompositeFieldContainer[DeclaredFlow]
    in_progress: _containers.RepeatedCompositeFieldContainer[FlowInProgress]
    def __init__(self, declared: _Optional[_Iterable[_Union[DeclaredFlow, _Mapping]]] = ..., in_progress: _Optional[_Iterable[_Union[FlowInProgress, _Mapping]]] = ...) -> None: ...

class DeclaredFlow(_message.Message):
    __slots__ = ("name", "plugin", "description", "room_flow")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ROOM_FLOW_FIELD_NUMBER: _ClassVar[int]
    name: str
    plugin: str
    description: str
    room_flow: bool
    def __init__(self, name: _Optional[str] = ..., plugin: _Optional[str] = ..., description: _Optional[str] = ..., room_flow: _Optional[bool] = ...) -> None: ...

class FlowInProgress(_message.Message):
    __slots__ = ("flow", "backend", "room", "person", "started_by", "step", "context_json", "last_step")
    FLOW_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    PERSON_FIELD_NUMBER: _ClassVar[int]
    STARTED_BY_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_JSON_FIELD_NUMBER: _ClassVar[int]
    LAST_STEP_FIELD_NUMBER: _ClassVar[int]
    flow: str
    backend: str
    room: str
    person: str
    started_by: str
    step: str
    context_json: str
    last_step: int
    def __init__(self, flow: _Optional[str] = ..., backend: _Optional[str] = ..., room: _Optional[str] = ..., person: _Optional[str] = ..., started_by: _Optional[str] = ..., step: _Optional[str] = ..., context_json: _Optional[str] = ..., last_step: _Optional[int] = ...) -> None: ...

class ReposRequest(_message.Message):
    __slots__ = ("action", "args", "ref")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    action: ReposAction
    args: _containers.RepeatedScalarFieldContainer[str]
    ref: str
    def __init__(self, action: _Optional[_Union[ReposAction, str]] = ..., args: _Optional[_Iterable[str]] = ..., ref: _Optional[str] = ...) -> None: ...

class ReposResponse(_message.Message):
    __slots__ = ("messages", "repos")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    REPOS_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedScalarFieldContainer[str]
    repos: _containers.RepeatedCompositeFieldContainer[RepoEntry]
    def __init__(self, messages: _Optional[_Iterable[str]] = ..., repos: _Optional[_Iterable[_Union[RepoEntry, _Mapping]]] = ...) -> None: ...

class RepoEntry(_message.Message):
    __slots__ = ("name", "url", "installed", "indexed", "description", "plugins")
    NAME_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    INSTALLED_FIELD_NUMBER: _ClassVar[int]
    INDEXED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PLUGINS_FIELD_NUMBER: _ClassVar[int]
    name: str
    url: str
    installed: bool
    indexed: bool
    description: str
    plugins: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., url: _Optional[str] = ..., installed: _Optional[bool] = ..., indexed: _Optional[bool] = ..., description: _Optional[str] = ..., plugins: _Optional[_Iterable[str]] = ...) -> None: ...

class PluginActionRequest(_message.Message):
    __slots__ = ("name", "action")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    action: PluginActionKind
    def __init__(self, name: _Optional[str] = ..., action: _Optional[_Union[PluginActionKind, str]] = ...) -> None: ...

class PluginActionResponse(_message.Message):
    __slots__ = ("message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: str
    def __init__(self, message: _Optional[str] = ...) -> None: ...

class PluginListRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PluginListResponse(_message.Message):
    __slots__ = ("plugins",)
    PLUGINS_FIELD_NUMBER: _ClassVar[int]
    plugins: _containers.RepeatedCompositeFieldContainer[PluginEntry]
    def __init__(self, plugins: _Optional[_Iterable[_Union[PluginEntry, _Mapping]]] = ...) -> None: ...

class PluginEntry(_message.Message):
    __slots__ = ("name", "letter", "state", "note")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LETTER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    name: str
    letter: str
    state: str
    note: str
    def __init__(self, name: _Optional[str] = ..., letter: _Optional[str] = ..., state: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class PluginInfoRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class PluginInfoResponse(_message.Message):
    __slots__ = ("name", "description", "state", "pid", "restarts", "note", "version", "depends_on", "commands", "command_filters", "callbacks", "pollers", "command_specs")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FILTERS_FIELD_NUMBER: _ClassVar[int]
    CALLBACKS_FIELD_NUMBER: _ClassVar[int]
    POLLERS_FIELD_NUMBER: _ClassVar[int]
    COMMAND_SPECS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    state: str
    pid: int
    restarts: int
    note: str
    version: str
    depends_on: _containers.RepeatedScalarFieldContainer[str]
    commands: _containers.RepeatedScalarFieldContainer[str]
    command_filters: _containers.RepeatedCompositeFieldContainer[_plugin_pb2.CommandFilterSpec]
    callbacks: _containers.RepeatedScalarFieldContainer[str]
    pollers: _containers.RepeatedScalarFieldContainer[str]
    command_specs: _containers.RepeatedCompositeFieldContainer[_plugin_pb2.CommandSpec]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., state: _Optional[str] = ..., pid: _Optional[int] = ..., restarts: _Optional[int] = ..., note: _Optional[str] = ..., version: _Optional[str] = ..., depends_on: _Optional[_Iterable[str]] = ..., commands: _Optional[_Iterable[str]] = ..., command_filters: _Optional[_Iterable[_Union[_plugin_pb2.CommandFilterSpec, _Mapping]]] = ..., callbacks: _Optional[_Iterable[str]] = ..., pollers: _Optional[_Iterable[str]] = ..., command_specs: _Optional[_Iterable[_Union[_plugin_pb2.CommandSpec, _Mapping]]] = ...) -> None: ...

class ReloadConfigRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReloadConfigResponse(_message.Message):
    __slots__ = ("file", "applied", "needs_restart", "unchanged", "failed", "notes")
    FILE_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    NEEDS_RESTART_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    file: str
    applied: _containers.RepeatedScalarFieldContainer[str]
    needs_restart: _containers.RepeatedScalarFieldContainer[str]
    unchanged: _containers.RepeatedScalarFieldContainer[str]
    failed: _containers.RepeatedScalarFieldContainer[str]
    notes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, file: _Optional[str] = ..., applied: _Optional[_Iterable[str]] = ..., needs_restart: _Optional[_Iterable[str]] = ..., unchanged: _Optional[_Iterable[str]] = ..., failed: _Optional[_Iterable[str]] = ..., notes: _Optional[_Iterable[str]] = ...) -> None: ...

class LogsRequest(_message.Message):
    __slots__ = ("lines", "follow")
    LINES_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    lines: int
    follow: bool
    def __init__(self, lines: _Optional[int] = ..., follow: _Optional[bool] = ...) -> None: ...

class LogEntry(_message.Message):
    __slots__ = ("line", "dropped")
    LINE_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    line: str
    dropped: int
    def __init__(self, line: _Optional[str] = ..., dropped: _Optional[int] = ...) -> None: ...

class ControlSendRequest(_message.Message):
    __slots__ = ("to", "backend", "text")
    TO_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    to: str
    backend: str
    text: str
    def __init__(self, to: _Optional[str] = ..., backend: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class ControlSendResponse(_message.Message):
    __slots__ = ("message_id", "backend", "to")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    backend: str
    to: _common_pb2.Identifier
    def __init__(self, message_id: _Optional[str] = ..., backend: _Optional[str] = ..., to: _Optional[_Union[_common_pb2.Identifier, _Mapping]] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("version", "pid", "uptime_seconds", "children")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    version: str
    pid: int
    uptime_seconds: int
    children: _containers.RepeatedCompositeFieldContainer[ChildStatus]
    def __init__(self, version: _Optional[str] = ..., pid: _Optional[int] = ..., uptime_seconds: _Optional[int] = ..., children: _Optional[_Iterable[_Union[ChildStatus, _Mapping]]] = ...) -> None: ...

class ChildStatus(_message.Message):
    __slots__ = ("name", "kind", "state", "pid", "uptime_seconds", "restarts", "last_exit")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FIELD_NUMBER: _ClassVar[int]
    LAST_EXIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    state: str
    pid: int
    uptime_seconds: int
    restarts: int
    last_exit: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., state: _Optional[str] = ..., pid: _Optional[int] = ..., uptime_seconds: _Optional[int] = ..., restarts: _Optional[int] = ..., last_exit: _Optional[str] = ...) -> None: ...

class ControlShutdownRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ControlShutdownResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BackupRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BackupResponse(_message.Message):
    __slots__ = ("backup_json", "namespaces", "keys")
    BACKUP_JSON_FIELD_NUMBER: _ClassVar[int]
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    backup_json: str
    namespaces: int
    keys: int
    def __init__(self, backup_json: _Optional[str] = ..., namespaces: _Optional[int] = ..., keys: _Optional[int] = ...) -> None: ...

class RestoreRequest(_message.Message):
    __slots__ = ("backup_json", "force")
    BACKUP_JSON_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    backup_json: str
    force: bool
    def __init__(self, backup_json: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class RestoreResponse(_message.Message):
    __slots__ = ("namespaces", "keys")
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    namespaces: int
    keys: int
    def __init__(self, namespaces: _Optional[int] = ..., keys: _Optional[int] = ...) -> None: ...

class GetNamespaceRequest(_message.Message):
    __slots__ = ("namespace",)
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    def __init__(self, namespace: _Optional[str] = ...) -> None: ...

class NamespaceDocument(_message.Message):
    __slots__ = ("namespace", "object_json")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    OBJECT_JSON_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    object_json: str
    def __init__(self, namespace: _Optional[str] = ..., object_json: _Optional[str] = ...) -> None: ...

class NamespaceWriteResponse(_message.Message):
    __slots__ = ("written", "deleted")
    WRITTEN_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    written: int
    deleted: int
    def __init__(self, written: _Optional[int] = ..., deleted: _Optional[int] = ...) -> None: ...
