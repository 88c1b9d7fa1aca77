from errbot.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PluginCallOp(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLUGIN_CALL_OP_UNSPECIFIED: _ClassVar[PluginCallOp]
    PLUGIN_CALL_OP_GET: _ClassVar[PluginCallOp]
    PLUGIN_CALL_OP_CALL: _ClassVar[PluginCallOp]

class ArgMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ARG_MODE_RAW: _ClassVar[ArgMode]
    ARG_MODE_SPLIT: _ClassVar[ArgMode]
    ARG_MODE_SHELL: _ClassVar[ArgMode]

class ParamType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARAM_TYPE_STRING: _ClassVar[ParamType]
    PARAM_TYPE_INTEGER: _ClassVar[ParamType]
    PARAM_TYPE_FLOAT: _ClassVar[ParamType]
    PARAM_TYPE_BOOLEAN: _ClassVar[ParamType]

class ParamKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARAM_KIND_POSITIONAL: _ClassVar[ParamKind]
    PARAM_KIND_OPTION: _ClassVar[ParamKind]
    PARAM_KIND_FLAG: _ClassVar[ParamKind]

class Callback(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CALLBACK_UNSPECIFIED: _ClassVar[Callback]
    CALLBACK_CONNECT: _ClassVar[Callback]
    CALLBACK_MESSAGE: _ClassVar[Callback]
    CALLBACK_MENTION: _ClassVar[Callback]
    CALLBACK_PRESENCE: _ClassVar[Callback]
    CALLBACK_REACTION: _ClassVar[Callback]
    CALLBACK_ROOM_JOINED: _ClassVar[Callback]
    CALLBACK_ROOM_LEFT: _ClassVar[Callback]
    CALLBACK_ROOM_TOPIC: _ClassVar[Callback]
    CALLBACK_BOT_MESSAGE: _ClassVar[Callback]
    CALLBACK_UNHANDLED: _ClassVar[Callback]
PLUGIN_CALL_OP_UNSPECIFIED: PluginCallOp
PLUGIN_CALL_OP_GET: PluginCallOp
PLUGIN_CALL_OP_CALL: PluginCallOp
ARG_MODE_RAW: ArgMode
ARG_MODE_SPLIT: ArgMode
ARG_MODE_SHELL: ArgMode
PARAM_TYPE_STRING: ParamType
PARAM_TYPE_INTEGER: ParamType
PARAM_TYPE_FLOAT: ParamType
PARAM_TYPE_BOOLEAN: ParamType
PARAM_KIND_POSITIONAL: ParamKind
PARAM_KIND_OPTION: ParamKind
PARAM_KIND_FLAG: ParamKind
CALLBACK_UNSPECIFIED: Callback
CALLBACK_CONNECT: Callback
CALLBACK_MESSAGE: Callback
CALLBACK_MENTION: Callback
CALLBACK_PRESENCE: Callback
CALLBACK_REACTION: Callback
CALLBACK_ROOM_JOINED: Callback
CALLBACK_ROOM_LEFT: Callback
CALLBACK_ROOM_TOPIC: Callback
CALLBACK_BOT_MESSAGE: Callback
CALLBACK_UNHANDLED: Callback

class PluginCallRequest(_message.Message):
    __slots__ = ("plugin", "name", "op", "encoding", "payload")
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    plugin: str
    name: str
    op: PluginCallOp
    encoding: str
    payload: bytes
    def __init__(self, plugin: _Optional[str] = ..., name: _Optional[str] = ..., op: _Optional[_Union[PluginCallOp, str]] = ..., encoding: _Optional[str] = ..., payload: _Optional[bytes] = ...) -> None: ...

class PluginCallResponse(_message.Message):
    __slots__ = ("payload", "callable", "error")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    CALLABLE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    callable: bool
    error: str
    def __init__(self, payload: _Optional[bytes] = ..., callable: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class DescribeRequest(_message.Message):
    __slots__ = ("protocol_versions",)
    PROTOCOL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    protocol_versions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, protocol_versions: _Optional[_Iterable[str]] = ...) -> None: ...

class PluginDescription(_message.Message):
    __slots__ = ("name", "description", "version", "protocol_version", "commands", "callbacks", "config_template_json", "depends_on", "webhooks", "command_filters", "flows", "checks_own_shape", "serves_session")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    CALLBACKS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_TEMPLATE_JSON_FIELD_NUMBER: _ClassVar[int]
    DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
    WEBHOOKS_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FILTERS_FIELD_NUMBER: _ClassVar[int]
    FLOWS_FIELD_NUMBER: _ClassVar[int]
    CHECKS_OWN_SHAPE_FIELD_NUMBER: _ClassVar[int]
    SERVES_SESSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    version: str
    protocol_version: str
    commands: _containers.RepeatedCompositeFieldContainer[CommandSpec]
    callbacks: _containers.RepeatedScalarFieldContainer[Callback]
    config_template_json: str
    depends_on: _containers.RepeatedScalarFieldContainer[str]
    webhooks: _containers.RepeatedCompositeFieldContainer[WebhookSpec]
    command_filters: _containers.RepeatedCompositeFieldContainer[CommandFilterSpec]
    flows: _containers.RepeatedCompositeFieldContainer[FlowSpec]
    checks_own_shape: bool
    serves_session: bool
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., version: _Optional[str] = ..., protocol_version: _Optional[str] = ..., commands: _Optional[_Iterable[_Union[CommandSpec, _Mapping]]] = ..., callbacks: _Optional[_Iterable[_Union[Callback, str]]] = ..., config_template_json: _Optional[str] = ..., depends_on: _Optional[_Iterable[str]] = ..., webhooks: _Optional[_Iterable[_Union[WebhookSpec, _Mapping]]] = ..., command_filters: _Optional[_Iterable[_Union[CommandFilterSpec, _Mapping]]] = ..., flows: _Optional[_Iterable[_Union[FlowSpec, _Mapping]]] = ..., checks_own_shape: _Optional[bool] = ..., serves_session: _Optional[bool] = ...) -> None: ...

class FlowSpec(_message.Message):
    __slots__ = ("name", "description", "nodes", "edges", "room_flow")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    ROOM_FLOW_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    nodes: _containers.RepeatedCompositeFieldContainer[FlowNode]
    edges: _containers.RepeatedCompositeFieldContainer[FlowEdge]
    room_flow: bool
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., nodes: _Optional[_Iterable[_Union[FlowNode, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[FlowEdge, _Mapping]]] = ..., room_flow: _Optional[bool] = ...) -> None: ...

class FlowNode(_message.Message):
    __slots__ = ("command", "end", "no_hints")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    NO_HINTS_FIELD_NUMBER: _ClassVar[int]
    command: str
    end: bool
    no_hints: bool
    def __init__(self, command: _Optional[str] = ..., end: _Optional[bool] = ..., no_hints: _Optional[bool] = ...) -> None: ...

class FlowEdge(_message.Message):
    __slots__ = ("to", "predicate", "always", "auto_trigger")
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    PREDICATE_FIELD_NUMBER: _ClassVar[int]
    ALWAYS_FIELD_NUMBER: _ClassVar[int]
    AUTO_TRIGGER_FIELD_NUMBER: _ClassVar[int]
    to: int
    predicate: str
    always: bool
    auto_trigger: bool
    def __init__(self, to: _Optional[int] = ..., predicate: _Optional[str] = ..., always: _Optional[bool] = ..., auto_trigger: _Optional[bool] = ..., **kwargs) -> None: ...

class FlowPredicateRequest(_message.Message):
    __slots__ = ("flow", "predicate", "context_json")
    FLOW_FIELD_NUMBER: _ClassVar[int]
    PREDICATE_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_JSON_FIELD_NUMBER: _ClassVar[int]
    flow: str
    predicate: str
    context_json: str
    def __init__(self, flow: _Optional[str] = ..., predicate: _Optional[str] = ..., context_json: _Optional[str] = ...) -> None: ...

class FlowPredicateResponse(_message.Message):
    __slots__ = ("holds",)
    HOLDS_FIELD_NUMBER: _ClassVar[int]
    holds: bool
    def __init__(self, holds: _Optional[bool] = ...) -> None: ...

class CommandFilterSpec(_message.Message):
    __slots__ = ("name", "help", "catch_unprocessed")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HELP_FIELD_NUMBER: _ClassVar[int]
    CATCH_UNPROCESSED_FIELD_NUMBER: _ClassVar[int]
    name: str
    help: str
    catch_unprocessed: bool
    def __init__(self, name: _Optional[str] = ..., help: _Optional[str] = ..., catch_unprocessed: _Optional[bool] = ...) -> None: ...

class ParamSpec(_message.Message):
    __slots__ = ("name", "help", "type", "kind", "required", "multiple", "long", "short", "choices", "default_value", "rest")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HELP_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    MULTIPLE_FIELD_NUMBER: _ClassVar[int]
    LONG_FIELD_NUMBER: _ClassVar[int]
    SHORT_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    REST_FIELD_NUMBER: _ClassVar[int]
    name: str
    help: str
    type: ParamType
    kind: ParamKind
    required: bool
    multiple: bool
    long: str
    short: str
    choices: _containers.RepeatedScalarFieldContainer[str]
    default_value: str
    rest: bool
    def __init__(self, name: _Optional[str] = ..., help: _Optional[str] = ..., type: _Optional[_Union[ParamType, str]] = ..., kind: _Optional[_Union[ParamKind, str]] = ..., required: _Optional[bool] = ..., multiple: _Optional[bool] = ..., long: _Optional[str] = ..., short: _Optional[str] = ..., choices: _Optional[_Iterable[str]] = ..., default_value: _Optional[str] = ..., rest: _Optional[bool] = ...) -> None: ...

class PlainCommand(_message.Message):
    __slots__ = ("arg_mode", "separator", "max_split", "params")
    ARG_MODE_FIELD_NUMBER: _ClassVar[int]
    SEPARATOR_FIELD_NUMBER: _ClassVar[int]
    MAX_SPLIT_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    arg_mode: ArgMode
    separator: str
    max_split: int
    params: _containers.RepeatedCompositeFieldContainer[ParamSpec]
    def __init__(self, arg_mode: _Optional[_Union[ArgMode, str]] = ..., separator: _Optional[str] = ..., max_split: _Optional[int] = ..., params: _Optional[_Iterable[_Union[ParamSpec, _Mapping]]] = ...) -> None: ...

class RegexCommand(_message.Message):
    __slots__ = ("pattern", "case_insensitive", "dot_all", "multi_line", "match_all", "prefixed")
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    CASE_INSENSITIVE_FIELD_NUMBER: _ClassVar[int]
    DOT_ALL_FIELD_NUMBER: _ClassVar[int]
    MULTI_LINE_FIELD_NUMBER: _ClassVar[int]
    MATCH_ALL_FIELD_NUMBER: _ClassVar[int]
    PREFIXED_FIELD_NUMBER: _ClassVar[int]
    pattern: str
    case_insensitive: bool
    dot_all: bool
    multi_line: bool
    match_all: bool
    prefixed: bool
    def __init__(self, pattern: _Optional[str] = ..., case_insensitive: _Optional[bool] = ..., dot_all: _Optional[bool] = ..., multi_line: _Optional[bool] = ..., match_all: _Optional[bool] = ..., prefixed: _Optional[bool] = ...) -> None: ...

class CommandSpec(_message.Message):
    __slots__ = ("name", "help", "hidden", "admin_only", "historize", "flow_only", "syntax", "plain", "regex", "template")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HELP_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_FIELD_NUMBER: _ClassVar[int]
    ADMIN_ONLY_FIELD_NUMBER: _ClassVar[int]
    HISTORIZE_FIELD_NUMBER: _ClassVar[int]
    FLOW_ONLY_FIELD_NUMBER: _ClassVar[int]
    SYNTAX_FIELD_NUMBER: _ClassVar[int]
    PLAIN_FIELD_NUMBER: _ClassVar[int]
    REGEX_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    help: str
    hidden: bool
    admin_only: bool
    historize: bool
    flow_only: bool
    syntax: str
    plain: PlainCommand
    regex: RegexCommand
    template: str
    def __init__(self, name: _Optional[str] = ..., help: _Optional[str] = ..., hidden: _Optional[bool] = ..., admin_only: _Optional[bool] = ..., historize: _Optional[bool] = ..., flow_only: _Optional[bool] = ..., syntax: _Optional[str] = ..., plain: _Optional[_Union[PlainCommand, _Mapping]] = ..., regex: _Optional[_Union[RegexCommand, _Mapping]] = ..., template: _Optional[str] = ...) -> None: ...

class WebhookSpec(_message.Message):
    __slots__ = ("name", "uri_rule", "methods", "body")
    NAME_FIELD_NUMBER: _ClassVar[int]
    URI_RULE_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    name: str
    uri_rule: str
    methods: _containers.RepeatedScalarFieldContainer[str]
    body: str
    def __init__(self, name: _Optional[str] = ..., uri_rule: _Optional[str] = ..., methods: _Optional[_Iterable[str]] = ..., body: _Optional[str] = ...) -> None: ...

class WebhookRequest(_message.Message):
    __slots__ = ("webhook", "method", "path", "params", "query", "headers", "body", "body_json", "remote")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class QueryEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    BODY_JSON_FIELD_NUMBER: _ClassVar[int]
    REMOTE_FIELD_NUMBER: _ClassVar[int]
    webhook: str
    method: str
    path: str
    params: _containers.ScalarMap[str, str]
    query: _containers.ScalarMap[str, str]
    headers: _containers.ScalarMap[str, str]
    body: bytes
    body_json: str
    remote: str
    def __init__(self, webhook: _Optional[str] = ..., method: _Optional[str] = ..., path: _Optional[str] = ..., params: _Optional[_Mapping[str, str]] = ..., query: _Optional[_Mapping[str, str]] = ..., headers: _Optional[_Mapping[str, str]] = ..., body: _Optional[bytes] = ..., body_json: _Optional[str] = ..., remote: _Optional[str] = ...) -> None: ...

class WebhookResponse(_message.Message):
    __slots__ = ("status", "headers", "body")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    status: int
    headers: _containers.ScalarMap[str, str]
    body: bytes
    def __init__(self, status: _Optional[int] = ..., headers: _Optional[_Mapping[str, str]] = ..., body: _Optional[bytes] = ...) -> None: ...

class ConfigRequest(_message.Message):
    __slots__ = ("config_json",)
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    config_json: str
    def __init__(self, config_json: _Optional[str] = ...) -> None: ...

class CheckConfigResponse(_message.Message):
    __slots__ = ("error",)
    ERROR_FIELD_NUMBER: _ClassVar[int]
    error: str
    def __init__(self, error: _Optional[str] = ...) -> None: ...

class ActivateRequest(_message.Message):
    __slots__ = ("config_json", "bot_prefix")
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    BOT_PREFIX_FIELD_NUMBER: _ClassVar[int]
    config_json: str
    bot_prefix: str
    def __init__(self, config_json: _Optional[str] = ..., bot_prefix: _Optional[str] = ...) -> None: ...

class ActivateResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeactivateRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeactivateResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RegexMatch(_message.Message):
    __slots__ = ("text", "groups", "named")
    class NamedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TEXT_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    NAMED_FIELD_NUMBER: _ClassVar[int]
    text: str
    groups: _containers.RepeatedScalarFieldContainer[str]
    named: _containers.ScalarMap[str, str]
    def __init__(self, text: _Optional[str] = ..., groups: _Optional[_Iterable[str]] = ..., named: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ParamValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class ExecuteRequest(_message.Message):
    __slots__ = ("command", "message", "args", "argv", "params", "matches", "invocation_id", "sender_is_admin", "flow", "plugin")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: ParamValues
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[ParamValues, _Mapping]] = ...) -> None: ...
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    ARGV_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    INVOCATION_ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_IS_ADMIN_FIELD_NUMBER: _ClassVar[int]
    FLOW_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    command: str
    message: _common_pb2.Message
    args: str
    argv: _containers.RepeatedScalarFieldContainer[str]
    params: _containers.MessageMap[str, ParamValues]
    matches: _containers.RepeatedCompositeFieldContainer[RegexMatch]
    invocation_id: str
    sender_is_admin: bool
    flow: FlowStep
    plugin: str
    def __init__(self, command: _Optional[str] = ..., message: _Optional[_Union[_common_pb2.Message, _Mapping]] = ..., args: _Optional[str] = ..., argv: _Optional[_Iterable[str]] = ..., params: _Optional[_Mapping[str, ParamValues]] = ..., matches: _Optional[_Iterable[_Union[RegexMatch, _Mapping]]] = ..., invocation_id: _Optional[str] = ..., sender_is_admin: _Optional[bool] = ..., flow: _Optional[_Union[FlowStep, _Mapping]] = ..., plugin: _Optional[str] = ...) -> None: ...

class PluginSessionFrame(_message.Message):
    __slots__ = ("call", "execute", "cancel")
    CALL_FIELD_NUMBER: _ClassVar[int]
    EXECUTE_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    call: int
    execute: ExecuteRequest
    cancel: CancelCall
    def __init__(self, call: _Optional[int] = ..., execute: _Optional[_Union[ExecuteRequest, _Mapping]] = ..., cancel: _Optional[_Union[CancelCall, _Mapping]] = ...) -> None: ...

class CancelCall(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PluginSessionEvent(_message.Message):
    __slots__ = ("call", "reply", "end")
    CALL_FIELD_NUMBER: _ClassVar[int]
    REPLY_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    call: int
    reply: Reply
    end: CallEnd
    def __init__(self, call: _Optional[int] = ..., reply: _Optional[_Union[Reply, _Mapping]] = ..., end: _Optional[_Union[CallEnd, _Mapping]] = ...) -> None: ...

class CallEnd(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class FlowStep(_message.Message):
    __slots__ = ("name", "context_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    context_json: str
    def __init__(self, name: _Optional[str] = ..., context_json: _Optional[str] = ...) -> None: ...

class Reply(_message.Message):
    __slots__ = ("content", "error", "private", "thread", "flow_context_json", "ephemeral")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_FIELD_NUMBER: _ClassVar[int]
    THREAD_FIELD_NUMBER: _ClassVar[int]
    FLOW_CONTEXT_JSON_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_FIELD_NUMBER: _ClassVar[int]
    content: _common_pb2.Content
    error: bool
    private: bool
    thread: bool
    flow_context_json: str
    ephemeral: bool
    def __init__(self, content: _Optional[_Union[_common_pb2.Content, _Mapping]] = ..., error: _Optional[bool] = ..., private: _Optional[bool] = ..., thread: _Optional[bool] = ..., flow_context_json: _Optional[str] = ..., ephemeral: _Optional[bool] = ...) -> None: ...

class EventRequest(_message.Message):
    __slots__ = ("callback", "message", "subject", "detail", "backend", "presence", "reaction", "room", "bot")
    CALLBACK_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    REACTION_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    BOT_FIELD_NUMBER: _ClassVar[int]
    callback: Callback
    message: _common_pb2.Message
    subject: _common_pb2.Identifier
    detail: str
    backend: str
    presence: _common_pb2.PresenceEvent
    reaction: _common_pb2.ReactionEvent
    room: _common_pb2.RoomEvent
    bot: _common_pb2.Identifier
    def __init__(self, callback: _Optional[_Union[Callback, str]] = ..., message: _Optional[_Union[_common_pb2.Message, _Mapping]] = ..., subject: _Optional[_Union[_common_pb2.Identifier, _Mapping]] = ..., detail: _Optional[str] = ..., backend: _Optional[str] = ..., presence: _Optional[_Union[_common_pb2.PresenceEvent, _Mapping]] = ..., reaction: _Optional[_Union[_common_pb2.ReactionEvent, _Mapping]] = ..., room: _Optional[_Union[_common_pb2.RoomEvent, _Mapping]] = ..., bot: _Optional[_Union[_common_pb2.Identifier, _Mapping]] = ...) -> None: ...

class EventResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FilterRequest(_message.Message):
    __slots__ = ("filter", "message", "plugin", "command", "args", "sender_is_admin", "regex", "unprocessed")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    SENDER_IS_ADMIN_FIELD_NUMBER: _ClassVar[int]
    REGEX_FIELD_NUMBER: _ClassVar[int]
    UNPROCESSED_FIELD_NUMBER: _ClassVar[int]
    filter: str
    message: _common_pb2.Message
    plugin: str
    command: str
    args: str
    sender_is_admin: bool
    regex: bool
    unprocessed: bool
    def __init__(self, filter: _Optional[str] = ..., message: _Optional[_Union[_common_pb2.Message, _Mapping]] = ..., plugin: _Optional[str] = ..., command: _Optional[str] = ..., args: _Optional[str] = ..., sender_is_admin: _Optional[bool] = ..., regex: _Optional[bool] = ..., unprocessed: _Optional[bool] = ...) -> None: ...

class FilterResponse(_message.Message):
    __slots__ = ("action", "command", "args", "reply")
    class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ACTION_CONTINUE: _ClassVar[FilterResponse.Action]
        ACTION_BLOCK: _ClassVar[FilterResponse.Action]
    ACTION_CONTINUE: FilterResponse.Action
    ACTION_BLOCK: FilterResponse.Action
    ACTION_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    REPLY_FIELD_NUMBER: _ClassVar[int]
    action: FilterResponse.Action
    command: str
    args: str
    reply: str
    def __init__(self, action: _Optional[_Union[FilterResponse.Action, str]] = ..., command: _Optional[str] = ..., args: _Optional[str] = ..., reply: _Optional[str] = ...) -> None: ...

class PollRequest(_message.Message):
    __slots__ = ("method", "args_json", "tick")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    ARGS_JSON_FIELD_NUMBER: _ClassVar[int]
    TICK_FIELD_NUMBER: _ClassVar[int]
    method: str
    args_json: str
    tick: int
    def __init__(self, method: _Optional[str] = ..., args_json: _Optional[str] = ..., tick: _Optional[int] = ...) -> None: ...

class PollResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
