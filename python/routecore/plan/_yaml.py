"""Reading plan text fast, and finding where a path of keys is written in it.

Two readers give the same plain data (dicts, lists, str, int, float, bool, None, date):

- `load_fast`: the Rust reader (`routecore._routecore.yaml_to_json`, rust/yaml.rs) turns the
  YAML into JSON with the GIL released and `orjson` builds the Python objects; about 20 times
  faster than PyYAML. It declines any document it is not sure PyYAML reads the same way
  (anchors, tags, duplicate keys, YAML 1.1 scalars such as `0755` ...), and keeps no nodes:
  warnings get their lines from `fast_lines`, errors from a PyYAML compose (the loader's
  locator), so every message and line is PyYAML's.
- `load_yaml`: PyYAML. Its own constructor costs about 0.7 µs of Python per node and triggers
  the cyclic GC over and over on a big document (a plan with 10,000 tenants is ~600k nodes), so
  the C composer (libyaml) builds the node tree, and `_build` turns it into plain dicts and lists
  in one tight pass with the GC paused. The node tree is kept: it gives every key path its line.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
import yaml  # type: ignore[import-untyped]
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode  # type: ignore[import-untyped]

_Loader: type[yaml.SafeLoader]
try:
    _Loader = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
# First characters with which a plain scalar may resolve to a number, timestamp, null, merge or
# value (YAML 1.1 resolvers of PyYAML); a plain scalar starting with a letter is a bool or null
# only when it is one of these words.
_MAYBE_TYPED = frozenset("0123456789+-.~=<")
_BOOL_WORDS = "yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF"
_WORDS = {
    **dict.fromkeys(_BOOL_WORDS.split(), "tag:yaml.org,2002:bool"),
    **dict.fromkeys(["null", "Null", "NULL"], _NULL),
}


class _FastLoader(_Loader):  # type: ignore[misc, valid-type]
    """SafeLoader whose resolver skips the regex tables for scalars that can only be strings."""

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            if implicit[0]:
                if not value or value[0] in _MAYBE_TYPED:
                    return str(super().resolve(kind, value, implicit))
                return _WORDS.get(value, _STR)
            return _STR
        if kind is MappingNode:
            return _MAP
        return _SEQ

    # No path resolvers are registered, so the per-node bookkeeping is not needed.
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


_CONSTRUCTOR = yaml.SafeLoader.__new__(yaml.SafeLoader)
_CONSTRUCTORS = yaml.SafeLoader.yaml_constructors


class YamlProblem(Exception):
    """Text that is not YAML (or JSON): message and 1-based line."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class Document:
    """The data of a plan text and, when composed, its node tree (for lines and original text)."""

    data: Any
    root: Node | None = None
    duplicates: list[tuple[Node, Node, Node]] = field(default_factory=list)  # (mapping, first, again)
    fast: bool = False  # read by the Rust reader: same data as PyYAML's, no nodes


try:
    from routecore._routecore import yaml_lines as _yaml_lines
    from routecore._routecore import yaml_to_json as _yaml_to_json
except ImportError:  # pragma: no cover - the extension is always built with the package
    _yaml_lines = _yaml_to_json = None

FAST = True  # False: always PyYAML (tests compare the two readers)


def load_fast(text: str) -> Document | None:
    """Plain data read by the Rust reader, or None when it declines the text (use `load_yaml`).

    Where it accepts a text, the data equals PyYAML's `SafeLoader` reading (tests/test_yaml.py).
    """
    if not FAST or _yaml_to_json is None:
        return None
    out = _yaml_to_json(text)
    if isinstance(out, str):
        return None
    blob, dates = out
    with gc_paused():
        data = orjson.loads(blob)
    for path in dates:  # JSON has no dates: the reader lists where PyYAML builds a date
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = date.fromisoformat(parent[path[-1]])
    return Document(data=data, fast=True)


def fast_lines(text: str, locs: Sequence[tuple[Any, ...]]) -> list[int | None] | None:
    """The line of each path as `NodeIndex.find` places it (key line, else node line), read by
    the Rust reader in one pass that stops once every path is placed; None when it declines."""
    if not FAST or _yaml_lines is None:
        return None
    return _yaml_lines(text, locs)  # type: ignore[no-any-return]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while a big tree of fresh containers is built.

    Otherwise the young-generation collections traverse the growing tree again and again (a
    10,000-tenant plan is millions of objects). On the way out the survivors are moved straight to
    the oldest generation (freeze, then unfreeze), so the first collection after the pause does
    not traverse them all either. The containers are acyclic; refcounting frees them.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def line_count(text: str) -> int:
    """Lines of `text` as YAML (and PyYAML's marks) count them: CR LF, CR, LF, NEL, LS and PS
    each end one."""
    return len(_LINE_BREAK.findall(text)) + 1


def compose(text: str) -> Node | None:
    """The node tree of `text` (None for an empty document).

    Raises:
        YamlProblem: the text is not YAML.
    """
    try:
        return yaml.compose(text, Loader=_FastLoader)  # type: ignore[no-any-return]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        if line is not None:
            # PyYAML marks a problem at the end of a text without a final newline one line past
            # it; an editor calls that place the last line.
            line = min(line, line_count(text))
        context = exc.context
        if context and exc.context_mark is not None and exc.problem_mark is not None:
            context += f" (from line {min(exc.context_mark.line + 1, line_count(text))})"
        what = "; ".join(p for p in (context, exc.problem) if p)
        raise YamlProblem(f"not valid YAML: {what}", line) from None
    except yaml.reader.ReaderError as exc:
        # A character YAML does not allow (NUL, other control characters): PyYAML gives only its
        # offset in the text, an editor wants the line.
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        column = exc.position - text.rfind("\n", 0, exc.position)
        what = f"character U+{code:04X} in column {column}: {exc.reason}"
        raise YamlProblem(f"not valid YAML: {what}", line) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"not valid YAML: {exc}", None) from None


def load_yaml(text: str) -> Document:
    """Parse YAML text into plain data, keeping the node tree.

    An impossible date written plainly (`2026-02-30`, which PyYAML's constructor refuses) is kept
    as its text, like the quoted form: the plan's date fields report it at its key.

    Raises:
        YamlProblem: not YAML, or a recursive alias.
    """
    with gc_paused():
        root = compose(text)
        doc = Document(data=None, root=root)
        if root is not None:
            try:
                doc.data = _Builder(doc.duplicates).build(root)
            except RecursionError:
                raise YamlProblem(
                    "the YAML nests too deeply (or an alias refers to its own anchor)", None
                ) from None
            except TypeError as exc:  # an unhashable key: a mapping or list used as a key
                raise YamlProblem(f"a mapping key must be a plain value ({exc})", None) from None
    return doc


class _Builder:
    def __init__(self, duplicates: list[tuple[Node, Node, Node]]) -> None:
        self.duplicates = duplicates

    def build(self, node: Node) -> Any:
        # An alias shares its node: the value is built again where it is used (no memo: a plan
        # rarely uses aliases and the lookups would cost more than they save).
        cls = node.__class__
        if cls is ScalarNode:
            if node.tag == _STR:
                return node.value
            return _scalar(node)
        build = self.build
        if cls is MappingNode:
            pairs = node.value
            if any(k.tag == _MERGE for k, _ in pairs):
                _CONSTRUCTOR.flatten_mapping(node)
                pairs = node.value
            out: Any = {build(k): build(v) for k, v in pairs}
            if len(out) != len(pairs):
                self._duplicates(node)
            return out
        if cls is SequenceNode:
            return [build(n) for n in node.value]
        raise YamlProblem(
            f"unexpected YAML node {cls.__name__}", node.start_mark.line + 1
        )  # pragma: no cover

    def _duplicates(self, node: MappingNode) -> None:
        firsts: dict[Any, Node] = {}
        for k, _ in node.value:
            key = scalar_value(k)
            if k.__class__ is not ScalarNode:
                raise YamlProblem("a mapping key must be a plain value", k.start_mark.line + 1)
            if key in firsts:
                self.duplicates.append((node, firsts[key], k))
            else:
                firsts[key] = k


def _scalar(node: ScalarNode) -> Any:
    make = _CONSTRUCTORS.get(node.tag)
    if make is None:
        raise YamlProblem(f"unsupported YAML tag {node.tag}", node.start_mark.line + 1)
    try:
        return make(_CONSTRUCTOR, node)
    except (yaml.YAMLError, ValueError) as exc:
        if node.tag == _TIMESTAMP:
            # An impossible date written plainly (`2026-02-30`): kept as the text, as quoted, so
            # that the field's own check reports it at its key and line along with every other
            # problem, instead of one YAML error for the whole plan.
            return node.value
        raise YamlProblem(f"bad value {node.value!r}: {exc}", node.start_mark.line + 1) from None


def scalar_value(node: Node) -> Any:
    """The Python value of a key or scalar node (for matching a path element)."""
    if isinstance(node, ScalarNode):
        if node.tag == _STR:
            return node.value
        try:
            return _scalar(node)
        except YamlProblem:
            return node.value
    return None


@dataclass
class Place:
    """Where a path of keys is written: the value node, and the key node when reached via a key."""

    node: Node
    key: Node | None
    exact: bool  # False when only a prefix of the path was found
    keys: list[Node | None] = field(default_factory=list)  # the key node of each element found


class NodeIndex:
    """Finds paths of keys in a node tree; each mapping's keys are indexed on first use, so placing
    many problems in a plan with 10,000 tenants stays linear."""

    def __init__(self, root: Node | None) -> None:
        self.root = root
        self._maps: dict[int, dict[Any, tuple[Node, Node]]] = {}

    def _keys(self, node: MappingNode) -> dict[Any, tuple[Node, Node]]:
        index = self._maps.get(id(node))
        if index is None:
            index = {}
            for k, v in node.value:
                key = scalar_value(k)
                # the first occurrence wins for duplicates (reported on their own); bool and int
                # keys are told apart from 1 and True by their type
                index.setdefault((type(key), key), (k, v))
            self._maps[id(node)] = index
        return index

    def find(self, path: tuple[Any, ...]) -> Place | None:
        """Walk `path` (keys and list indices) down the tree, as far as it goes."""
        if self.root is None:
            return None
        node: Node = self.root
        key: Node | None = None
        keys: list[Node | None] = []
        for elem in path:
            if isinstance(node, MappingNode):
                try:
                    hit = self._keys(node).get((type(elem), elem))
                except TypeError:  # an unhashable path element
                    hit = None
                if hit is None:
                    return Place(node, key, exact=False, keys=keys)
                key, node = hit
            elif isinstance(node, SequenceNode) and isinstance(elem, int) and 0 <= elem < len(node.value):
                node, key = node.value[elem], None
            else:
                return Place(node, key, exact=False, keys=keys)
            keys.append(key)
        return Place(node, key, exact=True, keys=keys)


def path_of(root: Node | None, target: Node) -> tuple[Any, ...] | None:
    """The path of keys leading to `target` (by identity), searching the whole tree."""
    if root is None:
        return None
    stack: list[tuple[Node, tuple[Any, ...]]] = [(root, ())]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if node is target:
            return path
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            stack.extend((v, (*path, scalar_value(k))) for k, v in node.value)
        elif isinstance(node, SequenceNode):
            stack.extend((v, (*path, i)) for i, v in enumerate(node.value))
    return None
