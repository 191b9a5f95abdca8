"""A real switch end to end (examples/kamailio/), everything on 127.0.0.1.

sipp calls Kamailio; Kamailio asks a `routecore serve` process over HTTP/JSON for every new
INVITE and relays to the targets it is given, which are sipp agents (UAS) on their own ports;
the call reports Kamailio posts to `/v1/events` must end up as records in routecore's SQLite
store. The plan is the example's (examples/kamailio/plan.yaml) with its loopback ports moved to
free ones: its targets are SIP URIs on the agents' ports, and its `gateway` is a third agent
standing for the trunk that number targets go through.

Every process (routecore, Kamailio, each sipp) is started by the test, bounded in time, and
stopped by its PID in a `finally`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "kamailio"
SCENARIOS = EXAMPLE / "sipp"
PLAN = EXAMPLE / "plan.yaml"  # its agents' and trunk's loopback ports are moved to free ones


def _ring_of_agent_a() -> int:
    """Seconds agent A rings in the `desk` group before the switch fails over to agent B."""
    desk = yaml.safe_load(PLAN.read_text(encoding="utf-8"))["tenants"]["clinic"]["groups"]["desk"]
    return int(desk["targets"][0]["ring_seconds"])


RING_A = _ring_of_agent_a()
BLOCKED = "13900000666"  # on the plan's `fraud` list
CALLER = "13800138000"


def plan_text(ports: Ports) -> str:
    text = PLAN.read_text(encoding="utf-8")
    for fixed, free in ((5070, ports.trunk), (5071, ports.agent_a), (5072, ports.agent_b)):
        assert f"127.0.0.1:{fixed}" in text
        text = text.replace(f"127.0.0.1:{fixed}", f"127.0.0.1:{free}")
    return text


# --- processes -----------------------------------------------------------------------------------


def free_port(kind: int) -> int:
    """A port the kernel just gave out on 127.0.0.1 (UDP or TCP), free again once returned."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM to the process by its PID, SIGKILL if it has not exited within `grace` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def which(name: str) -> str | None:
    """A program on PATH, or in /usr/sbin (where Debian puts kamailio) when PATH lacks it."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin")


@pytest.fixture(scope="module")
def tools() -> dict[str, str]:
    """kamailio and sipp, installed from Debian by tools/system-deps.sh when missing."""
    if not (which("kamailio") and which("sipp")):
        packages = ["kamailio", "kamailio-utils-modules", "kamailio-extra-modules", "sip-tester"]
        subprocess.run([str(ROOT / "tools" / "system-deps.sh"), *packages], check=True, timeout=900)
    found = {name: which(name) for name in ("kamailio", "sipp")}
    for name, path in found.items():
        if path is None:
            pytest.fail(f"{name} is not installed and tools/system-deps.sh did not install it")
    return {name: str(path) for name, path in found.items()}


@dataclass
class Routecore:
    proc: subprocess.Popen[bytes]
    http_port: int
    db: Path
    log: Path

    def records(self, call_id: str, timeout: float = 5.0) -> dict[str, Any] | None:
        """The call's CDR row, waited for up to `timeout` s (None if it never came)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.db.exists():
                with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5) as conn:
                    conn.row_factory = sqlite3.Row
                    try:
                        row = conn.execute("SELECT * FROM calls WHERE call_id = ?", (call_id,)).fetchone()
                    except sqlite3.OperationalError:
                        row = None
                if row is not None:
                    return dict(row)
            if time.monotonic() > deadline:
                return None
            time.sleep(0.1)

    def events(self, call_id: str) -> list[tuple[str, str]]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5) as conn:
            rows = conn.execute("SELECT type, target FROM events WHERE call_id = ? ORDER BY seq", (call_id,))
            return [(str(t), str(target)) for t, target in rows]


def wait_http(port: int, proc: subprocess.Popen[Any], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"routecore serve exited {proc.returncode}:\n{log.read_text()}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise AssertionError(f"routecore serve did not answer /healthz in {timeout} s:\n{log.read_text()}")


@dataclass(frozen=True)
class Ports:
    kamailio: int
    agent_a: int
    agent_b: int
    trunk: int


@pytest.fixture(scope="module")
def ports() -> Ports:
    picked: set[int] = set()
    while len(picked) < 4:
        picked.add(free_port(socket.SOCK_DGRAM))
    k, a, b, t = sorted(picked)
    return Ports(kamailio=k, agent_a=a, agent_b=b, trunk=t)


@pytest.fixture(scope="module")
def routecore_serve(tmp_path_factory: pytest.TempPathFactory, ports: Ports) -> Iterator[Routecore]:
    with serving(tmp_path_factory.mktemp("routecore"), plan_text(ports)) as served:
        yield served


@contextlib.contextmanager
def serving(work: Path, plan_yaml: str) -> Iterator[Routecore]:
    """`routecore serve` on `plan_yaml` with a SQLite record store, HTTP on a free port."""
    work.mkdir(parents=True, exist_ok=True)
    plan = work / "plan.yaml"
    plan.write_text(plan_yaml, encoding="utf-8")
    http_port = free_port(socket.SOCK_STREAM)
    db, log = work / "records.db", work / "routecore.log"
    cmd = [
        sys.executable, "-m", "routecore", "serve", "--plan", str(plan),
        "--grpc", f"127.0.0.1:{free_port(socket.SOCK_STREAM)}",
        "--http", f"127.0.0.1:{http_port}", "--cdr", str(db),
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    try:
        wait_http(http_port, proc, log)
        yield Routecore(proc, http_port, db, log)
    finally:
        stop(proc)


@dataclass
class Kamailio:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path


def start_kamailio(binary: str, work: Path, port: int, routecore_url: str) -> Kamailio:
    """Kamailio in the foreground (-DD -E) on the example config, its runtime dir and PID file
    under `work`; returns once it answers SIP (an OPTIONS gets its 405)."""
    run = work / "run"
    run.mkdir(parents=True, exist_ok=True)
    log = work / "kamailio.log"
    cmd = [
        binary, "-DD", "-E", "-f", str(EXAMPLE / "kamailio.cfg"),
        "-Y", str(run), "-P", str(run / "kamailio.pid"), "-m", "64", "-M", "8",
        "-A", f"LISTEN=udp:127.0.0.1:{port}",
        "-A", f'ROUTECORE_URL="{routecore_url}"',
        "-A", "ROUTECORE_TIMEOUT=1",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=work)
    try:
        wait_sip(port, proc, log)
    except BaseException:
        stop(proc)
        raise
    return Kamailio(proc, port, log)


def wait_sip(port: int, proc: subprocess.Popen[Any], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.3)
        me = s.getsockname()[1]
        n = 0
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"kamailio exited {proc.returncode}:\n{log.read_text()}")
            n += 1
            options = (
                f"OPTIONS sip:ping@127.0.0.1:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK-ready-{n}\r\n"
                f"From: <sip:probe@127.0.0.1:{me}>;tag=probe{n}\r\n"
                f"To: <sip:ping@127.0.0.1:{port}>\r\n"
                f"Call-ID: ready-{n}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\n"
                "Max-Forwards: 5\r\nContent-Length: 0\r\n\r\n"
            )
            s.sendto(options.encode(), ("127.0.0.1", port))
            try:
                data = s.recv(65536)
            except OSError:
                continue
            if data.startswith(b"SIP/2.0 "):
                return
    raise AssertionError(f"kamailio did not answer SIP in {timeout} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def kamailio(
    tools: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    ports: Ports,
    routecore_serve: Routecore,
) -> Iterator[Kamailio]:
    k = start_kamailio(
        tools["kamailio"],
        tmp_path_factory.mktemp("kamailio"),
        ports.kamailio,
        f"http://127.0.0.1:{routecore_serve.http_port}",
    )
    try:
        yield k
    finally:
        stop(k.proc)


class Sipp:
    """One sipp process (a caller or an agent), bounded by sipp's own -timeout and ours."""

    def __init__(self, binary: str, work: Path, name: str, args: list[str], limit: float) -> None:
        self.work = work
        self.name = name
        self.log = work / f"{name}.log"
        self.messages = work / f"{name}.messages"
        self.limit = limit
        cmd = [
            binary, *args, "-nostdin", "-timeout", f"{int(limit)}s", "-timeout_error",
            "-trace_logs", "-log_file", str(self.log),
            "-trace_msg", "-message_file", str(self.messages),
            "-trace_err", "-error_file", str(work / f"{name}.errors"),
        ]  # fmt: skip
        self.stderr = work / f"{name}.stderr"
        with self.stderr.open("wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=work)

    def wait(self) -> int:
        try:
            self.proc.wait(self.limit + 10)
        finally:
            stop(self.proc, grace=2)
        return int(self.proc.returncode)

    def logged(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def received(self) -> str:
        return self.messages.read_bytes().decode("utf-8", "replace") if self.messages.exists() else ""

    def explain(self) -> str:
        errors = self.work / f"{self.name}.errors"
        logged = errors.read_text(errors="replace") if errors.exists() else ""
        return f"{self.name}: rc={self.proc.returncode}\n{self.stderr.read_text(errors='replace')}\n{logged}"


def udp_bound(port: int) -> bool:
    """Whether some socket holds UDP `port` (read from /proc: probing by binding could race the agent)."""
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table, encoding="ascii") as f:
            next(f)
            for line in f:
                local = line.split()[1]
                if int(local.rpartition(":")[2], 16) == port:
                    return True
    return False


def wait_bound(port: int, agent: Sipp, timeout: float = 10.0) -> None:
    """Returns once the agent holds its UDP port (so the switch's INVITE is not sent to nobody)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if agent.proc.poll() is not None:
            raise AssertionError(agent.explain())
        if udp_bound(port):
            return
        time.sleep(0.05)
    raise AssertionError(f"{agent.name} did not bind 127.0.0.1:{port} in {timeout} s")


@dataclass
class Phone:
    """Starts sipp callers and agents for one test, and stops every one of them at the end."""

    sipp: str
    work: Path
    ports: Ports
    started: list[Sipp]

    def agent(self, name: str, port: int, behaviour: str, calls: int = 1) -> Sipp:
        s = Sipp(
            self.sipp,
            self.work,
            name,
            ["-sf", str(SCENARIOS / f"agent_{behaviour}.xml"), "-i", "127.0.0.1", "-mi", "127.0.0.1",
             "-p", str(port), "-m", str(calls)],
            limit=30,
        )  # fmt: skip
        self.started.append(s)
        wait_bound(port, s)
        return s

    def call(
        self, called: str, caller: str, call_id: str, scenario: str = "caller", hold_ms: int = 1200
    ) -> Sipp:
        s = Sipp(
            self.sipp,
            self.work,
            f"caller-{call_id}",
            ["-sf", str(SCENARIOS / f"{scenario}.xml"), "-s", called, "-key", "caller", caller,
             "-cid_str", call_id, "-i", "127.0.0.1", "-mi", "127.0.0.1",
             "-p", str(free_port(socket.SOCK_DGRAM)), "-m", "1", "-d", str(hold_ms),
             f"127.0.0.1:{self.ports.kamailio}"],
            limit=30,
        )  # fmt: skip
        self.started.append(s)
        return s


@pytest.fixture
def phone(tools: dict[str, str], tmp_path: Path, ports: Ports, kamailio: Kamailio) -> Iterator[Phone]:
    p = Phone(tools["sipp"], tmp_path, ports, [])
    try:
        yield p
    finally:
        for s in p.started:
            stop(s.proc, grace=2)


def final_status(messages: str) -> tuple[int, str]:
    """The last final (>= 200) status line the caller received: (code, reason)."""
    found = re.findall(r"^SIP/2\.0 ([2-6]\d\d) ([^\r\n]*)", messages, re.MULTILINE)
    assert found, f"no final response in:\n{messages}"
    code, reason = found[-1]
    return int(code), reason


def invites(agent: Sipp) -> list[str]:
    """The Call-IDs of the INVITEs an agent received (from its log)."""
    return re.findall(r"INVITE call-id=(\S+)", agent.logged())


# --- the calls -----------------------------------------------------------------------------------


def test_a_call_reaches_the_first_agent_and_becomes_a_record(
    phone: Phone, ports: Ports, routecore_serve: Routecore
) -> None:
    a = phone.agent("agent-a", ports.agent_a, "answer")
    b = phone.agent("agent-b", ports.agent_b, "answer")
    caller = phone.call("4001234567", CALLER, "e2e-answered")
    assert caller.wait() == 0, caller.explain()
    assert a.wait() == 0, a.explain()
    assert invites(a) == ["e2e-answered"]
    assert f"request=INVITE sip:agent-a@127.0.0.1:{ports.agent_a} " in a.logged()
    assert "BYE call-id=e2e-answered" in a.logged(), "the hang-up went through the switch to the agent"
    stop(b.proc, grace=2)
    assert invites(b) == [], "the second agent is not rung when the first answers"

    cdr = routecore_serve.records("e2e-answered")
    assert cdr is not None, routecore_serve.log.read_text()
    assert cdr["target"] == f"sip:agent-a@127.0.0.1:{ports.agent_a}"
    who = (cdr["tenant"], cdr["called"], cdr["caller"], cdr["rule"])
    assert who == ("clinic", "4001234567", CALLER, "desk")
    assert cdr["disposition"] == "answered" and cdr["context_known"] == 1
    assert cdr["answered_at_ms"] is not None and cdr["answered_at_ms"] <= cdr["ended_at_ms"]
    # held for 1.2 s: the switch measures whole seconds of the confirmed dialog
    assert 1 <= cdr["duration_seconds"] <= 5
    assert cdr["rate_per_minute"] == pytest.approx(0.05) and cdr["billed_minutes"] == 1
    assert routecore_serve.events("e2e-answered") == [
        ("ANSWERED", cdr["target"]),
        ("ENDED", cdr["target"]),
    ]


def test_a_number_target_goes_through_the_plans_gateway(
    phone: Phone, ports: Ports, routecore_serve: Routecore
) -> None:
    trunk = phone.agent("trunk", ports.trunk, "answer")
    caller = phone.call("4006666666", CALLER, "e2e-trunk")
    assert caller.wait() == 0, caller.explain()
    assert trunk.wait() == 0, trunk.explain()
    assert invites(trunk) == ["e2e-trunk"]
    assert f"request=INVITE sip:13800000010@127.0.0.1:{ports.trunk} " in trunk.logged()
    cdr = routecore_serve.records("e2e-trunk")
    assert cdr is not None, routecore_serve.log.read_text()
    assert (cdr["target"], cdr["disposition"], cdr["rule"]) == ("13800000010", "answered", "mobile")
    assert cdr["rate_per_minute"] == pytest.approx(0.20)


def test_a_target_with_no_sip_uri_is_answered_480_and_reported_as_overflow(
    tools: dict[str, str], tmp_path: Path, ports: Ports
) -> None:
    """A plan without `gateway` behind a switch without TRUNK: the number target has no URI to
    ring (routecore's `uris` entry is ""), so the switch answers 480 and reports the call once,
    `overflow:failed` with no target: a switch of its own."""
    text = plan_text(ports)
    assert re.search(r"^gateway: ", text, re.MULTILINE)
    with serving(tmp_path / "routecore", re.sub(r"^gateway: .*$", "", text, flags=re.MULTILINE)) as served:
        port = free_port(socket.SOCK_DGRAM)
        switch = start_kamailio(
            tools["kamailio"], tmp_path / "kamailio", port, f"http://127.0.0.1:{served.http_port}"
        )
        phone = Phone(tools["sipp"], tmp_path, dataclasses.replace(ports, kamailio=port), [])
        try:
            refused = phone.call("4006666666", CALLER, "e2e-no-uri", scenario="caller_refused")
            assert refused.wait() == 0, refused.explain()
            assert final_status(refused.received()) == (480, "No Target")
            cdr = served.records("e2e-no-uri")
            assert cdr is not None, served.log.read_text()
            assert (cdr["disposition"], cdr["target"], cdr["answered_at_ms"]) == ("overflow:failed", "", None)
            assert served.events("e2e-no-uri") == [("ENDED", "")]
        finally:
            for s in phone.started:
                stop(s.proc, grace=2)
            stop(switch.proc)


def test_an_anonymous_caller_is_routed_as_anonymous(
    phone: Phone, ports: Ports, routecore_serve: Routecore
) -> None:
    # From: <sip:anonymous@…>: the switch asks with an empty caller, routecore's `anonymous` kind.
    a = phone.agent("agent-a", ports.agent_a, "answer")
    caller = phone.call("4001234567", "anonymous", "e2e-anonymous", hold_ms=200)
    assert caller.wait() == 0, caller.explain()
    assert a.wait() == 0, a.explain()
    cdr = routecore_serve.records("e2e-anonymous")
    assert cdr is not None, routecore_serve.log.read_text()
    assert (cdr["caller"], cdr["caller_kind"], cdr["context_known"]) == ("", "anonymous", 1)


@pytest.mark.parametrize(
    ("called", "caller", "code", "reason", "reported"),
    [
        pytest.param("4001234567", BLOCKED, 603, "诈骗", True, id="blocked-caller"),
        pytest.param("4008888888", CALLER, 480, "closed", True, id="flow-reject"),
        # not routecore's REJECT: no decision, nothing to report
        pytest.param("4009999999", CALLER, 404, "Not Found", False, id="not-served"),
        # the example plays nothing: an announcement needs a media server (MEDIA_URI)
        pytest.param("4003333333", CALLER, 480, "No Media Server", False, id="announce-without-media"),
    ],
)
def test_a_refused_call_gets_the_plans_sip_code_and_reason(
    phone: Phone,
    ports: Ports,
    routecore_serve: Routecore,
    called: str,
    caller: str,
    code: int,
    reason: str,
    reported: bool,
) -> None:
    a = phone.agent("agent-a", ports.agent_a, "answer")
    call_id = f"e2e-refused-{code}-{called}"
    refused = phone.call(called, caller, call_id, scenario="caller_refused")
    assert refused.wait() == 0, refused.explain()
    assert final_status(refused.received()) == (code, reason)
    stop(a.proc, grace=2)
    assert invites(a) == [], "a refused call rings nobody"
    if not reported:
        assert routecore_serve.records(call_id, timeout=0.5) is None
        return
    # A REJECT decision is reported as it ended, so that `routecore stats` counts it by reason.
    cdr = routecore_serve.records(call_id)
    assert cdr is not None, routecore_serve.log.read_text()
    assert (cdr["disposition"], cdr["target"], cdr["answered_at_ms"]) == (f"rejected:{reason}", "", None)


@pytest.mark.parametrize("first", ["no_answer", "busy"])
def test_the_second_agent_gets_the_call_when_the_first_does_not_take_it(
    phone: Phone, ports: Ports, routecore_serve: Routecore, first: str
) -> None:
    a = phone.agent("agent-a", ports.agent_a, first)
    b = phone.agent("agent-b", ports.agent_b, "answer")
    call_id = f"e2e-failover-{first}"
    started = time.monotonic()
    caller = phone.call("4001234567", CALLER, call_id)
    assert caller.wait() == 0, caller.explain()
    assert a.wait() == 0, a.explain()
    assert b.wait() == 0, b.explain()
    assert invites(a) == [call_id] and invites(b) == [call_id]
    if first == "no_answer":
        assert f"CANCEL call-id={call_id}" in a.logged(), "the unanswered agent is cancelled"
        # agent A rang for its ring_seconds before the switch moved on (a lower bound only)
        assert time.monotonic() - started >= RING_A
    cdr = routecore_serve.records(call_id)
    assert cdr is not None, routecore_serve.log.read_text()
    assert cdr["target"] == f"sip:agent-b@127.0.0.1:{ports.agent_b}"
    assert cdr["disposition"] == "answered"


def test_ring_all_rings_every_agent_and_reports_the_one_that_answered(
    phone: Phone, ports: Ports, routecore_serve: Routecore
) -> None:
    # Agent A (the first branch) only rings; B (the second) answers, and A is cancelled.
    a = phone.agent("agent-a", ports.agent_a, "no_answer")
    b = phone.agent("agent-b", ports.agent_b, "answer")
    caller = phone.call("4005555555", CALLER, "e2e-ring-all")
    assert caller.wait() == 0, caller.explain()
    assert a.wait() == 0 and b.wait() == 0, a.explain() + b.explain()
    assert invites(a) == ["e2e-ring-all"] and invites(b) == ["e2e-ring-all"]
    assert "CANCEL call-id=e2e-ring-all" in a.logged()
    cdr = routecore_serve.records("e2e-ring-all")
    assert cdr is not None, routecore_serve.log.read_text()
    assert (cdr["target"], cdr["rule"]) == (f"sip:agent-b@127.0.0.1:{ports.agent_b}", "all_hands")


def test_a_caller_who_hangs_up_while_it_rings_is_reported_abandoned(
    phone: Phone, ports: Ports, routecore_serve: Routecore
) -> None:
    a = phone.agent("agent-a", ports.agent_a, "no_answer")
    caller = phone.call("4001234567", CALLER, "e2e-canceled", scenario="caller_cancel", hold_ms=500)
    assert caller.wait() == 0, caller.explain()
    assert a.wait() == 0, a.explain()
    assert "CANCEL call-id=e2e-canceled" in a.logged(), "the caller's CANCEL reached the ringing agent"
    cdr = routecore_serve.records("e2e-canceled")
    assert cdr is not None, routecore_serve.log.read_text()
    assert (cdr["disposition"], cdr["answered_at_ms"]) == ("abandoned", None)
    assert cdr["target"] == f"sip:agent-a@127.0.0.1:{ports.agent_a}"


def test_every_agent_busy_is_reported_as_overflow(
    phone: Phone, ports: Ports, routecore_serve: Routecore
) -> None:
    a = phone.agent("agent-a", ports.agent_a, "busy")
    b = phone.agent("agent-b", ports.agent_b, "busy")
    refused = phone.call("4001234567", CALLER, "e2e-all-busy", scenario="caller_refused")
    assert refused.wait() == 0, refused.explain()
    assert final_status(refused.received())[0] == 486
    assert a.wait() == 0 and b.wait() == 0, a.explain() + b.explain()
    cdr = routecore_serve.records("e2e-all-busy")
    assert cdr is not None, routecore_serve.log.read_text()
    # The hunt ran out: `overflow` as routecore stats counts it, the last target's failure after it.
    assert (cdr["disposition"], cdr["duration_seconds"], cdr["answered_at_ms"]) == ("overflow:busy", 0, None)
    assert cdr["target"] == f"sip:agent-b@127.0.0.1:{ports.agent_b}"


@pytest.mark.parametrize("routecore", ["down", "silent"])
def test_routecore_unreachable_gives_503(
    tools: dict[str, str], tmp_path: Path, ports: Ports, routecore: str
) -> None:
    """A switch of its own whose routecore address has nobody listening (down), or a listener that
    never answers (silent: the switch gives up after its ROUTECORE_TIMEOUT, 1 s here)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        if routecore == "silent":
            silent.listen(8)
        address = f"http://127.0.0.1:{silent.getsockname()[1]}"
        port = free_port(socket.SOCK_DGRAM)
        k = start_kamailio(tools["kamailio"], tmp_path / "kam", port, address)
        try:
            phone = Phone(tools["sipp"], tmp_path, Ports(port, ports.agent_a, ports.agent_b, ports.trunk), [])
            a = phone.agent("agent-a", ports.agent_a, "answer")
            refused = phone.call(
                "4001234567", CALLER, f"e2e-routecore-{routecore}", scenario="caller_refused"
            )
            try:
                assert refused.wait() == 0, refused.explain()
                assert final_status(refused.received()) == (503, "Service Unavailable")
            finally:
                stop(a.proc, grace=2)
            assert invites(a) == []
        finally:
            stop(k.proc)
