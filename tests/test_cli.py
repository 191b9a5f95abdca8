"""The `routecore` command line (python/routecore/cli.py), run in-process with typer's runner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from routecore.cli import app
from typer.testing import CliRunner

SPEC = Path(__file__).resolve().parent.parent.parent / "shared" / "spec" / "acceptance"
runner = CliRunner()


def test_route_json_on_a_plan() -> None:
    result = runner.invoke(
        app,
        [
            "route",
            "4001234567",
            "+86 138 0013 8000",
            "--digits",
            "1",
            "--at",
            "2026-11-11T10:00:00+08:00",
            "--plan",
            str(SPEC / "plan.yaml"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["action"] == "FORWARD"
    assert [t["number"] for t in d["targets"]] == ["13800000010", "13800000011", "075586000010"]
    assert d["caller"]["province"] == "北京"
    # As the HTTP twin answers (the first target's SIP URI on top), with the trace.
    assert d["uri"] == d["uris"][0] and d["uri"].startswith("sip:13800000010@")
    assert d["trace"]


def test_route_readable_with_trace_on_the_demo_plan() -> None:
    result = runner.invoke(app, ["route", "4006666666", "15907550000", "--at", "2026-11-11T10:00:00+08:00"])
    assert result.exit_code == 0, result.output
    assert "FORWARD" in result.stdout
    assert "075586000100" in result.stdout
    assert "trace" in result.stdout


def test_route_bad_number_exits_1_with_the_reason() -> None:
    result = runner.invoke(app, ["route", "40012345AB", "13800138000"])
    assert result.exit_code == 1
    assert "InvalidNumberError" in result.output and "position 8" in result.output


def test_check_clean_plan_and_bad_plan(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["check", str(SPEC / "plan.yaml")])
    assert ok.exit_code == 0, ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        'version: 1\ntenants:\n  t:\n    numbers:\n      "4001234567":\n        flow:\n'
        "          - {when: {schedule: nope}, announce: x}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == 1
    assert "nope" in result.output
    assert "undecided" in result.output or "no `when`" in result.output or "last rule" in result.output


def test_classify_and_pool(tmp_path: Path) -> None:
    result = runner.invoke(app, ["classify", "4008888888", "4001234567", "4001689527"])
    assert result.exit_code == 0, result.output
    assert "top" in result.stdout and "special" in result.stdout and "ordinary" in result.stdout
    pool = tmp_path / "pool.txt"
    pool.write_text("4001238888\n4001234567\n4005558888\n4001689527\n", encoding="ascii")
    result = runner.invoke(app, ["pool", str(pool), "--pattern", "_400XXX8888"])
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["4001238888", "4005558888"]


def test_demo_runs() -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "13800138000" in result.stdout and "FORWARD" in result.stdout


def test_bench_prints_in_process_and_wire_figures() -> None:
    result = runner.invoke(app, ["bench", "--calls", "200"])
    assert result.exit_code == 0, result.output
    for label in ("Engine.route", "route_many", "RouteCall", "GET /v1/route"):
        assert label in result.stdout


@pytest.mark.parametrize(
    ("token_file", "error"),
    [("missing", "FileNotFoundError"), (".", "IsADirectoryError"), ("gbk", "UnicodeDecodeError")],
)
def test_serve_admin_token_file_that_cannot_be_read_is_one_line(
    tmp_path: Path, token_file: str, error: str
) -> None:
    """A process of its own: `serve` sets up the process's logging. It exits before listening."""
    path = {"missing": tmp_path / "missing", ".": tmp_path, "gbk": tmp_path / "token"}[token_file]
    if token_file == "gbk":
        path.write_bytes("口令".encode("gbk"))
    done = subprocess.run(
        [
            *(sys.executable, "-m", "routecore", "serve", "--grpc", "127.0.0.1:0", "--http", "off"),
            *("--admin-token-file", path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr  # one line, no traceback
    assert done.stderr.startswith(f"{error}: {path}: cannot read the admin token: ")


def _cdr(tmp_path: Path) -> Path:
    from routecore.records import CallEvent, SqliteRecordStore

    with SqliteRecordStore(tmp_path / "r.db") as store:
        store.append(CallEvent.create("c1", "ENDED", "13800000010", "2026-11-11T10:00:00+08:00", 61))
    return tmp_path / "r.db"


@pytest.mark.parametrize(
    "args",
    [
        ["stats", "--cdr", "{cdr}", "--csv", "{nodir}/bills.csv"],
        ["stats", "--cdr", "{cdr}", "--html", "{nodir}/report.html"],
        ["stats", "--cdr", "{cdr}", "--png-dir", "{file}/charts"],
        ["simulate", "--calls", "20", "--html", "{nodir}/report.html"],
        ["simulate", "--calls", "20", "--png-dir", "{file}/charts"],
        ["simulate", "--calls", "20", "--replay-csv", "{gbk}"],
    ],
    ids=["stats-csv", "stats-html", "stats-png", "simulate-html", "simulate-png", "simulate-replay-gbk"],
)
def test_files_that_cannot_be_written_or_read_are_one_line(tmp_path: Path, args: list[str]) -> None:
    gbk = tmp_path / "calls.csv"
    gbk.write_bytes("时间,被叫,主叫\n".encode("gbk"))
    places = {"cdr": _cdr(tmp_path), "nodir": tmp_path / "nodir", "file": gbk, "gbk": gbk}
    result = runner.invoke(app, [a.format(**places) for a in args])
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, OSError | UnicodeDecodeError), result.exception
    [line] = [x for x in result.output.splitlines() if x.strip()]
    assert line.split(":")[0] in ("FileNotFoundError", "NotADirectoryError", "UnicodeDecodeError"), line
    assert str(tmp_path) in line and ": cannot " in line


def test_pool_file_reads_as_a_list_file_and_matches_patterns_on_the_national_form(tmp_path: Path) -> None:
    """`#` starts a comment (also after a number), blank lines and a UTF-8 BOM are skipped, and
    every accepted form is normalised before the pattern is matched (rust/lists.rs, list files)."""
    pool = tmp_path / "pool.txt"
    pool.write_text(
        "\ufeff# candidates, 2026-11\n"
        "4001238888  # note\n"
        "\n"
        "400-555-8888\n"
        "+86 400 777 8888\r\n"
        "   # indented comment\n"
        "4001234567\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["pool", str(pool), "--pattern", "_400XXX8888"])
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["4001238888", "4005558888", "4007778888"]
    assert result.stderr.strip() == "3 matching number(s)"
    # Class and tags judged the same lines (a commented line is no longer "not a number").
    result = runner.invoke(app, ["pool", str(pool), "--tag", "repeat-4", "--class", "special"])
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["4001238888", "4005558888", "4007778888"]


def test_pool_file_that_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["pool", str(tmp_path / "missing.txt")])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"FileNotFoundError: {tmp_path / 'missing.txt'}: cannot read it: ")


def test_pool_file_bad_lines_are_named_by_line_and_the_rest_is_filtered(tmp_path: Path) -> None:
    pool = tmp_path / "pool.txt"
    pool.write_bytes(b"4001238888\nabc\n4005558888 # ok\nanonymous\n400\xb5\xe7\xbb\xb08888\n")
    result = runner.invoke(app, ["pool", str(pool), "--pattern", "_400XXX8888"])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stdout.split() == ["4001238888", "4005558888"]
    # One line each, `ListError: FILE:LINE: why` (the form of a list file's problems).
    *bad, summary = result.stderr.splitlines()
    assert [line.split(": ")[0] for line in bad] == ["ListError"] * 3, result.stderr
    assert f"{pool}:2: not a number: " in bad[0] and "'a'" in bad[0]
    assert f"{pool}:4: " in bad[1] and "anonymous" in bad[1]
    assert f"{pool}:5: " in bad[2] and "UTF-8" in bad[2]
    assert summary == "2 matching number(s); 3 bad line(s) skipped"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["route", "4006666666", "13800138000", "--at", "nope"], "InvalidArgumentError: --at: "),
        (["route", "4006666666", "13800138000", "--digits", "9x"], "InvalidArgumentError: --digits: "),
        (["route", "", "13800138000"], "InvalidArgumentError: CALLED: "),
        (["route", "4006666666", "abc"], "InvalidNumberError: CALLER: "),
        (["pool", "{numbers}", "--class", "bogus"], "InvalidArgumentError: --class: "),
        (["pool", "{numbers}", "--tag", "bogus"], "InvalidArgumentError: --tag: "),
        (["stats", "--cdr", "{cdr}", "--month", "2026-13"], "InvalidArgumentError: --month: "),
        (["simulate", "--calls", "-5"], "InvalidArgumentError: --calls: "),
        (["simulate", "--day", "2026-13-01"], "InvalidArgumentError: --day: "),
        (["simulate", "--days", "0"], "InvalidArgumentError: --days: 0 is not a positive number of days"),
        (["simulate", "--answer", "2"], "InvalidArgumentError: --answer: "),
        (["simulate", "--handling", "0"], "InvalidArgumentError: --handling: "),
        (["simulate", "--handling-cv", "-1"], "InvalidArgumentError: --handling-cv: "),
        (["simulate", "--patience", "-1"], "InvalidArgumentError: --patience: "),
        (["simulate", "--blocked-share", "2"], "InvalidArgumentError: --blocked-share: "),
        (["simulate", "--replay-csv", "{csv}"], "InvalidArgumentError: --replay-csv: no call to replay"),
        (["simulate", "--replay-cdr", "{cdr}"], "InvalidArgumentError: --replay-cdr: "),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_errors_name_the_flag_typed_not_the_python_parameter(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    """The library names its parameters (`class_:`, `span_seconds:`); the CLI names its flags."""
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("4008888888\n", encoding="utf-8")
    csv = tmp_path / "calls.csv"
    csv.write_text("at,called,caller\n", encoding="utf-8")  # no call
    cdr = tmp_path / "empty.db"
    from routecore.records import SqliteRecordStore

    SqliteRecordStore(cdr).close()
    places = {"numbers": numbers, "csv": csv, "cdr": cdr}
    result = runner.invoke(app, [a.format(**places) for a in args])
    assert result.exit_code == 1, result.output
    [line] = [x for x in result.stderr.splitlines() if x.strip()]  # (simulate's progress bar ends a line)
    assert line.startswith(expected), result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--state", "redis://127.0.0.1:1", "--state-prefix", "a b"],
            "InvalidArgumentError: --state-prefix: ",
        ),
        (["--state", "redis://127.0.0.1:1"], "NotReadyError: --state: cannot reach Redis at "),
    ],
    ids=["state-prefix", "state"],
)
def test_serve_errors_name_the_flag_typed(args: list[str], expected: str) -> None:
    """A process of its own: `serve` sets up the process's logging. It exits before listening."""
    done = subprocess.run(
        [sys.executable, "-m", "routecore", "serve", "--grpc", "127.0.0.1:0", "--http", "off", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(expected), done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr  # one line, no traceback


def test_classify_answers_every_good_number_and_names_each_bad_one() -> None:
    result = runner.invoke(app, ["classify", "4008888888", "abc", "400-123-4567", "", "4001689527"])
    assert result.exit_code == 1, result.output
    rows = [line.split("│")[1:4] for line in result.stdout.splitlines() if line.startswith("│")]
    assert [[cell.strip() for cell in row] for row in rows] == [
        ["4008888888", "top", "repeat-7"],
        ["400-123-4567", "special", "ascending-7"],
        ["4001689527", "ordinary", ""],
    ], result.stdout
    bad = result.stderr.splitlines()
    assert len(bad) == 2, result.stderr
    assert bad[0].startswith("InvalidNumberError: argument 2 ('abc'): not a number: "), bad[0]
    assert "'a' at position 0" in bad[0]
    assert bad[1] == "InvalidNumberError: argument 4 (''): empty or withheld: no number to classify"
    assert ": number:" not in result.stderr  # the library's parameter name


def test_stats_for_a_tenant_with_no_calls_warns_on_stderr(tmp_path: Path) -> None:
    cdr = _cdr(tmp_path)
    result = runner.invoke(app, ["stats", "--cdr", str(cdr), "--tenant", "nobody"])
    assert result.exit_code == 0, result.output  # an empty report is still an answer
    assert result.stderr.strip() == "warning: stats: no calls for tenant 'nobody'", result.stderr
    # With the plan: said whether the plan knows the tenant; the JSON on stdout stays clean.
    plan = str(SPEC / "plan.yaml")
    result = runner.invoke(
        app,
        ["stats", "--cdr", str(cdr), "--plan", plan, "--month", "2026-11", "--tenant", "nobody", "--json"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stats"]["calls"] == 0
    assert result.stderr.strip() == (
        "warning: stats: no calls for tenant 'nobody' in 2026-11, and the plan has no such tenant"
    ), result.stderr
    result = runner.invoke(
        app, ["stats", "--cdr", str(cdr), "--plan", plan, "--month", "2026-11", "--tenant", "shop", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert [b["tenant"] for b in json.loads(result.stdout)["bills"]] == ["shop"]  # its fee is due
    assert result.stderr.strip() == "warning: stats: no calls for tenant 'shop' in 2026-11", result.stderr
    result = runner.invoke(app, ["stats", "--cdr", str(cdr), "--json"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_simulate_seed_and_handling_cv_out_of_range_are_refused() -> None:
    result = runner.invoke(app, ["simulate", "--calls", "20", "--seed", "-1"])
    assert result.exit_code == 2, result.output  # a usage error, not an OverflowError traceback
    assert not isinstance(result.exception, OverflowError), result.exception
    assert "--seed" in result.output
    result = runner.invoke(app, ["simulate", "--calls", "20", "--handling-cv", "0", "--json"])
    assert result.exit_code == 1, result.output  # was taken as 1.0
    assert "InvalidArgumentError: --handling-cv: 0 is not a positive" in result.stderr


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--grace", "-1"), ("--grace", "nan"), ("--max-in-flight", "0"), ("--max-queued", "0")],
)
def test_serve_refuses_limits_out_of_range_before_it_starts(flag: str, value: str) -> None:
    result = runner.invoke(app, ["serve", "--http", "off", "--grpc", "127.0.0.1:0", flag, value])
    assert result.exit_code == 2, result.output  # a usage error: nothing was started
    assert flag in result.output


@pytest.mark.parametrize("month", ["2026-1", "2026-13", "2026-1x"])
def test_stats_month_is_exactly_yyyy_mm(tmp_path: Path, month: str) -> None:
    cdr = _cdr(tmp_path)
    plan = str(SPEC / "plan.yaml")
    result = runner.invoke(app, ["stats", "--cdr", str(cdr), "--plan", plan, "--month", month, "--json"])
    assert result.exit_code == 1, result.output  # '2026-1' billed a phantom month with its fee
    assert result.stderr.strip() == f"InvalidArgumentError: --month: {month!r} is not YYYY-MM", result.stderr
    assert result.stdout == ""


def test_stats_never_creates_or_changes_the_file_it_is_given(tmp_path: Path) -> None:
    empty = tmp_path / "x.txt"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_bytes(b"not a database\n" * 10)
    for path in (empty, text):
        before = path.read_bytes()
        result = runner.invoke(app, ["stats", "--cdr", str(path)])
        assert result.exit_code == 1, result.output  # was 0, and x.txt became a 36 KB database
        assert result.stderr.strip() == f"StoreUnavailableError: {path}: not a record database", result.stderr
        assert path.read_bytes() == before
    # A real database is read, not written: same bytes, same mtime afterwards.
    cdr = _cdr(tmp_path)
    before, mtime = cdr.read_bytes(), cdr.stat().st_mtime_ns
    result = runner.invoke(app, ["stats", "--cdr", str(cdr), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stats"]["calls"] == 1
    assert (cdr.read_bytes(), cdr.stat().st_mtime_ns) == (before, mtime)


def test_stats_names_a_directory_and_a_device(tmp_path: Path) -> None:
    result = runner.invoke(app, ["stats", "--cdr", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == f"IsADirectoryError: {tmp_path}: is a directory", result.stderr
    result = runner.invoke(app, ["stats", "--cdr", "/dev/null"])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == "OSError: /dev/null: is not a regular file", result.stderr


def test_a_read_only_store_refuses_what_is_not_a_record_database(tmp_path: Path) -> None:
    from routecore.records import SqliteRecordStore, StoreUnavailableError

    empty = tmp_path / "x.txt"
    empty.write_bytes(b"")
    with pytest.raises(StoreUnavailableError, match=r"x\.txt: not a record database$"):
        SqliteRecordStore(empty, read_only=True)
    assert empty.read_bytes() == b""
    with pytest.raises(FileNotFoundError):
        SqliteRecordStore(tmp_path / "nope.db", read_only=True)
    assert not (tmp_path / "nope.db").exists()
    with pytest.raises(IsADirectoryError):
        SqliteRecordStore(tmp_path, read_only=True)
    store = SqliteRecordStore(_cdr(tmp_path), read_only=True)
    try:
        assert [r.call_id for r in store.records()] == ["c1"]
    finally:
        store.close()


@pytest.mark.parametrize("flag", ["--replay-csv", "--replay-cdr"])
def test_simulate_replay_file_missing_or_a_directory_is_one_line(tmp_path: Path, flag: str) -> None:
    nope = tmp_path / ("nope.csv" if flag == "--replay-csv" else "nope.db")
    result = runner.invoke(app, ["simulate", flag, str(nope)])
    assert result.exit_code == 1, result.output  # was 2, with a usage box
    assert result.stderr.strip() == f"FileNotFoundError: {nope}: cannot read it: No such file or directory"
    assert not nope.exists()
    result = runner.invoke(app, ["simulate", flag, str(tmp_path)])
    assert result.exit_code == 1, result.output  # was 'no such file'
    assert result.stderr.strip() == f"IsADirectoryError: {tmp_path}: is a directory", result.stderr


def test_simulate_replay_cdr_is_read_only(tmp_path: Path) -> None:
    empty = tmp_path / "x.db"
    empty.write_bytes(b"")
    result = runner.invoke(app, ["simulate", "--replay-cdr", str(empty)])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == f"StoreUnavailableError: {empty}: not a record database", result.stderr
    assert empty.read_bytes() == b""


def test_simulate_replays_one_source_only(tmp_path: Path) -> None:
    csv = tmp_path / "calls.csv"
    csv.write_text("at,called,caller\n2026-11-11T10:00:00+08:00,4001234567,13800100001\n", encoding="utf-8")
    result = runner.invoke(app, ["simulate", "--replay-csv", str(csv), "--replay-cdr", str(_cdr(tmp_path))])
    assert result.exit_code == 2, result.output  # the database was silently ignored
    assert "--replay-csv" in result.output and "--replay-cdr" in result.output


def test_serve_listens_on_a_unix_socket_for_grpc(tmp_path: Path) -> None:
    """`--grpc unix:PATH` is grpc's own address form, not refused as a HOST:PORT would be."""
    import time

    import grpc
    from routecore.v1 import routing_pb2 as pb
    from routecore.v1 import routing_pb2_grpc as pb_grpc

    socket = tmp_path / "routecore.sock"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "routecore", "serve", "--grpc", f"unix:{socket}", "--http", "off"],
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 30
        while not socket.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert socket.exists(), log.read_text(errors="replace")
        with grpc.insecure_channel(f"unix:{socket}") as channel:
            router = pb_grpc.RouterStub(channel)
            d = router.RouteCall(pb.RouteRequest(called="4001234567", caller="13800138000"), timeout=10)
        assert d.tenant and d.plan_version
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_simulate_off_a_terminal_writes_only_its_error_line_to_stderr() -> None:
    """The progress bar is for a terminal: piped, standard error holds the one-line error and
    nothing else (the transient bar used to leave a blank line before it)."""
    done = subprocess.run(
        [sys.executable, "-m", "routecore", "simulate", "--calls", "100", "--days", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("InvalidArgumentError: --days: ") and done.stderr.count("\n") == 1
