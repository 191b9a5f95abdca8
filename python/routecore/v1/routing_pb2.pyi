from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RouteRequest(_message.Message):
    __slots__ = ("call_id", "called", "caller", "digits", "time", "explain")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    CALLED_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    DIGITS_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    called: str
    caller: str
    digits: str
    time: str
    explain: bool
    def __init__(self, call_id: _Optional[str] = ..., called: _Optional[str] = ..., caller: _Optional[str] = ..., digits: _Optional[str] = ..., time: _Optional[str] = ..., explain: _Optional[bool] = ...) -> None: ...

class Target(_message.Message):
    __slots__ = ("number", "uri", "ring_seconds", "rate_per_minute")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    RING_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RATE_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    number: str
    uri: str
    ring_seconds: int
    rate_per_minute: float
    def __init__(self, number: _Optional[str] = ..., uri: _Optional[str] = ..., ring_seconds: _Optional[int] = ..., rate_per_minute: _Optional[float] = ...) -> None: ...

class Menu(_message.Message):
    __slots__ = ("id", "prompt", "keys")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    id: str
    prompt: str
    keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., prompt: _Optional[str] = ..., keys: _Optional[_Iterable[str]] = ...) -> None: ...

class Reject(_message.Message):
    __slots__ = ("sip_code", "reason")
    SIP_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    sip_code: int
    reason: str
    def __init__(self, sip_code: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class Display(_message.Message):
    __slots__ = ("name", "tag", "certified")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    CERTIFIED_FIELD_NUMBER: _ClassVar[int]
    name: str
    tag: str
    certified: bool
    def __init__(self, name: _Optional[str] = ..., tag: _Optional[str] = ..., certified: _Optional[bool] = ...) -> None: ...

class Caller(_message.Message):
    __slots__ = ("normalized", "kind", "province", "city", "carrier", "virtual_operator", "country")
    NORMALIZED_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    CARRIER_FIELD_NUMBER: _ClassVar[int]
    VIRTUAL_OPERATOR_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    normalized: str
    kind: str
    province: str
    city: str
    carrier: str
    virtual_operator: bool
    country: str
    def __init__(self, normalized: _Optional[str] = ..., kind: _Optional[str] = ..., province: _Optional[str] = ..., city: _Optional[str] = ..., carrier: _Optional[str] = ..., virtual_operator: _Optional[bool] = ..., country: _Optional[str] = ...) -> None: ...

class CalledClass(_message.Message):
    __slots__ = ("tags",)
    CLASS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tags: _Optional[_Iterable[str]] = ..., **kwargs) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RouteDecision(_message.Message):
    __slots__ = ("call_id", "action", "targets", "parallel", "menu", "prompt", "voicemail_box", "reject", "display", "caller", "called_class", "tenant", "rule", "plan_version", "trace", "error", "uri")
    class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ACTION_UNSPECIFIED: _ClassVar[RouteDecision.Action]
        FORWARD: _ClassVar[RouteDecision.Action]
        MENU: _ClassVar[RouteDecision.Action]
        ANNOUNCE: _ClassVar[RouteDecision.Action]
        VOICEMAIL: _ClassVar[RouteDecision.Action]
        REJECT: _ClassVar[RouteDecision.Action]
    ACTION_UNSPECIFIED: RouteDecision.Action
    FORWARD: RouteDecision.Action
    MENU: RouteDecision.Action
    ANNOUNCE: RouteDecision.Action
    VOICEMAIL: RouteDecision.Action
    REJECT: RouteDecision.Action
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    PARALLEL_FIELD_NUMBER: _ClassVar[int]
    MENU_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    VOICEMAIL_BOX_FIELD_NUMBER: _ClassVar[int]
    REJECT_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    CALLED_CLASS_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    action: RouteDecision.Action
    targets: _containers.RepeatedCompositeFieldContainer[Target]
    parallel: bool
    menu: Menu
    prompt: str
    voicemail_box: str
    reject: Reject
    display: Display
    caller: Caller
    called_class: CalledClass
    tenant: str
    rule: str
    plan_version: str
    trace: _containers.RepeatedScalarFieldContainer[str]
    error: Error
    uri: str
    def __init__(self, call_id: _Optional[str] = ..., action: _Optional[_Union[RouteDecision.Action, str]] = ..., targets: _Optional[_Iterable[_Union[Target, _Mapping]]] = ..., parallel: _Optional[bool] = ..., menu: _Optional[_Union[Menu, _Mapping]] = ..., prompt: _Optional[str] = ..., voicemail_box: _Optional[str] = ..., reject: _Optional[_Union[Reject, _Mapping]] = ..., display: _Optional[_Union[Display, _Mapping]] = ..., caller: _Optional[_Union[Caller, _Mapping]] = ..., called_class: _Optional[_Union[CalledClass, _Mapping]] = ..., tenant: _Optional[str] = ..., rule: _Optional[str] = ..., plan_version: _Optional[str] = ..., trace: _Optional[_Iterable[str]] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., uri: _Optional[str] = ...) -> None: ...

class RouteBatchRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[RouteRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[RouteRequest, _Mapping]]] = ...) -> None: ...

class RouteBatchResponse(_message.Message):
    __slots__ = ("decisions",)
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[RouteDecision]
    def __init__(self, decisions: _Optional[_Iterable[_Union[RouteDecision, _Mapping]]] = ...) -> None: ...

class CallEvent(_message.Message):
    __slots__ = ("call_id", "type", "target", "time", "duration_seconds", "disposition")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        TYPE_UNSPECIFIED: _ClassVar[CallEvent.Type]
        ANSWERED: _ClassVar[CallEvent.Type]
        ENDED: _ClassVar[CallEvent.Type]
    TYPE_UNSPECIFIED: CallEvent.Type
    ANSWERED: CallEvent.Type
    ENDED: CallEvent.Type
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DISPOSITION_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    type: CallEvent.Type
    target: str
    time: str
    duration_seconds: int
    disposition: str
    def __init__(self, call_id: _Optional[str] = ..., type: _Optional[_Union[CallEvent.Type, str]] = ..., target: _Optional[str] = ..., time: _Optional[str] = ..., duration_seconds: _Optional[int] = ..., disposition: _Optional[str] = ...) -> None: ...

class CallEventAck(_message.Message):
    __slots__ = ("call_id", "type", "recorded", "duplicate")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    type: CallEvent.Type
    recorded: bool
    duplicate: bool
    def __init__(self, call_id: _Optional[str] = ..., type: _Optional[_Union[CallEvent.Type, str]] = ..., recorded: _Optional[bool] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class ReloadPlanRequest(_message.Message):
    __slots__ = ("path", "text")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    path: str
    text: str
    def __init__(self, path: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class PlanProblem(_message.Message):
    __slots__ = ("file", "line", "path", "message")
    FILE_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    file: str
    line: int
    path: str
    message: str
    def __init__(self, file: _Optional[str] = ..., line: _Optional[int] = ..., path: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ReloadPlanResponse(_message.Message):
    __slots__ = ("version", "reloaded", "previous_version", "errors")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RELOADED_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    version: str
    reloaded: bool
    previous_version: str
    errors: _containers.RepeatedCompositeFieldContainer[PlanProblem]
    def __init__(self, version: _Optional[str] = ..., reloaded: _Optional[bool] = ..., previous_version: _Optional[str] = ..., errors: _Optional[_Iterable[_Union[PlanProblem, _Mapping]]] = ...) -> None: ...

class GetPlanRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PlanInfo(_message.Message):
    __slots__ = ("version", "source", "checksum", "timezone", "gateway", "numbers", "tenants", "lists", "groups", "menus")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    NUMBERS_FIELD_NUMBER: _ClassVar[int]
    TENANTS_FIELD_NUMBER: _ClassVar[int]
    LISTS_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    MENUS_FIELD_NUMBER: _ClassVar[int]
    version: str
    source: str
    checksum: str
    timezone: str
    gateway: str
    numbers: int
    tenants: int
    lists: int
    groups: int
    menus: int
    def __init__(self, version: _Optional[str] = ..., source: _Optional[str] = ..., checksum: _Optional[str] = ..., timezone: _Optional[str] = ..., gateway: _Optional[str] = ..., numbers: _Optional[int] = ..., tenants: _Optional[int] = ..., lists: _Optional[int] = ..., groups: _Optional[int] = ..., menus: _Optional[int] = ...) -> None: ...

class UpdateListRequest(_message.Message):
    __slots__ = ("name", "add", "remove")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADD_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    name: str
    add: _containers.RepeatedScalarFieldContainer[str]
    remove: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., add: _Optional[_Iterable[str]] = ..., remove: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateListResponse(_message.Message):
    __slots__ = ("name", "size", "added", "removed")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ADDED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    name: str
    size: int
    added: int
    removed: int
    def __init__(self, name: _Optional[str] = ..., size: _Optional[int] = ..., added: _Optional[int] = ..., removed: _Optional[int] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Stats(_message.Message):
    __slots__ = ("started", "decisions", "errors", "by_action", "by_tenant", "by_reason", "by_error", "plan_version")
    class ByActionEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class ByTenantEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class ByReasonEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class ByErrorEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    STARTED_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    BY_ACTION_FIELD_NUMBER: _ClassVar[int]
    BY_TENANT_FIELD_NUMBER: _ClassVar[int]
    BY_REASON_FIELD_NUMBER: _ClassVar[int]
    BY_ERROR_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    started: int
    decisions: int
    errors: int
    by_action: _containers.ScalarMap[str, int]
    by_tenant: _containers.ScalarMap[str, int]
    by_reason: _containers.ScalarMap[str, int]
    by_error: _containers.ScalarMap[str, int]
    plan_version: str
    def __init__(self, started: _Optional[int] = ..., decisions: _Optional[int] = ..., errors: _Optional[int] = ..., by_action: _Optional[_Mapping[str, int]] = ..., by_tenant: _Optional[_Mapping[str, int]] = ..., by_reason: _Optional[_Mapping[str, int]] = ..., by_error: _Optional[_Mapping[str, int]] = ..., plan_version: _Optional[str] = ...) -> None: ...
