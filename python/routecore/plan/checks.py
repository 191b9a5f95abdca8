"""Checks that need the whole plan: names that refer to nothing, cycles, undecided flows, places,
duplicate numbers, list files, unused definitions and holiday data; and the checks of a mapping as a
whole (exactly one action, address or list source, windows in order, ranges apart), which a model
validator would skip whenever one of the mapping's values is bad.

They walk the raw data (dicts and lists as read), not the pydantic model, so that they still run
when some other part of the plan has a type error: `check` reports every problem at once. Values of
the wrong type are skipped here; the model validation reports them.
"""

from __future__ import annotations

import difflib
import importlib
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from routecore.plan import _syntax
from routecore.plan.models import ACTION_KEYS, DAY_TYPES, LIST_SOURCES, parse_date
from routecore.plan.places import Places, place_problem

Loc = tuple[Any, ...]
MAX_MENU_DEPTH = 3
_MAX_FILE_ERRORS = 10
# A list-file entry that could pass the format check and still be refused by the engine's
# normaliser is also put to it: one not starting with a digit (`+`, `tel:`, `sip:`), one starting
# with the international prefix (`0086` alone: nothing after the country code), or a long one. Other plain
# entries always normalise; the filter keeps big files cheap.
_LONG_ENTRY = 19
_PREFIXED_ENTRY = ("00",)


@dataclass
class RawIssue:
    """A problem before it is given a file, line and printable path."""

    loc: Loc
    message: str
    file: str | None = None  # set for problems inside a list file
    line: int | None = None


@dataclass
class Findings:
    errors: list[RawIssue] = field(default_factory=list)
    warnings: list[RawIssue] = field(default_factory=list)
    list_texts: dict[str, str] = field(default_factory=dict)
    list_bytes: dict[str, bytes] = field(default_factory=dict)
    list_sizes: dict[str, int] = field(default_factory=dict)

    def error(self, loc: Loc, message: str) -> None:
        self.errors.append(RawIssue(loc, message))

    def warn(self, loc: Loc, message: str) -> None:
        self.warnings.append(RawIssue(loc, message))


def _d(x: Any) -> dict[Any, Any]:
    return x if isinstance(x, dict) else {}


def _l(x: Any) -> list[Any]:
    return x if isinstance(x, list) else []


def _s(x: Any) -> str | None:
    return x if isinstance(x, str) else None


def _given(mapping: dict[Any, Any], keys: Iterable[str]) -> list[str]:
    """The `keys` written in `mapping` with a value (`key: null` is not given), in `keys`' order.
    A value of the wrong type counts: the model reports its type, not a missing key as well."""
    return [k for k in keys if mapping.get(k) is not None]


def _date(value: Any) -> date | None:
    try:
        return parse_date(value)
    except ValueError:
        return None  # the model reports it at its key


def _unknown(kind: str, name: str, known: Iterable[Any], scope: str = "") -> str:
    names = sorted(k for k in known if isinstance(k, str))
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        hint = f" (did you mean {close[0]!r}?)"
    elif not names:
        hint = f" (no {kind} is defined{scope})"
    elif len(names) <= 8:
        hint = f" (defined{scope}: {', '.join(names)})"
    else:
        hint = ""
    return f"unknown {kind} {name!r}{hint}"


def check_plan_data(
    data: dict[Any, Any],
    *,
    base_dir: Path,
    places: Callable[[], Places],
    normalize_many: Callable[[list[str]], list[str | None]] | None,
    missing_years: Callable[[list[int]], Iterable[int]] | None,
    today: date | None = None,
    number_reason: Callable[[str], str | None] | None = None,
) -> Findings:
    """Run every whole-plan check over the raw plan `data`.

    `normalize_many` is the engine's normaliser (None for a number it refuses); `number_reason`
    says why it refuses one (the engine's message).
    """
    out = Findings()
    checker = _Checker(data, out, base_dir, places, normalize_many, missing_years, today or date.today())
    checker.number_reason = number_reason
    checker.run()
    return out


class _Checker:
    def __init__(
        self,
        data: dict[Any, Any],
        out: Findings,
        base_dir: Path,
        places: Callable[[], Places],
        normalize_many: Callable[[list[str]], list[str | None]] | None,
        missing_years: Callable[[list[int]], Iterable[int]] | None,
        today: date,
    ) -> None:
        self.plan = data
        self.out = out
        self.base_dir = base_dir
        self._places_source = places
        self._places: Places | None = None
        self.normalize_many = normalize_many
        self.missing_years = missing_years
        self.today = today
        self.calendars = _d(data.get("calendars"))
        self.schedules = _d(data.get("schedules"))
        self.lists = _d(data.get("lists"))
        self.rates = _d(data.get("rates"))
        self.used: dict[str, set[str]] = {"calendar": set(), "schedule": set(), "list": set(), "rates": set()}
        self.number_reason: Callable[[str], str | None] | None = None
        # numbers whose format is fine, for the engine's normaliser: text, loc, list file, line
        self.to_normalize: list[tuple[str, Loc, str | None, int | None]] = []

    @property
    def places(self) -> Places:
        if self._places is None:
            self._places = self._places_source()
        return self._places

    def run(self) -> None:
        self.check_calendars()
        self.check_schedules()
        self.check_lists()
        for i, name in enumerate(_l(self.plan.get("blocklists"))):
            self.ref_list(name, ("blocklists", i))
        served: list[tuple[str, Loc, str]] = []
        for tname, tenant in _d(self.plan.get("tenants")).items():
            if isinstance(tenant, dict):
                self.check_tenant(tname, tenant, served)
        self.check_duplicates(served)
        if not served:
            loc: Loc = ("tenants",) if "tenants" in self.plan else ()
            self.out.warn(loc, "the plan serves no number: every call would be answered NOT_FOUND")
        self.check_normalized()
        self.warn_unused()
        self.check_holiday_years()

    # --- references --------------------------------------------------------------------------

    def ref(self, kind: str, name: Any, known: dict[Any, Any], loc: Loc, extra: Iterable[str] = ()) -> bool:
        if not isinstance(name, str):
            return False
        if name in known or name in extra:
            return True
        self.out.error(loc, _unknown(kind, name, [*known, *extra]))
        return False

    def ref_list(self, name: Any, loc: Loc) -> None:
        if self.ref("list", name, self.lists, loc):
            self.used["list"].add(name)

    def ref_schedule(self, name: Any, loc: Loc) -> None:
        if self.ref("schedule", name, self.schedules, loc):
            self.used["schedule"].add(name)

    def check_place(self, entry: Any, loc: Loc) -> None:
        if isinstance(entry, str) and entry.strip():
            problem = place_problem(entry, self.places)
            if problem:
                self.out.error(loc, problem)

    # --- calendars, schedules, lists -----------------------------------------------------------

    def check_calendars(self) -> None:
        cals = self.calendars
        if "cn" in cals:
            self.out.error(
                ("calendars", "cn"), "`cn` is the built-in calendar: name yours otherwise and set `base: cn`"
            )
        for name, cal in cals.items():
            base = _s(_d(cal).get("base"))
            if base is None or base == "cn":
                continue
            if base == name:
                self.out.error(("calendars", name, "base"), f"calendar {name!r} has itself as base")
            elif self.ref("calendar", base, cals, ("calendars", name, "base"), extra=("cn",)):
                self.used["calendar"].add(base)
        reported: set[frozenset[str]] = set()
        for start in cals:
            chain = [start]
            cur = start
            while True:
                nxt = _s(_d(cals.get(cur)).get("base"))
                if nxt is None or nxt == "cn" or nxt not in cals or nxt == cur:
                    break
                if nxt in chain:
                    cycle = chain[chain.index(nxt) :]
                    key = frozenset(cycle)
                    if key not in reported and len(cycle) > 1:
                        reported.add(key)
                        shown = " → ".join([*cycle, nxt])
                        self.out.error(
                            ("calendars", cycle[-1], "base"), f"calendar bases form a cycle: {shown}"
                        )
                    break
                chain.append(nxt)
                cur = nxt

    def check_schedules(self) -> None:
        for name, sch in self.schedules.items():
            cal = _s(_d(sch).get("calendar"))
            loc = ("schedules", name, "calendar")
            if cal not in (None, "cn") and self.ref("calendar", cal, self.calendars, loc, extra=("cn",)):
                self.used["calendar"].add(cal)
            hours = _d(sch).get("hours")
            for day, ranges in _d(hours).items():
                if day in DAY_TYPES:
                    self.check_overlap(_l(ranges), ("schedules", name, "hours", day))
            if isinstance(hours, dict) and all(hours.get(k) in (None, []) for k in DAY_TYPES):
                # allowed (a day type with no range is closed), but more often a slip than meant
                self.out.warn(
                    ("schedules", name, "hours"),
                    f"schedule {name!r} is never open (no day type has an opening range): "
                    "a `schedule` condition on it never holds, a target with it is always off shift",
                )

    def list_text_by_lines(self, name: str, blob: bytes, loc: Loc, file: str) -> str | None:
        """A list file that is not UTF-8 throughout, read as `NumberList.from_file` reads it (by
        the same code): a comment need not be UTF-8 (it is dropped), an entry must be. Each entry
        that is not is an error on its line of the file; None when there is one."""
        from routecore._routecore import list_file_text

        text, not_text = list_file_text(blob.removeprefix(b"\xef\xbb\xbf"))
        for lineno, reason in not_text[:_MAX_FILE_ERRORS]:
            self.out.errors.append(RawIssue(loc, f"list {name!r}: {reason}", file, lineno))
        return None if not_text else text

    def check_overlap(self, ranges: list[Any], loc: Loc) -> None:
        """Overlapping ranges of one day type are allowed (the schedule is open in either, their
        union; plan-format.md refuses only a range that ends before it starts) but are more often
        a slip than meant: a warning. Each bad range is the model's to report."""
        spans: list[tuple[int, int, str]] = []
        for r in ranges:
            parsed = _syntax.parse_range(r) if isinstance(r, str) else None
            if isinstance(parsed, tuple):
                spans.append((*parsed, r))
        spans.sort()
        for (_, end, ra), (start, _, rb) in itertools.pairwise(spans):
            if start < end:
                self.out.warn(loc, f"ranges {ra} and {rb} overlap (open in either)")
                return

    def check_window(self, window: Any, loc: Loc) -> None:
        """`from` and `until` (both included) in order, when both are dates."""
        if not isinstance(window, dict):
            return
        start, end = _date(window.get("from")), _date(window.get("until"))
        if start is not None and end is not None and end < start:
            self.out.error(loc, f"until {end} is before from {start}")

    def one_action(self, act: dict[Any, Any], loc: Loc, what: str) -> None:
        given = _given(act, ACTION_KEYS)
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            self.out.error(
                loc, f"{what} needs exactly one action of {', '.join(ACTION_KEYS)} (found {found})"
            )

    def check_lists(self) -> None:
        for name, spec in self.lists.items():
            if isinstance(spec, dict) and len(given := _given(spec, LIST_SOURCES)) != 1:
                found = ", ".join(given) if given else "none"
                self.out.error(
                    ("lists", name), f"a list needs exactly one of file, numbers, patterns (found {found})"
                )
            spec = _d(spec)
            if isinstance(spec.get("numbers"), list):
                self.out.list_sizes[name] = len(spec["numbers"])
                for i, number in enumerate(spec["numbers"]):
                    self.normalize_later(number, ("lists", name, "numbers", i))
            elif isinstance(spec.get("patterns"), list):
                self.out.list_sizes[name] = len(spec["patterns"])
            elif isinstance(spec.get("file"), str) and spec["file"].strip():
                self.read_list_file(name, spec["file"])
            else:
                continue
            if self.out.list_sizes.get(name) == 0:
                self.out.warn(("lists", name), f"list {name!r} is empty")

    def read_list_file(self, name: str, file: str) -> None:
        loc = ("lists", name, "file")
        path = Path(file)
        if not path.is_absolute():
            path = self.base_dir / path
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            self.out.error(loc, f"list file not found: {path}")
            return
        except IsADirectoryError:
            self.out.error(loc, f"list file is a directory: {path}")
            return
        except OSError as exc:
            self.out.error(loc, f"cannot read list file {path}: {exc.strerror or exc}")
            return
        try:
            text = blob.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = self.list_text_by_lines(name, blob, loc, str(path))
            if text is None:
                return
        self.out.list_bytes[name] = blob
        self.out.list_texts[name] = text
        count = 0
        bad = 0
        for lineno, raw in enumerate(text.splitlines(), start=1):
            entry = raw.split("#", 1)[0].strip()
            if not entry:
                continue
            count += 1
            problem = _syntax.number_problem(entry)
            if problem is None and (
                len(entry) >= _LONG_ENTRY or not entry[0].isdigit() or entry.startswith(_PREFIXED_ENTRY)
            ):
                self.to_normalize.append((entry, loc, str(path), lineno))
            if problem:
                bad += 1
                if bad <= _MAX_FILE_ERRORS:
                    self.out.errors.append(
                        RawIssue(
                            loc, f"list {name!r}: {entry!r} is not a number: {problem}", str(path), lineno
                        )
                    )
        if bad > _MAX_FILE_ERRORS:
            self.out.errors.append(
                RawIssue(
                    loc,
                    f"list {name!r}: {bad - _MAX_FILE_ERRORS} more lines are not numbers",
                    str(path),
                    None,
                )
            )
        self.out.list_sizes[name] = count

    # --- tenants ------------------------------------------------------------------------------

    def check_tenant(self, tname: Any, tenant: dict[Any, Any], served: list[tuple[str, Loc, str]]) -> None:
        base: Loc = ("tenants", tname)
        groups = _d(tenant.get("groups"))
        menus = _d(tenant.get("menus"))
        scope = f" in tenant {tname!r}"
        used_groups: set[str] = set()
        used_menus: set[str] = set()

        def action(act: Any, loc: Loc, what: str = "an action") -> None:
            if not isinstance(act, dict):
                return  # the model reports its type
            self.one_action(act, loc, what)
            if "forward" in act and self._ref_scoped(
                "group", act["forward"], groups, (*loc, "forward"), scope
            ):
                used_groups.add(act["forward"])
            if "menu" in act and self._ref_scoped("menu", act["menu"], menus, (*loc, "menu"), scope):
                used_menus.add(act["menu"])

        for key in ("blocklists", "allowlists"):
            for i, name in enumerate(_l(tenant.get(key))):
                self.ref_list(name, (*base, key, i))
        for i, window in enumerate(_l(tenant.get("tags"))):
            self.check_window(window, (*base, "tags", i))
        rates = _s(_d(tenant.get("package")).get("rates"))
        if rates is not None and self.ref("rate table", rates, self.rates, (*base, "package", "rates")):
            self.used["rates"].add(rates)

        for gname, group in groups.items():
            group = _d(group)
            gloc = (*base, "groups", gname)
            strategy = group.get("strategy", "sequential")
            for i, target in enumerate(_l(group.get("targets"))):
                if isinstance(target, dict) and len(_given(target, ("number", "uri"))) != 1:
                    self.out.error((*gloc, "targets", i), "a target needs exactly one of number, uri")
                target = _d(target)
                self.normalize_later(target.get("number"), (*gloc, "targets", i, "number"))
                if "schedule" in target:
                    self.ref_schedule(target["schedule"], (*gloc, "targets", i, "schedule"))
                regions = _l(target.get("regions"))
                for j, entry in enumerate(regions):
                    self.check_place(entry, (*gloc, "targets", i, "regions", j))
                if regions and strategy != "region":
                    self.out.warn(
                        (*gloc, "targets", i, "regions"),
                        f"regions are only used by the region strategy (this group is {strategy})",
                    )
            if "overflow" in group:
                action(group["overflow"], (*gloc, "overflow"))
        self.check_overflow_cycles(base, groups)

        for mname, menu in menus.items():
            menu = _d(menu)
            mloc = (*base, "menus", mname)
            for key, act in _d(menu.get("options")).items():
                action(act, (*mloc, "options", key))
            for key in ("invalid", "timeout"):
                if key in menu:
                    action(menu[key], (*mloc, key))
        self.check_menu_graph(base, menus, groups)

        for number, spec in _d(tenant.get("numbers")).items():
            nloc = (*base, "numbers", number)
            if isinstance(number, str):
                served.append((number, nloc, str(tname)))
            flow = _l(_d(spec).get("flow"))
            self.check_flow(flow, (*nloc, "flow"), action)
        if not _d(tenant.get("numbers")):
            self.out.warn((*base,), f"tenant {tname!r} serves no number")

        for gname in groups:
            if isinstance(gname, str) and gname not in used_groups:
                self.out.warn((*base, "groups", gname), f"group {gname!r} is never used")
        for mname in menus:
            if isinstance(mname, str) and mname not in used_menus:
                self.out.warn((*base, "menus", mname), f"menu {mname!r} is never used")

    def _ref_scoped(self, kind: str, name: Any, known: dict[Any, Any], loc: Loc, scope: str) -> bool:
        if not isinstance(name, str):
            return False
        if name in known:
            return True
        self.out.error(loc, _unknown(kind, name, known, scope))
        return False

    def check_flow(self, flow: list[Any], loc: Loc, action: Callable[[Any, Loc, str], None]) -> None:
        ids: dict[str, int] = {}
        always_at: int | None = None
        for i, rule in enumerate(flow):
            if not isinstance(rule, dict):
                continue
            rloc = (*loc, i)
            rid = rule.get("id", f"r{i + 1}")
            if isinstance(rid, str):
                if rid in ids:
                    self.out.error(
                        (*rloc, "id") if "id" in rule else rloc,
                        f"rule id {rid!r} is already used by rule {ids[rid] + 1}",
                    )
                else:
                    ids[rid] = i
            when = rule.get("when")
            if isinstance(when, dict):
                self.check_conditions(when, (*rloc, "when"))
            if always_at is not None:
                self.out.warn(
                    rloc,
                    f"rule {i + 1} can never be reached: rule {always_at + 1} has no `when` and always holds",
                )
            elif when is None or when == {}:
                always_at = i
            action(rule, rloc, "a rule")
        if flow and always_at is None:
            last = len(flow) - 1
            self.out.error(
                (*loc, last),
                "the flow can leave a call undecided: every rule has a `when`; "
                "end it with a rule without `when` (it always holds)",
            )
        elif always_at is not None and isinstance(flow[-1], dict) and flow[-1].get("when") not in (None, {}):
            # plan-format.md: "every flow must end in one" (a rule without `when`), as the
            # engine's compiler requires; rules after the one that always holds are dead.
            self.out.error(
                (*loc, len(flow) - 1),
                f"a flow must end in its rule without `when`: rule {always_at + 1} always holds, "
                "so the rules after it can never be reached; remove them",
            )

    def check_conditions(self, when: dict[Any, Any], loc: Loc) -> None:
        for key in ("schedule", "not_schedule"):
            if key in when:
                self.ref_schedule(when[key], (*loc, key))
        lists = when.get("caller_list")
        if isinstance(lists, str):
            self.ref_list(lists, (*loc, "caller_list"))
        else:
            for i, name in enumerate(_l(lists)):
                self.ref_list(name, (*loc, "caller_list", i))
        for i, entry in enumerate(_l(when.get("caller_region"))):
            self.check_place(entry, (*loc, "caller_region", i))
        if "dates" in when:
            self.check_window(when["dates"], (*loc, "dates"))

    def check_overflow_cycles(self, base: Loc, groups: dict[Any, Any]) -> None:
        nxt: dict[str, str] = {}
        for gname, group in groups.items():
            target = _s(_d(_d(group).get("overflow")).get("forward"))
            if isinstance(gname, str) and target is not None and target in groups:
                nxt[gname] = target
        reported: set[frozenset[str]] = set()
        for start in nxt:
            chain = [start]
            cur = start
            while cur in nxt:
                cur = nxt[cur]
                if cur in chain:
                    cycle = chain[chain.index(cur) :]
                    key = frozenset(cycle)
                    if key not in reported:
                        reported.add(key)
                        shown = " → ".join([*cycle, cur])
                        self.out.error(
                            (*base, "groups", cycle[-1], "overflow", "forward"),
                            f"overflow cycle between groups: {shown}",
                        )
                    break
                chain.append(cur)

    def check_menu_graph(self, base: Loc, menus: dict[Any, Any], groups: dict[Any, Any]) -> None:
        """Menu cycles and depth (plan-format.md: at most 3 levels, no cycle). A menu's key leads
        to a menu directly, or through a group whose overflow (after a chain of overflow
        forwards) is a menu: the engine walks the keys left through that menu too, so it nests
        one level below (docs/decisions.md)."""
        # menu → [(next menu, where the key's action is, groups passed through on the way)]
        edges: dict[str, list[tuple[str, Loc, tuple[str, ...]]]] = {}
        for mname, menu in menus.items():
            if not isinstance(mname, str):
                continue
            menu = _d(menu)
            out: list[tuple[str, Loc, tuple[str, ...]]] = []
            acts = [((*base, "menus", mname, "options", k), a) for k, a in _d(menu.get("options")).items()]
            acts += [((*base, "menus", mname, k), menu[k]) for k in ("invalid", "timeout") if k in menu]
            for loc, act in acts:
                act = _d(act)
                if len(_given(act, ACTION_KEYS)) != 1:
                    continue  # reported; following two actions would invent paths
                sub = _s(act.get("menu"))
                if sub is not None and sub in menus:
                    out.append((sub, (*loc, "menu"), ()))
                group = _s(act.get("forward"))
                if group is not None:
                    reached = _overflow_menu(group, groups, menus)
                    if reached is not None:
                        out.append((reached[0], (*loc, "forward"), reached[1]))
            edges[mname] = out

        def shown(steps: list[tuple[str, tuple[str, ...]]]) -> str:
            text = steps[0][0]
            for menu, via in steps[1:]:
                text += "".join(f" → group {g} (overflow)" for g in via) + f" → {menu}"
            return text

        # cycles (a menu that can reach itself), each reported once
        state: dict[str, int] = {}
        reported: set[frozenset[str]] = set()
        stack: list[tuple[str, tuple[str, ...]]] = []  # (menu, groups passed through to reach it)

        def visit(m: str, via: tuple[str, ...]) -> None:
            state[m] = 1
            stack.append((m, via))
            for sub, loc, sub_via in edges.get(m, []):
                if state.get(sub) == 1:
                    at = next(i for i, (name, _) in enumerate(stack) if name == sub)
                    cycle = stack[at:]
                    key = frozenset(name for name, _ in cycle)
                    if key not in reported:
                        reported.add(key)
                        self.out.error(loc, f"menu cycle: {shown([*cycle, (sub, sub_via)])}")
                elif sub not in state:
                    visit(sub, sub_via)
            stack.pop()
            state[m] = 2

        for m in edges:
            if m not in state:
                visit(m, ())

        # depth: the longest chain from a menu no other menu leads to
        children = {s for outs in edges.values() for s, _, _ in outs}
        deep_reported: set[str] = set()

        def walk(chain: list[tuple[str, tuple[str, ...]]]) -> None:
            for sub, loc, via in edges.get(chain[-1][0], []):
                if any(name == sub for name, _ in chain):
                    continue  # a cycle, reported above
                if len(chain) + 1 > MAX_MENU_DEPTH:
                    if sub not in deep_reported:
                        deep_reported.add(sub)
                        self.out.error(
                            loc,
                            f"menu {sub!r} would be level {len(chain) + 1} ({shown([*chain, (sub, via)])}): "
                            f"menus nest at most {MAX_MENU_DEPTH} levels",
                        )
                    continue
                walk([*chain, (sub, via)])

        for m in edges:
            if m not in children:
                walk([(m, ())])
        # The two recursive closures refer to themselves through their cells: a cycle holding
        # this checker and the whole plan data until a full collection, which the loader's GC
        # pause makes rare; a server reloading often grew by the plan's size per reload.
        visit = walk = None  # type: ignore[assignment]

    # --- whole plan ---------------------------------------------------------------------------

    def normalize_later(self, number: Any, loc: Loc) -> None:
        if isinstance(number, str) and _syntax.number_problem(number) is None:
            self.to_normalize.append((number, loc, None, None))

    def _normalized(self, texts: list[str], rough: Callable[[str], str | None]) -> list[str | None]:
        """The engine's national forms of `texts` (None where it refuses one), or `rough`'s while
        the engine's normaliser is not at hand (region tables not loaded yet)."""
        if self.normalize_many is not None:
            try:
                return list(self.normalize_many(texts))
            except Exception:  # tables not loaded yet (NotReadyError): compare a simpler form
                pass
        return [rough(t) for t in texts]

    def check_normalized(self) -> None:
        """Numbers (targets, list numbers, list-file entries) whose format passes but that the
        engine's normaliser refuses, e.g. `0086` (nothing after the country code): the compiler
        would refuse them."""
        if not self.to_normalize:
            return
        texts = [t for t, _, _, _ in self.to_normalize]
        normal = self._normalized(texts, _rough_if_short)
        for (text, loc, file, line), norm in zip(self.to_normalize, normal, strict=True):
            if norm is not None:
                continue
            reason = self.number_reason(text) if self.number_reason is not None else None
            if reason is None:
                rough = _syntax.rough_national(text) or ""
                reason = f"not a number: {text!r}: its national form {rough!r} is not a number"
            if file is not None:
                self.out.errors.append(RawIssue(loc, f"list {loc[1]!r}: {reason}", file, line))
            else:
                self.out.error(loc, reason)

    def check_duplicates(self, served: list[tuple[str, Loc, str]]) -> None:
        if not served:
            return
        texts = [n for n, _, _ in served]
        normal = self._normalized(texts, _syntax.rough_national)
        seen: dict[str, tuple[str, str]] = {}
        for (text, loc, tname), norm in zip(served, normal, strict=True):
            if norm is None:
                if _syntax.number_problem(text) is None:  # a format error is reported by the model
                    self.out.error(loc, f"{text!r} is not a number routecore can serve")
                continue
            if norm in seen:
                other_text, other_tenant = seen[norm]
                self.out.error(
                    loc,
                    f"number {text!r} ({norm}) is already served by tenant {other_tenant!r} "
                    f"as {other_text!r}: a number belongs to one flow",
                )
            else:
                seen[norm] = (text, tname)

    def warn_unused(self) -> None:
        for kind, defined, key in (
            ("calendar", self.calendars, "calendars"),
            ("schedule", self.schedules, "schedules"),
            ("list", self.lists, "lists"),
            ("rates", self.rates, "rates"),
        ):
            for name in defined:
                if not isinstance(name, str) or name in self.used[kind]:
                    continue
                if kind == "calendar" and name == "cn":
                    continue  # already an error: `cn` is built in
                if kind == "rates" and name == "default":
                    continue
                what = "rate table" if kind == "rates" else kind
                self.out.warn((key, name), f"{what} {name!r} is never used")

    def check_holiday_years(self) -> None:
        uses_calendar = any(_s(_d(s).get("calendar")) is not None for s in self.schedules.values())
        if not uses_calendar or self.missing_years is None:
            return
        years = {self.today.year, self.today.year + 1}
        for cal in self.calendars.values():
            for key in ("closed", "open"):
                years.update(d.year for d in _l(_d(cal).get(key)) if isinstance(d, date))
        try:
            missing = sorted(set(self.missing_years(sorted(years))))
        except Exception as exc:  # the calendar module is another helper's; never fail a check on it
            self.out.warn(("schedules",), f"could not ask the holiday data which years it covers: {exc}")
            return
        if missing:
            shown = ", ".join(str(y) for y in missing)
            self.out.warn(
                ("schedules",),
                f"no official holiday data for {shown}: the cn calendar treats those years as plain weeks",
            )


def _overflow_menu(
    group: str, groups: dict[Any, Any], menus: dict[Any, Any]
) -> tuple[str, tuple[str, ...]] | None:
    """The menu a forward to `group` ends in when no target is eligible (following overflow
    forwards), and the groups on the way; None when it ends in anything else. A chain that
    goes round is an overflow cycle, reported on its own."""
    passed: list[str] = []
    while group in groups and group not in passed:
        passed.append(group)
        overflow = _d(_d(groups[group]).get("overflow"))
        if len(_given(overflow, ACTION_KEYS)) != 1:
            return None  # none, or more than one (reported)
        menu, forward = _s(overflow.get("menu")), _s(overflow.get("forward"))
        if menu is not None:
            return (menu, tuple(passed)) if menu in menus else None
        if forward is None:
            return None
        group = forward
    return None


def _rough_if_short(text: str) -> str | None:
    """The rough national form while the engine's normaliser is not at hand: at most 22 digits
    (`+` and 20 digits is `00` and 20), and something after a country code."""
    rough = _syntax.rough_national(text)
    return rough if rough is not None and 0 < len(rough) <= 22 and rough != "0" else None


def default_missing_years() -> Callable[[list[int]], Iterable[int]] | None:
    """`routecore.calendar.missing_years` when that module exists (written by another helper)."""
    try:
        module = importlib.import_module("routecore.calendar")
    except ImportError:
        return None
    fn = getattr(module, "missing_years", None)
    return fn if callable(fn) else None
