"""Loading a plan: read, validate (model, then whole-plan checks), locate every problem, checksum."""

from __future__ import annotations

import hashlib
import json
import os
import re
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from yaml.nodes import ScalarNode  # type: ignore[import-untyped]

from routecore.exceptions import PlanError
from routecore.plan import _yaml
from routecore.plan.checks import Findings, RawIssue, check_plan_data, default_missing_years
from routecore.plan.models import Hours, Plan, Reject
from routecore.plan.places import PlacesSource, resolve_places

Source = str | bytes | os.PathLike[str] | Mapping[str, Any]


@dataclass(frozen=True)
class PlanIssue:
    """One problem: the file, the 1-based line (None when unknown), the path of keys, and what."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


@dataclass(frozen=True)
class LoadedPlan:
    """A plan that passed every check, with what the engine needs to compile it."""

    model: Plan
    source: Path | None  # the plan file, when read from one
    base_dir: Path  # list files are relative to it
    text: str  # the plan text as read (canonical JSON for a dict)
    list_texts: dict[str, str]  # file lists' contents by list name
    list_sizes: dict[str, int]  # entries of every list by name
    checksum: str  # the plan version: sha256 of the text and every list file, 16 hex digits
    warnings: list[PlanIssue] = field(default_factory=list)

    @property
    def shown_source(self) -> str:
        """The plan's file, or for a plan not read from one `<text>` or `<demo plan>` (the
        pseudo-file's name, without the folder its list files are read from)."""
        if self.source is None:
            return "<text>"
        name = self.source.name
        return name if name.startswith("<") and name.endswith(">") else str(self.source)

    def to_engine_json(self) -> bytes:
        """The plan in plan-format shape with every default filled, for the Rust compiler.

        Numbers are kept as the operator wrote them; dates are `YYYY-MM-DD`; an action (a rule's
        or an option's) carries only its one action key; every other key is present (`null` when
        not given and without default).
        """
        # the serializer's bytes straight away: model_dump_json's str costs a decode and an
        # encode of ~25 MB on a 10,000-tenant plan
        return self.model.__pydantic_serializer__.to_json(self.model, by_alias=True)


@dataclass(frozen=True)
class PlanSummary:
    tenants: int
    numbers: int
    lists: dict[str, int]  # name → entries
    checksum: str


@dataclass(frozen=True)
class CheckReport:
    """What `routecore check` prints: every error and warning, and a summary of the plan."""

    source: str
    errors: list[PlanIssue]
    warnings: list[PlanIssue]
    summary: PlanSummary | None

    @property
    def ok(self) -> bool:
        return not self.errors


# --- public entry points ---------------------------------------------------------------------------


def load_plan(
    source: Source,
    *,
    path: str | os.PathLike[str] | None = None,
    known_places: PlacesSource | None = None,
) -> LoadedPlan:
    """Load and check a plan: a file (`Path`, or a one-line `str` naming an existing file), YAML or
    JSON text (`str`/`bytes`), or a dict. `path` names the file for messages and list files.

    Raises:
        PlanError: the plan fails a check; `.errors` and `.warnings` are lists of `PlanIssue`,
            and the message lists every error.
    """
    result = _analyse(source, path, known_places)
    if result.errors:
        raise _plan_error(result.file, result.errors, result.warnings)
    assert result.model is not None
    return LoadedPlan(
        model=result.model,
        source=result.source,
        base_dir=result.base_dir,
        text=result.text,
        list_texts=result.findings.list_texts,
        list_sizes=result.findings.list_sizes,
        checksum=result.checksum,
        warnings=result.warnings,
    )


def check_plan(
    source: Source, *, path: str | os.PathLike[str] | None = None, known_places: PlacesSource | None = None
) -> CheckReport:
    """Check a plan without raising: every error and warning, and a summary (`routecore check`)."""
    result = _analyse(source, path, known_places)
    summary = None
    if isinstance(result.data, dict):
        tenants = result.data.get("tenants")
        tenants = tenants if isinstance(tenants, dict) else {}
        numbers = sum(
            len(t["numbers"])
            for t in tenants.values()
            if isinstance(t, dict) and isinstance(t.get("numbers"), dict)
        )
        summary = PlanSummary(len(tenants), numbers, dict(result.findings.list_sizes), result.checksum)
    return CheckReport(result.file, result.errors, result.warnings, summary)


# --- the work --------------------------------------------------------------------------------------


@dataclass
class _Result:
    file: str
    source: Path | None
    base_dir: Path
    text: str
    data: Any = None
    doc: _yaml.Document | None = None
    model: Plan | None = None
    findings: Findings = field(default_factory=Findings)
    errors: list[PlanIssue] = field(default_factory=list)
    warnings: list[PlanIssue] = field(default_factory=list)
    checksum: str = ""


class _Unreadable(Exception):
    """The plan's bytes can't be had as text: the file can't be read, or is not UTF-8."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        super().__init__(message)
        self.file, self.line, self.message = file, line, message


def _analyse(
    source: Source, path: str | os.PathLike[str] | None, known_places: PlacesSource | None
) -> _Result:
    try:
        text, data, file_path = _read(source, path)
    except _Unreadable as exc:
        # One error, placed like any other, so `check` reports it and `load_plan` raises it
        # with `.errors` (ReloadPlan answers them) instead of a bare exception.
        result = _Result(file=exc.file, source=None, base_dir=Path.cwd(), text="")
        result.errors.append(PlanIssue(exc.file, exc.line, "", exc.message))
        return result
    if file_path is None:
        file = "<dict>" if data is not None else "<text>"
    else:
        # A pseudo-file (`<text>` in a plan's folder, for its list files) is named alone.
        pseudo = file_path.name.startswith("<") and file_path.name.endswith(">")
        file = file_path.name if pseudo else str(file_path)
    base_dir = (file_path.parent if file_path is not None else Path.cwd()).resolve()
    result = _Result(file=file, source=file_path, base_dir=base_dir, text=text)

    if data is None:
        try:
            result.doc = _parse(text, file_path)
        except _yaml.YamlProblem as exc:
            result.errors.append(PlanIssue(file, exc.line, "", exc.message))
            result.checksum = _checksum(text, {})
            return result
        data = result.doc.data
    result.data = data
    if not isinstance(data, dict):
        what = "an empty document" if data is None else f"a {type(data).__name__}"
        result.errors.append(
            PlanIssue(file, 1 if data is not None else None, "", f"a plan is a mapping of keys, not {what}")
        )
        result.checksum = _checksum(text, {})
        return result

    raw_errors: list[tuple[tuple[Any, ...], str, bool, Any]] = []  # loc, message, points at a key, input
    with _yaml.gc_paused():
        try:
            result.model = Plan.model_validate(data)
        except ValidationError as exc:
            raw_errors = [_convert(err, data) for err in exc.errors(include_url=False)]
        places = known_places
        findings = check_plan_data(
            data,
            base_dir=base_dir,
            places=lambda: resolve_places(places),
            normalize_many=_normalize_many(),
            missing_years=default_missing_years(),
            number_reason=_number_reason,
        )
    result.findings = findings
    result.checksum = _checksum(text, findings.list_bytes)

    duplicates: list[PlanIssue] = []
    if result.doc is not None:
        for mapping, first, again in result.doc.duplicates:
            loc = _yaml.path_of(result.doc.root, mapping) or ()
            key = _yaml.scalar_value(again)
            shown = repr(key)
            if isinstance(key, bool):  # `on` and `yes` are the same key to YAML 1.1: say so
                as_bool = str(key).lower()
                shown = f"{again.value!r}, which YAML reads as the boolean {as_bool} like {first.value!r}"
            at = first.start_mark.line + 1
            message = f"duplicate key {shown} (first at line {at}); only the last would be kept"
            written = [None] * len(loc) + [again]
            duplicates.append(
                PlanIssue(file, again.start_mark.line + 1, format_path(data, (*loc, key), written), message)
            )
    result.errors.extend(duplicates)
    if result.doc is not None and not (raw_errors or findings.errors or findings.warnings):
        result.doc.root = None  # millions of nodes for a big plan, and nothing to place
    if raw_errors or findings.errors or findings.warnings:
        locate = _Locator(result, data)
        if not (raw_errors or findings.errors) and result.doc is not None and result.doc.root is None:
            # warnings only, and no node tree (Rust or JSON reader): the Rust reader places them
            # in one pass instead of a PyYAML compose of the whole plan
            locate.use_fast_lines([w.loc for w in findings.warnings if w.file is None])
        seen: set[tuple[str, str]] = set()
        for loc, message, at_key, value in raw_errors:
            issue = locate.issue(loc, message, at_key, value)
            if (issue.path, issue.message) not in seen:
                seen.add((issue.path, issue.message))
                result.errors.append(issue)
        for raw in findings.errors:
            issue = locate.raw(raw)
            if (issue.path, issue.message) not in seen:
                seen.add((issue.path, issue.message))
                result.errors.append(issue)
        result.warnings = [locate.raw(w) for w in findings.warnings]
        locate.release()

        # the plan's own problems first, in line order; then those inside list files
        def order(issue: PlanIssue) -> tuple[bool, str, int, str]:
            line = issue.line if issue.line is not None else 1 << 30
            return (issue.file != file, issue.file, line, issue.path)

        result.errors.sort(key=order)
        result.warnings.sort(key=order)
    return result


def _read(
    source: Source, path: str | os.PathLike[str] | None
) -> tuple[str, dict[str, Any] | None, Path | None]:
    file_path = Path(path) if path is not None else None
    if isinstance(source, Mapping):
        data = dict(source)
        try:
            text = orjson.dumps(
                data, default=_json_default, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
            ).decode()
        except TypeError:
            bad = _first_not_text(data)
            if bad is None:
                raise
            raise _Unreadable(
                str(file_path or "<dict>"),
                None,
                f"{bad}: not valid text (lone surrogates: bytes that were not UTF-8, decoded with "
                "surrogateescape); decode the plan with its real encoding",
            ) from None
        return text, data, file_path
    if isinstance(source, os.PathLike) or (
        isinstance(source, str) and "\n" not in source and len(source) < 4096 and Path(source).is_file()
    ):
        file_path = Path(source) if path is None else file_path
        try:
            blob = Path(source).read_bytes()
        except OSError as exc:
            raise _Unreadable(str(source), None, f"cannot read the plan: {exc.strerror or exc}") from None
        return _decode(blob, str(source)), None, file_path
    if isinstance(source, bytes):
        return _decode(source, str(file_path or "<text>")), None, file_path
    if isinstance(source, str):
        return source, None, file_path
    raise TypeError(f"source must be a path, YAML/JSON text or a mapping, not {type(source).__name__}")


def _first_not_text(value: Any, path: str = "") -> str | None:
    """The field path of the first key or string in a plan dict that is not valid text (lone
    surrogates), or None when all are."""

    def bad(text: str) -> bool:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False

    if isinstance(value, str):
        return path if bad(value) else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and bad(key):
                return here.encode("utf-8", "backslashreplace").decode()
            found = _first_not_text(item, here)
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _first_not_text(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _decode(blob: bytes, name: str) -> str:
    try:
        return blob.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = blob.count(b"\n", 0, exc.start) + 1
        bad = blob[exc.start : exc.end].hex(" ")
        message = (
            f"the plan is not UTF-8 text: byte {exc.start} (0x{bad}) is not UTF-8"
            " (a GBK or other legacy encoding? save the plan as UTF-8)"
        )
        raise _Unreadable(name, line, message) from None


def _json_default(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot checksum a {type(value).__name__}")


def _parse(text: str, file_path: Path | None) -> _yaml.Document:
    looks_json = (file_path is not None and file_path.suffix.lower() == ".json") or text.lstrip().startswith(
        "{"
    )
    if looks_json and not _LONE_SURROGATE_ESCAPE.search(text):
        # (`json` reads a lone `\ud800` escape as text that is not text; the YAML reader refuses
        # it at its line.)
        try:
            return _yaml.Document(data=json.loads(text, object_pairs_hook=_once, parse_constant=_no_constant))
        except ValueError:
            # YAML flow style, broken JSON, a key given twice or NaN: the YAML reader says where
            # (a duplicate key is refused there too, as in a YAML plan, rather than the last one
            # silently kept).
            pass
    return _yaml.load_fast(text) or _yaml.load_yaml(text)


#: A `\uD800`-`\uDFFF` escape that is not half of a surrogate pair.
_LONE_SURROGATE_ESCAPE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F]"
)


def _once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are distinct (`json` keeps the last of a key given twice)."""
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("a key given twice")
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _checksum(text: str, list_bytes: Mapping[str, bytes]) -> str:
    h = hashlib.sha256(text.encode())
    for name in sorted(list_bytes):
        h.update(b"\0list\0" + name.encode() + b"\0")
        h.update(hashlib.sha256(list_bytes[name]).digest())
    return h.hexdigest()[:16]


def _normalize_many() -> Callable[[list[str]], list[str | None]] | None:
    try:
        from routecore._routecore import normalize_many
    except ImportError:  # pragma: no cover - the extension is always built with the package
        return None
    return normalize_many  # type: ignore[no-any-return]


def _number_reason(text: str) -> str | None:
    """Why the engine's normaliser refuses `text` (its message), or None."""
    try:
        from routecore._routecore import normalize
    except ImportError:  # pragma: no cover - the extension is always built with the package
        return None
    try:
        normalize(text)
    except Exception as exc:  # InvalidNumberError; NotReadyError when the tables are not loaded
        message = str(exc)
        return message.removeprefix("number: ") if message.startswith("number: not a number") else None
    return None


def _plan_error(file: str, errors: list[PlanIssue], warnings: list[PlanIssue]) -> PlanError:
    n = len(errors)
    lines = [f"{file}: {n} error{'s' if n != 1 else ''} in the plan"]
    lines += [f"  {e}" for e in errors]
    err = PlanError("\n".join(lines))
    err.errors = errors  # type: ignore[attr-defined]
    err.warnings = warnings  # type: ignore[attr-defined]
    first = errors[0]
    err.file, err.line, err.path = first.file, first.line, first.path  # type: ignore[attr-defined]
    return err


# --- pydantic errors → plan issues -----------------------------------------------------------------


def _convert(err: Any, data: Any) -> tuple[tuple[Any, ...], str, bool, Any]:
    loc, message, at_key = _convert3(err)
    return _real_keys(data, loc), message, at_key, err.get("input")


def _real_keys(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """`loc` with the mapping keys as read: pydantic gives a `false`/`true` key (YAML 1.1 reads
    `off`, `no`, `yes`, `on` so) as 0/1, which finds no key node and prints as a number."""
    out = list(loc)
    cur = data
    for i, elem in enumerate(loc):
        if isinstance(cur, dict):
            if type(elem) is int and elem in (0, 1) and elem in cur:
                # 0 == False: the key stored may be the boolean; only such keys are scanned for
                out[i] = next((k for k in cur if k == elem and type(k) is bool), elem)
            cur = cur.get(elem)
        elif isinstance(cur, list) and type(elem) is int and 0 <= elem < len(cur):
            cur = cur[elem]
        else:
            break
    return tuple(out)


def _convert3(err: Any) -> tuple[tuple[Any, ...], str, bool]:
    loc: tuple[Any, ...] = tuple(err["loc"])
    at_key = bool(loc) and loc[-1] == "[key]"
    if at_key:
        loc = loc[:-1]
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    last = loc[-1] if loc else ""
    model = _model_at(loc[:-1]) if loc else None

    if kind == "extra_forbidden":
        known = _fields(model) if model else []
        if model is Hours:
            msg = f"unknown day type {last!r} (day types: workday, sat, sun, holiday, all)"
        else:
            msg = f"unknown key {last!r}" + _did_you_mean(str(last), known)
        return loc, msg, True
    if kind == "missing":
        msg = f"missing key {last!r}"
        if model is Reject:
            msg += ": a reject needs both code and reason"
        elif last == "version":
            msg += " (the format version: `version: 1`)"
        return loc, msg, False
    if kind == "value_error":
        return loc, str(ctx.get("error", err["msg"])), at_key
    if kind == "literal_error":
        if last == "version" and len(loc) == 1:
            return loc, f"unsupported format version {value!r} (this routecore reads version 1)", False
        expected = str(ctx.get("expected", ""))
        field_name = next((p for p in reversed(loc) if isinstance(p, str)), "value")
        options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",") if o.strip()]
        hint = _did_you_mean(value, options) if isinstance(value, str) else ""
        return loc, f"unknown {field_name} {value!r}" + (hint or f" (one of: {', '.join(options)})"), False
    if kind in ("string_type", "int_type", "float_type", "bool_type", "date_type"):
        expected = {
            "string_type": "a quoted string",
            "int_type": "a whole number",
            "float_type": "a number",
            "bool_type": "true or false",
            "date_type": "a date (YYYY-MM-DD)",
        }[kind]
        return loc, _type_message(expected, value, kind == "string_type"), at_key
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return loc, f"expected a mapping (key: value), got {_describe(value)}", at_key
    if kind == "list_type":
        return loc, f"expected a list, got {_describe(value)}", at_key
    if kind in ("greater_than_equal", "less_than_equal") and isinstance(value, int):
        lo, hi = _int_range(model, last)
        if lo is not None and hi is not None:
            return loc, f"must be a whole number from {lo} to {hi}, got {value}", at_key
    if kind == "finite_number":
        return loc, f"must be a finite number, got {value!r}", at_key
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        words = {
            "greater_than_equal": "at least",
            "greater_than": "more than",
            "less_than_equal": "at most",
            "less_than": "less than",
        }[kind]
        bound = next(iter(ctx.values()), "?")
        return loc, f"must be {words} {bound}, got {value!r}", at_key
    if kind == "too_short":
        return loc, "must not be empty", at_key
    if kind == "string_too_short" or (kind == "string_pattern_mismatch" and ctx.get("pattern") == r"\S"):
        return loc, "must not be empty", at_key
    return loc, str(err["msg"]), at_key


_HINT = "\0hint"  # placeholder replaced by the locator with the YAML source text


def _type_message(expected: str, value: Any, quote_hint: bool) -> str:
    if quote_hint and isinstance(value, int | float | bool | date):
        return f"expected {expected}{_HINT}"  # the locator fills in the YAML source text
    return f"expected {expected}, got {_describe(value)}"


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _fields(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that validates the mapping at `loc` (to name its keys in messages)."""
    tp: Any = Plan
    for elem in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = {(f.alias or n): f for n, f in tp.model_fields.items()}
            f = fields.get(elem)
            if f is None:
                return None
            tp = f.annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        elif typing.get_origin(tp) is list:
            tp = typing.get_args(tp)[0]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _int_range(model: type[BaseModel] | None, name: Any) -> tuple[int | None, int | None]:
    """The `ge`/`le` bounds of the field `name` of `model` (through Optional and Annotated)."""
    f = next((f for n, f in model.model_fields.items() if (f.alias or n) == name), None) if model else None
    if f is None:
        return None, None
    lo = hi = None
    todo: list[Any] = [*f.metadata, f.annotation]
    while todo:
        item = todo.pop()
        if isinstance(item, FieldInfo):
            todo.extend(item.metadata)
        elif isinstance(getattr(item, "ge", None), int):
            lo = item.ge
        elif isinstance(getattr(item, "le", None), int):
            hi = item.le
        else:
            todo.extend(typing.get_args(item))
    return lo, hi


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


class _Locator:
    """Gives raw problems their file, line and printable path (composing the YAML only if needed)."""

    def __init__(self, result: _Result, data: Any) -> None:
        self.result = result
        self.data = data
        self._index: _yaml.NodeIndex | None = None
        self._composed = False
        self._fast: dict[tuple[Any, ...], int | None] | None = None

    def use_fast_lines(self, locs: list[tuple[Any, ...]]) -> None:
        """Place these paths with the Rust reader (when it accepts the text) rather than nodes."""
        lines = _yaml.fast_lines(self.result.text, locs) if self.result.text else None
        if lines is not None:
            self._fast = dict(zip(locs, lines, strict=True))

    @property
    def index(self) -> _yaml.NodeIndex | None:
        if not self._composed:
            self._composed = True
            doc = self.result.doc
            root = None
            if doc is not None and doc.root is not None:
                root = doc.root
            elif self.result.text and self.result.file != "<dict>":
                try:  # JSON is read by orjson, without nodes: compose it as YAML to place problems
                    root = _yaml.compose(self.result.text)
                except _yaml.YamlProblem:
                    root = None
            self._index = _yaml.NodeIndex(root) if root is not None else None
        return self._index

    def release(self) -> None:
        """Drop the node tree once every problem is placed."""
        self._index = None
        if self.result.doc is not None:
            self.result.doc.root = None

    def issue(self, loc: tuple[Any, ...], message: str, at_key: bool, value: Any = None) -> PlanIssue:
        if self._fast is not None and loc in self._fast and _HINT not in message:
            return PlanIssue(self.result.file, self._fast[loc], format_path(self.data, loc), message)
        line = None
        source_text = None
        index = self.index
        place = index.find(loc) if index is not None else None
        path = format_path(self.data, loc)
        if place is not None and any(type(e) is bool for e in loc):
            path = format_path(self.data, loc, written=place.keys)
        if place is not None:
            # a value in a mapping is placed on its key's line (a block value starts below it)
            node = place.key if place.key is not None else place.node
            line = node.start_mark.line + 1
            if place.exact:
                shown = place.key if at_key else place.node
                if isinstance(shown, ScalarNode):
                    source_text = shown.value
        if _HINT in message:
            message = message.replace(_HINT, _quote_hint(source_text, value))
        return PlanIssue(self.result.file, line, path, message)

    def raw(self, raw: RawIssue) -> PlanIssue:
        if raw.file is not None:
            return PlanIssue(raw.file, raw.line, format_path(self.data, raw.loc), raw.message)
        return self.issue(raw.loc, raw.message, at_key=False)


def _quote_hint(source_text: str | None, value: Any) -> str:
    rule = "numbers, menu keys and digit strings must be quoted"
    if isinstance(value, bool):
        # YAML 1.1 reads yes/no/on/off (any case) as booleans: a name or text so spelt is quoted
        if source_text is None:
            return f", got {_describe(value)}: quote words YAML reads as booleans (yes, no, on, off)"
        rule = "quote it"
    if source_text is None:
        return f", got {_describe(value)}: {rule} strings"
    shown = (
        value.isoformat()
        if isinstance(value, date)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
    )
    if source_text != shown:
        return f', got {source_text}, which YAML reads as {_describe(value)}: {rule}: write "{source_text}"'
    return f', got {_describe(value)}: {rule}: write "{source_text}"'


def format_path(data: Any, loc: tuple[Any, ...], written: list[Any] | None = None) -> str:
    """`tenants.clinic.groups.desk.targets[1].number` for a loc of keys and list indices.

    `written`: the key node of each element (`Place.keys`); a boolean key is shown as written
    (`off`), not as Python's `False`.
    """
    out = ""
    cur = data
    for i, elem in enumerate(loc):
        if isinstance(cur, list) and isinstance(elem, int) and type(elem) is not bool:
            out += f"[{elem}]"
            cur = cur[elem] if 0 <= elem < len(cur) else None
        else:
            shown = str(elem)
            node = written[i] if written is not None and i < len(written) else None
            if type(elem) is bool and isinstance(node, ScalarNode):
                shown = node.value
            out += ("." if out else "") + shown
            cur = cur.get(elem) if isinstance(cur, dict) else None
    return out
