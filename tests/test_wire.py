"""The wire contract: committed generated code is current, and the Rust codec (rust/wire.rs) speaks
the same bytes as the generated Python protobuf classes, both ways."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import routecore
from google.protobuf.json_format import MessageToDict
from hypothesis import given, settings
from hypothesis import strategies as st
from routecore import _routecore as rc
from routecore.cli import decision_dict
from routecore.v1 import routing_pb2 as pb

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
GENERATED = ROOT / "python" / "routecore" / "v1"


def test_generated_code_is_current(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    protos = sorted(str(p.relative_to(PROTOS)) for p in (PROTOS / "routecore" / "v1").glob("*.proto"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{PROTOS}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            *protos,
        ],
        check=True,
    )
    fresh = tmp_path / "routecore" / "v1"
    names = sorted(p.name for p in fresh.iterdir())
    assert names == sorted(p.name for p in GENERATED.glob("*_pb2*.py*")), "run `make proto`"
    diff = filecmp.cmpfiles(fresh, GENERATED, names, shallow=False)
    assert diff[1:] == ([], []), f"stale generated code {diff[1]}: run `make proto`"


# ---- the Rust codec against the generated Python classes ----

SPEC = ROOT.parent / "shared" / "spec" / "acceptance"
AT = "2026-11-11T10:00:00+08:00"
# (called, caller, digits): forward with number targets, menu, SIP targets, reject, announce.
CALLS = [
    ("4001234567", "13800138000", "1"),
    ("4001234567", "13800138000", ""),
    ("4001234567", "+86 138 0013 8000", "3"),
    ("4001234567", "13912345678", ""),
    ("4001234567", "17012345678", ""),
    ("4001234567", "", "1"),
    ("4006666666", "13923450000", ""),
]


@pytest.fixture(scope="module")
def loaded() -> Any:
    from routecore.plan import load_plan

    return load_plan(SPEC / "plan.yaml")


@pytest.fixture(scope="module")
def shared_engine(loaded: Any) -> routecore.Engine:
    return routecore.Engine.from_loaded(loaded)


def fresh(loaded: Any) -> routecore.Engine:
    return routecore.Engine.from_loaded(loaded)


def as_dict(msg: Any) -> dict[str, Any]:
    return MessageToDict(msg, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def expected(d: Any, gateway: str) -> dict[str, Any]:
    """The decision as the proto's JSON mapping would show it, built from the Python API."""
    out = decision_dict(d)
    for key in ("menu", "reject"):
        if out[key] is None:
            del out[key]
    first = d.targets[0] if d.targets else None
    out["uri"] = (first.uri or f"sip:{first.number}@{gateway}") if first else ""
    return out


@pytest.mark.parametrize("call", CALLS, ids=[f"{c[1] or 'anon'}-{c[2] or 'new'}" for c in CALLS])
def test_rust_decision_reads_in_python(loaded: Any, call: tuple[str, str, str]) -> None:
    called, caller, digits = call
    req = pb.RouteRequest(call_id="c-1", called=called, caller=caller, digits=digits, time=AT, explain=True)
    data = rc.route_wire(fresh(loaded), req.SerializeToString())
    msg = pb.RouteDecision.FromString(data)
    ref = fresh(loaded).route(called=called, caller=caller, digits=digits, at=AT, call_id="c-1", explain=True)
    got = as_dict(msg)
    want = expected(ref, "127.0.0.1:5070")
    # The JSON mapping drops the enum's zero and spells numbers per type: compare field by field.
    assert got.pop("action") == want.pop("action")
    assert got == want
    # Byte for byte what Python protobuf writes for the same message.
    assert msg.SerializeToString(deterministic=True) == data


def test_request_bytes_from_python_decode_in_rust(loaded: Any) -> None:
    engine = fresh(loaded)
    # No time: the server's clock; an unknown field (from a newer client) is skipped.
    req = pb.RouteRequest(call_id="新-1", called="4001234567", caller="13800138000")
    data = req.SerializeToString() + b"\xf8\x07\x01"  # field 127, varint 1
    msg = pb.RouteDecision.FromString(rc.route_wire(engine, data))
    assert msg.call_id == "新-1"
    assert msg.tenant == "clinic"
    assert msg.trace == []  # explain not set
    assert pb.RouteDecision.FromString(
        rc.route_wire(
            engine,
            pb.RouteRequest(called="4001234567", caller="13800138000", explain=True).SerializeToString(),
        )
    ).trace


def test_errors_raise_or_embed(loaded: Any) -> None:
    engine = fresh(loaded)
    bad = pb.RouteRequest(
        call_id="c-7", called="4001234567", caller="13800138000", digits="9x"
    ).SerializeToString()
    with pytest.raises(routecore.InvalidArgumentError, match="digits"):
        rc.route_wire(engine, bad)
    msg = pb.RouteDecision.FromString(rc.route_wire(engine, bad, embed_errors=True))
    assert (msg.call_id, msg.error.code, msg.action) == (
        "c-7",
        "INVALID_ARGUMENT",
        pb.RouteDecision.ACTION_UNSPECIFIED,
    )
    assert "digits" in msg.error.message
    missing = pb.RouteRequest(called="4009999999", caller="13800138000").SerializeToString()
    with pytest.raises(routecore.NotFoundError):
        rc.route_wire(engine, missing)
    with pytest.raises(routecore.InvalidNumberError, match="caller"):
        rc.route_wire(engine, pb.RouteRequest(called="4001234567", caller="abc").SerializeToString())
    with pytest.raises(routecore.InvalidArgumentError, match="time"):
        rc.route_wire(
            engine, pb.RouteRequest(called="4001234567", caller="1", time="noon").SerializeToString()
        )
    with pytest.raises(routecore.InvalidArgumentError, match="not a RouteRequest"):
        rc.route_wire(engine, b"\x0a\x05ab")


def test_batch_per_item_errors_in_order(loaded: Any) -> None:
    reqs = [
        pb.RouteRequest(call_id=f"b-{i}", called=called, caller=caller, digits=digits, time=AT)
        for i, (called, caller, digits) in enumerate(CALLS)
    ]
    reqs.insert(2, pb.RouteRequest(call_id="bad", called="4001234567", caller="13800138000", digits="?"))
    reqs.append(pb.RouteRequest(call_id="unknown", called="4009999999", caller="13800138000"))
    data = rc.route_batch_wire(fresh(loaded), pb.RouteBatchRequest(requests=reqs).SerializeToString())
    resp = pb.RouteBatchResponse.FromString(data)
    assert resp.SerializeToString(deterministic=True) == data
    assert [d.call_id for d in resp.decisions] == [r.call_id for r in reqs]
    assert resp.decisions[2].error.code == "INVALID_ARGUMENT"
    assert resp.decisions[-1].error.code == "NOT_FOUND"
    ref = fresh(loaded)
    for req, got in zip(reqs, resp.decisions, strict=True):
        if got.HasField("error"):
            continue
        want = ref.route(
            called=req.called, caller=req.caller, digits=req.digits, at=req.time, call_id=req.call_id
        )
        fields = as_dict(got)
        assert pb.RouteDecision.Action.Name(got.action) == fields.pop("action")
        assert fields == {k: v for k, v in expected(want, "127.0.0.1:5070").items() if k != "action"}
    with pytest.raises(routecore.InvalidArgumentError):
        rc.route_batch_wire(fresh(loaded), b"\xff\xff")
    assert pb.RouteBatchResponse.FromString(rc.route_batch_wire(fresh(loaded), b"")).decisions == []


def test_decision_json_is_decision_dict_plus_uris(loaded: Any) -> None:
    for called, caller, digits in CALLS:
        got = orjson.loads(rc.decision_json(fresh(loaded), called, caller, digits, "j-1", AT))
        d = fresh(loaded).route(called=called, caller=caller, digits=digits, at=AT, call_id="j-1")
        uris = [t.uri or f"sip:{t.number}@127.0.0.1:5070" for t in d.targets]
        want = {**decision_dict(d), "uri": uris[0] if uris else "", "uris": uris}
        assert got == want
    with pytest.raises(routecore.NotFoundError):
        rc.decision_json(fresh(loaded), "4009999999", "13800138000")
    with pytest.raises(routecore.InvalidNumberError):
        rc.decision_json(fresh(loaded), "4001234567", "not a number")


def test_route_json_decides_and_encodes_in_one_call(loaded: Any) -> None:
    import datetime as dt

    for called, caller, digits in CALLS:
        want = rc.decision_json(fresh(loaded), called, caller, digits, "j-1", AT)
        body, action, tenant, reason, kept = rc.route_json(fresh(loaded), called, caller, digits, AT, "j-1")
        assert (body, kept) == (want, None)
        doc = orjson.loads(body)
        assert (action, tenant) == (doc["action"], doc["tenant"])
        assert reason == (doc["reject"]["reason"] if doc["reject"] else "")
        # With `keep`, the decision itself (for the record store), the same one.
        _, _, _, _, kept = rc.route_json(fresh(loaded), called, caller, digits, AT, "j-1", keep=True)
        assert kept is not None and decision_dict(kept) == {
            k: v for k, v in doc.items() if k not in ("uri", "uris")
        }
    # Times as the HTTP server passes them: ISO 8601, epoch seconds, a datetime.
    epoch = dt.datetime.fromisoformat(AT).timestamp()
    by_iso = orjson.loads(rc.route_json(fresh(loaded), "4001234567", "13800138000", "1", AT)[0])
    for at in (epoch, int(epoch), dt.datetime.fromisoformat(AT)):
        got = orjson.loads(rc.route_json(fresh(loaded), "4001234567", "13800138000", "1", at)[0])
        assert got == by_iso
    with pytest.raises(routecore.NotFoundError):
        rc.route_json(fresh(loaded), "4009999999", "13800138000")
    with pytest.raises(routecore.InvalidArgumentError):
        rc.route_json(fresh(loaded), "4001234567", "13800138000", at="later")


def test_uri_of_a_sip_first_target_is_its_own(loaded: Any) -> None:
    got = orjson.loads(rc.decision_json(fresh(loaded), "4006666666", "13923450000", "", "", AT))
    assert got["uri"] == got["targets"][0]["uri"] == "sip:sales@127.0.0.1:5080"
    # The whole ordered list, the number target through the plan's gateway: sequential failover.
    assert got["uris"] == ["sip:sales@127.0.0.1:5080", "sip:13600000001@127.0.0.1:5070"]
    msg = pb.RouteDecision.FromString(
        rc.route_wire(
            fresh(loaded),
            pb.RouteRequest(called="4006666666", caller="13923450000", time=AT).SerializeToString(),
        )
    )
    assert msg.uri == "sip:sales@127.0.0.1:5080"


def test_stats_count_actions_tenants_reasons_errors(loaded: Any) -> None:
    engine, stats = fresh(loaded), rc.RouteStats()
    for called, caller, digits in CALLS:
        rc.route_wire(
            engine,
            pb.RouteRequest(called=called, caller=caller, digits=digits, time=AT).SerializeToString(),
            stats=stats,
        )
    with pytest.raises(routecore.NotFoundError):
        rc.route_wire(
            engine, pb.RouteRequest(called="4009999999", caller="1").SerializeToString(), stats=stats
        )
    batch = pb.RouteBatchRequest(
        requests=[pb.RouteRequest(called="4001234567", caller="13912345678", time=AT)] * 3
    )
    rc.route_batch_wire(engine, batch.SerializeToString(), stats=stats)
    rc.decision_json(engine, "4001234567", "13800138000", "", "", AT, stats=stats)
    snap = stats.snapshot()
    ref = fresh(loaded)
    actions: dict[str, int] = {}
    reasons: dict[str, int] = {}
    tenants: dict[str, int] = {}
    for called, caller, digits in [
        *CALLS,
        *[("4001234567", "13912345678", "")] * 3,
        ("4001234567", "13800138000", ""),
    ]:
        d = ref.route(called=called, caller=caller, digits=digits, at=AT)
        actions[d.action] = actions.get(d.action, 0) + 1
        tenants[d.tenant] = tenants.get(d.tenant, 0) + 1
        if d.reject:
            reasons[d.reject.reason] = reasons.get(d.reject.reason, 0) + 1
    assert snap["decisions"] == sum(actions.values())
    assert snap["by_action"] == actions
    assert snap["by_reason"] == reasons
    assert snap["by_tenant"] == tenants
    assert (snap["errors"], snap["by_error"]) == (1, {"NOT_FOUND": 1})


def test_update_list_live(loaded: Any) -> None:
    engine = fresh(loaded)
    caller = "13600000099"
    assert engine.route(called="4001234567", caller=caller, at=AT).action == "MENU"
    size, added, removed = engine.update_list("harass", add=[caller, "+86 136 0000 0099"])
    assert (size, added, removed) == (2, 1, 0)
    d = engine.route(called="4001234567", caller=caller, at=AT)
    assert (d.action, d.reject.sip_code, d.reject.reason) == ("REJECT", 603, "骚扰")
    assert engine.update_list("harass", remove=[caller]) == (1, 0, 1)
    assert engine.route(called="4001234567", caller=caller, at=AT).action == "MENU"
    with pytest.raises(routecore.NotFoundError):
        engine.update_list("nope", add=[caller])
    with pytest.raises(routecore.InvalidArgumentError):
        engine.update_list("virtual", add=[caller])
    with pytest.raises(routecore.InvalidNumberError, match=r"add\[1\]"):
        engine.update_list("harass", add=[caller, "abc"])
    assert engine.update_list("harass") == (1, 0, 0)  # nothing was added by the refused call


@settings(max_examples=200, deadline=None)
@given(
    call_id=st.text(max_size=30),
    caller=st.text(alphabet="0123456789+- ()abc", max_size=25),
    digits=st.text(alphabet="0123456789*#Tx", max_size=6),
    explain=st.booleans(),
)
def test_any_request_answers_one_decision_for_its_call(
    shared_engine: routecore.Engine, call_id: str, caller: str, digits: str, explain: bool
) -> None:
    req = pb.RouteRequest(
        call_id=call_id, called="4001234567", caller=caller, digits=digits, time=AT, explain=explain
    )
    msg = pb.RouteDecision.FromString(
        rc.route_wire(shared_engine, req.SerializeToString(), embed_errors=True)
    )
    if rc.first_unprintable(call_id) is not None:
        # A call id its events could not report is refused (or another field first), and not
        # echoed back.
        assert (msg.call_id, msg.error.code) == ("", "INVALID_ARGUMENT")
        return
    assert msg.call_id == call_id
    assert msg.HasField("error") != (msg.action != pb.RouteDecision.ACTION_UNSPECIFIED)
    if not msg.HasField("error"):
        assert bool(msg.trace) == explain
