"""NumberList (rust/lists.rs, rust/bloom.rs) through Python: forms, list files, live changes, exactness."""

import random
import re
import threading
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from routecore import (
    InvalidArgumentError,
    InvalidNumberError,
    ListError,
    NumberList,
)

# numbers.md: every one of these is 13800138000.
MOBILE_FORMS = [
    "13800138000",
    "138 0013 8000",
    "138-0013-8000",
    "+8613800138000",
    "008613800138000",
    "8613800138000",
    "+86 138 0013 8000",
    "tel:+86-138-0013-8000",
    "sip:13800138000@10.0.0.1;user=phone",
]


@pytest.mark.parametrize("listed", MOBILE_FORMS)
def test_every_form_finds_every_form(listed: str) -> None:
    numbers = NumberList([listed])
    assert len(numbers) == 1
    assert numbers.numbers() == ["13800138000"]
    for query in MOBILE_FORMS:
        assert query in numbers, query
    assert "13800138001" not in numbers


def test_landlines_and_international_forms() -> None:
    numbers = NumberList(["+86 10 1234 5678", "0755-8600-0000", "+1 415 555 0100"])
    assert "01012345678" in numbers
    assert "8675586000000" in numbers
    assert "+86 755 8600 0000" in numbers
    assert "0014155550100" in numbers
    assert "075586000001" not in numbers
    assert sorted(numbers) == ["0014155550100", "01012345678", "075586000000"]


def test_anonymous_caller_is_never_listed_and_cannot_be_listed() -> None:
    numbers = NumberList(["13800138000"])
    for withheld in ["", "anonymous", "Private", "sip:anonymous@anonymous.invalid"]:
        assert withheld not in numbers
        with pytest.raises(InvalidNumberError, match="anonymous"):
            numbers.add(withheld)
    with pytest.raises(InvalidNumberError, match=r"numbers\[1\]"):
        NumberList(["13800138000", "unknown"])


def test_bad_arguments() -> None:
    with pytest.raises(InvalidNumberError, match=r"numbers\[2\].*'x'"):
        NumberList(["110", "120", "13x"])
    with pytest.raises(TypeError):
        NumberList("13800138000")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        NumberList([13800138000])  # type: ignore[list-item]
    for rate in [0.0, 1.0, -0.1, float("nan")]:
        with pytest.raises(InvalidArgumentError, match="fp_rate"):
            NumberList([], fp_rate=rate)
    # A size no list can have is refused by name, not attempted (a panic) or Python's OverflowError.
    for expected in [-1, 10**12, 10**30]:
        with pytest.raises(InvalidArgumentError, match=rf"^expected: {expected} is not a number of numbers"):
            NumberList([], expected=expected)
        with pytest.raises(InvalidArgumentError, match=r"^expected: "):
            NumberList.from_text("13800138000", expected=expected)
    numbers = NumberList(["13800138000"])
    with pytest.raises(InvalidNumberError, match="number"):
        _ = "138abc" in numbers
    with pytest.raises(TypeError):
        _ = 13800138000 in numbers
    with pytest.raises(InvalidNumberError, match=r"numbers\[1\]"):
        numbers.contains_many(["13800138000", "+86+138"])


FILE_TEXT = (
    "\ufeff# numbers reported as fraud (诈骗)\n"  # 1 (with a byte-order mark)
    "13700000000\n"  # 2
    "\n"  # 3
    "150 0000 0000   # reported twice\n"  # 4
    "   # an indented comment\n"  # 5
    "13800000001#no space before the comment\n"  # 6
    "call me\n"  # 7: bad
    "021-0000-0000\r\n"  # 8: CRLF
    "anonymous\n"  # 9: bad (withheld)
    "１３８００１３８０００\n"  # 10: bad (full-width digits)
    "+86 186 0000 0000\n"  # 11
    "13700000000\n"  # 12: duplicate, merged
    "  \t  \n"  # 13
    "123456789012345678901"  # 14: bad (21 digits), no final newline
)


def test_list_text_comments_and_bad_lines() -> None:
    numbers = NumberList.from_text(FILE_TEXT, source="fraud.txt")
    assert numbers.source == "fraud.txt"
    assert numbers.numbers() == ["02100000000", "13700000000", "13800000001", "15000000000", "18600000000"]
    assert [line for line, _ in numbers.problems] == [7, 9, 10, 14]
    reasons = dict(numbers.problems)
    assert "'c' at position 0" in reasons[7]
    assert "anonymous" in reasons[9]
    assert "ASCII digit" in reasons[10]
    assert "21 digits" in reasons[14]
    assert "#" not in "".join(numbers)


def test_strict_load_raises_on_the_first_bad_line() -> None:
    with pytest.raises(ListError, match=r"^fraud\.txt:7: .*and 3 more bad line"):
        NumberList.from_text(FILE_TEXT, "fraud.txt", strict=True)
    clean = NumberList.from_text("13700000000\n# ok\n", strict=True)
    assert len(clean) == 1
    assert clean.problems == []


def test_from_file(tmp_path: Path, spec_dir: Path) -> None:
    fraud = NumberList.from_file(spec_dir / "acceptance" / "lists" / "fraud.txt")
    assert fraud.problems == []
    lines = (spec_dir / "acceptance" / "lists" / "fraud.txt").read_text().splitlines()
    entries = [e for e in (line.split("#")[0].strip() for line in lines) if e]
    assert entries
    assert len(fraud) == len(entries)
    assert all(entry in fraud for entry in entries)

    # A GBK comment is not UTF-8: it spoils nothing but its own comment.
    path = tmp_path / "gbk.txt"
    path.write_bytes("13700000000 # 诈骗\n".encode("gbk") + b"\xff\xfe oops\n13900000000\n")
    loaded = NumberList.from_file(str(path))
    assert loaded.source == str(path)
    assert "13700000000" in loaded
    assert "13900000000" in loaded
    assert [line for line, _ in loaded.problems] == [2]
    assert loaded.problems[0][1].startswith("not UTF-8 text (GBK perhaps?)"), loaded.problems
    with pytest.raises(FileNotFoundError, match=r"missing\.txt: "):
        NumberList.from_file(tmp_path / "missing.txt")
    with pytest.raises(IsADirectoryError, match=re.escape(f"{tmp_path}: ")):
        NumberList.from_file(tmp_path)
    with pytest.raises(ListError, match=r"gbk\.txt:2:"):
        NumberList.from_file(path, strict=True)


def test_add_and_remove() -> None:
    numbers = NumberList(["13800138000", "075586000000"])
    assert numbers.add("+86 139 0013 9000") is True
    assert numbers.add("13900139000") is False
    assert numbers.add("138-0013-8000") is False
    assert len(numbers) == 3
    assert "139 0013 9000" in numbers
    assert numbers.remove("+86 755 8600 0000") is True
    assert numbers.remove("075586000000") is False
    assert numbers.remove("13600136000") is False
    assert "075586000000" not in numbers
    assert len(numbers) == 2
    numbers.compact()
    assert sorted(numbers) == ["13800138000", "13900139000"]
    assert numbers.add("075586000000") is True
    assert "075586000000" in numbers
    with pytest.raises(InvalidNumberError):
        numbers.remove("nope")


def test_bytes_round_trip() -> None:
    numbers = NumberList(["13800138000", "075586000000", "110", "00123456789012345678"], fp_rate=0.001)
    numbers.add("13900139000")
    numbers.remove("110")
    data = numbers.to_bytes()
    assert isinstance(data, bytes)
    back = NumberList.from_bytes(data)
    assert back.numbers() == numbers.numbers()
    assert back.fp_rate == pytest.approx(0.001)
    assert back.source == "<bytes>"
    assert "00123456789012345678" in back
    for broken in [b"", b"RCNL", data[:-1], data + b"\0", b"XXXX" + data[4:]]:
        with pytest.raises(InvalidArgumentError, match="data"):
            NumberList.from_bytes(broken)


def test_memory_is_reported() -> None:
    empty = NumberList()
    grown = NumberList.from_text("\n".join(str(13000000000 + 17 * i) for i in range(100_000)))
    assert len(grown) == 100_000
    # Scattered numbers are kept in buckets of one line, a filter word and the numbers'
    # remainders (64 bytes for ~16 numbers): about 4 bytes a number, within the
    # list's budget of 12.
    assert grown.memory_bytes() > empty.memory_bytes() + 3 * 100_000
    assert grown.memory_bytes() <= 5 * 100_000


def test_a_whole_block_of_numbers_answers_exactly_and_compactly() -> None:
    # 0755 8600 0000 to 0755 8609 9999: every number, kept as bitmaps (a bit a number).
    block = [f"0755860{i:05}" for i in range(100_000)]
    numbers = NumberList.from_text("\n".join(block))
    spread = NumberList.from_text("\n".join(f"07558{i * 17:07}" for i in range(100_000)))
    assert len(numbers) == len(spread) == 100_000
    assert numbers.memory_bytes() < spread.memory_bytes()
    model = set(block)
    for gone in block[:50] + block[70_000:70_050]:
        assert numbers.remove(f"+86 755 {gone[4:]}")
        model.discard(gone)
    assert numbers.add("075586100000")
    model.add("075586100000")
    probes = [f"07558{i:07}" for i in range(5_990_000, 6_110_010)] + ["13800138000"]
    for step in ["live", "compacted", "round trip"]:
        if step == "compacted":
            numbers.compact()
        elif step == "round trip":
            numbers = NumberList.from_bytes(numbers.to_bytes())
        assert numbers.contains_many(probes) == [p in model for p in probes], step
        assert [p in numbers for p in probes[::97]] == [p in model for p in probes[::97]], step
        assert len(numbers) == len(model)


@pytest.mark.parametrize("fp_rate", [0.01, 0.3])
def test_no_false_positive_over_a_large_sample(fp_rate: float) -> None:
    # 0.3: the filter lets a third of the foreign numbers through; the exact store must stop them all.
    rng = random.Random(20260401)
    sample = rng.sample(range(13_000_000_000, 19_999_999_999), 2_000_000)
    listed = [str(n) for n in sample[:1_000_000]]
    foreign = [str(n) for n in sample[1_000_000:]]
    numbers = NumberList.from_text("\n".join(listed), fp_rate=fp_rate)
    assert len(numbers) == 1_000_000
    assert numbers.problems == []
    assert all(numbers.contains_many(listed))
    assert not any(numbers.contains_many(foreign))
    # The single-number path agrees on a part of each.
    assert all(n in numbers for n in listed[:20_000])
    assert not any(n in numbers for n in foreign[:20_000])


def test_a_large_list_answers_repeated_lookups_truly_across_live_changes() -> None:
    # 2.5M scattered numbers: a table of ~16 MB, large enough to keep recent answers
    # (rust/recent.rs). The same numbers asked round after round are answered from them,
    # and a live change or a compaction must never leave an old answer behind.
    rng = random.Random(20261205)
    sample = rng.sample(range(13_000_000_000, 19_999_999_999), 2_520_000)
    listed = [str(n) for n in sample[:2_500_000]]
    numbers = NumberList.from_text("\n".join(listed))
    asked = listed[:10_000] + [str(n) for n in sample[2_500_000:]]
    model = set(listed)
    for _ in range(6):
        assert [q in numbers for q in asked] == [q in model for q in asked]
    for q in asked[:500]:
        assert numbers.remove(q)
        model.discard(q)
    for q in asked[-500:]:
        assert numbers.add(f"+86 {q}")
        model.add(q)
    for step in ["live", "compacted"]:
        if step == "compacted":
            numbers.compact()
        for _ in range(3):
            assert [q in numbers for q in asked] == [q in model for q in asked], step
    assert len(numbers) == len(model)
    assert numbers.memory_bytes() <= 12 * len(numbers)


FORMATS = [
    lambda n: n,
    lambda n: f"+86{n}",
    lambda n: f"0086 {n[:3]} {n[3:7]} {n[7:]}",
    lambda n: f"{n[:3]}-{n[3:7]}-{n[7:]}",
    lambda n: f"tel:+86-{n}",
    lambda n: f"sip:{n}@10.0.0.1;user=phone",
]


def _apply(numbers: NumberList, model: set[str], ops: Iterable[tuple[str, str, str]]) -> None:
    """Applies `(op, number, as written)` to the list and to its model, checking each answer and
    the length after each step."""
    for op, plain, form in ops:
        if op == "add":
            assert numbers.add(form) is (plain not in model)
            model.add(plain)
        elif op == "remove":
            assert numbers.remove(form) is (plain in model)
            model.discard(plain)
        else:
            numbers.compact()
        assert len(numbers) == len(model)


universe = st.integers(0, 299).map(lambda i: f"1380000{i:04}")
formatted = st.tuples(universe, st.sampled_from(FORMATS)).map(lambda t: (t[0], t[1](t[0])))


@given(
    initial=st.lists(universe, max_size=100),
    ops=st.lists(st.tuples(st.sampled_from(["add", "remove", "compact"]), formatted), max_size=120),
)
def test_matches_a_set_model(initial: list[str], ops: list[tuple[str, tuple[str, str]]]) -> None:
    model = set(initial)
    numbers = NumberList(initial)
    _apply(numbers, model, ((op, plain, form) for op, (plain, form) in ops))
    everything = [f"1380000{i:04}" for i in range(300)]
    assert numbers.contains_many(everything) == [n in model for n in everything]
    assert sorted(numbers) == sorted(model)


BLOCK = [f"1380000{i:04}" for i in range(10_000)]  # a whole block: kept as a bitmap, no filter
near_block = st.integers(0, 10_299).map(lambda i: f"138000{i:05}")  # the block and just past it


@given(
    gone=st.sets(st.integers(0, len(BLOCK) - 1), max_size=40),
    ops=st.lists(st.tuples(st.sampled_from(["add", "remove", "compact"]), near_block), max_size=60),
)
def test_a_dense_block_matches_a_set_model(gone: set[int], ops: list[tuple[str, str]]) -> None:
    # A number in a dense run is answered by its bit alone; live changes and compaction must
    # still agree with a set, inside the run, at its edges and past it.
    model = set(BLOCK) - {BLOCK[i] for i in gone}
    numbers = NumberList(sorted(model))
    _apply(numbers, model, ((op, number, number) for op, number in ops))
    probes = [f"138000{i:05}" for i in range(10_300)] + ["13799999999", "13900000000"]
    assert numbers.contains_many(probes) == [p in model for p in probes]
    assert [p in numbers for p in probes[::7]] == [p in model for p in probes[::7]]
    assert len(numbers) == len(model)


def test_threads_read_while_one_writes() -> None:
    stable = [f"1390000{i:04}" for i in range(2000)]
    absent = [f"1370000{i:04}" for i in range(2000)]
    churn = [f"1360000{i:04}" for i in range(500)]
    numbers = NumberList.from_text("\n".join(stable))
    stop = threading.Event()
    failures: list[str] = []

    def reader(batch: bool) -> None:
        while not stop.is_set():
            if batch:
                ok = all(numbers.contains_many(stable)) and not any(numbers.contains_many(absent))
            else:
                ok = all(n in numbers for n in stable[::7]) and not any(n in numbers for n in absent[::7])
            if not ok:
                failures.append("wrong answer")
                return

    def writer() -> None:
        try:
            for rnd in range(40):
                for n in churn:
                    numbers.add(n)
                for n in churn:
                    assert n in numbers
                for n in churn:
                    numbers.remove(n)
                if rnd % 10 == 9:
                    numbers.compact()
        except AssertionError:
            failures.append("writer lost an add")
        finally:
            stop.set()

    readers = [threading.Thread(target=reader, args=(i % 2 == 0,)) for i in range(4)]
    for t in readers:
        t.start()
    writer()
    for t in readers:
        t.join()
    assert failures == []
    assert len(numbers) == len(stable)
    assert not any(numbers.contains_many(churn))


def test_lone_surrogates_are_not_numbers_and_spoil_only_their_line() -> None:
    """Text decoded with `surrogateescape` (bytes that were not UTF-8): the invalid-number
    error naming the argument, never a raw UnicodeEncodeError; in a list's text, one bad line."""
    bad = "\udcff13800138000"
    numbers = NumberList(["13800138000"])
    for call in (lambda: bad in numbers, lambda: numbers.add(bad), lambda: numbers.remove(bad)):
        with pytest.raises(InvalidNumberError, match="number: "):
            call()
    with pytest.raises(InvalidNumberError, match=r"numbers\[1\]"):
        numbers.contains_many(["13800138000", bad])
    with pytest.raises(InvalidNumberError, match=r"numbers\[0\]"):
        NumberList([bad])
    loaded = NumberList.from_text(f"13800138000\n{bad}\n13900139000\n")
    assert len(loaded) == 2 and [line for line, _ in loaded.problems] == [2]


def test_list_file_text_keeps_every_line_and_names_the_bad_ones() -> None:
    from routecore._routecore import list_file_text

    data = "13700000000 # 张三\n".encode("gbk") + "北京\n".encode("gbk") + b"\n13900000000\r\n\xff#x"
    text, bad = list_file_text(data)
    # Line for line: a GBK comment is dropped, a line whose entry is not UTF-8 is kept empty.
    assert text.split("\n") == ["13700000000 ", "", "", "13900000000\r", ""]
    assert [line for line, _ in bad] == [2, 5]
    assert bad[0][1] == (
        "not UTF-8 text (GBK perhaps?): byte 1 of the line is not UTF-8; save the file as UTF-8"
    )
    # A file that is UTF-8 throughout comes back as it is.
    assert list_file_text(b"13700000000\n") == ("13700000000\n", [])
    # A byte-order mark is no part of the first line: its bad byte is counted after the mark, as
    # `routecore pool FILE` counts it.
    from routecore._routecore import pool_lines

    marked = b"\xef\xbb\xbf13\xff8\n"
    assert list_file_text(marked)[1] == pool_lines(marked)[1]
    assert "byte 3 of the line" in list_file_text(marked)[1][0][1]
