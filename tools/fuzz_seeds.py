"""Writes the fuzzers' seed corpora (fuzz/seeds/<target>/) from the acceptance plan and vectors,
the demo plan and the test plans. The seeds are committed; run this again when those change:

    .venv/bin/python tools/fuzz_seeds.py

Targets: `number`, `pattern`, `yaml`, `plan`, `wire` (cargo fuzz, fuzz/fuzz_targets/) and `http`
(the HTTP request bodies of the atheris target, tests/fuzz/).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT.parent / "shared" / "spec" / "acceptance"
SEEDS = ROOT / "fuzz" / "seeds"

# Number forms of numbers.md beside the vectors' own.
NUMBERS = [
    "+86 138 0013 8000",
    "008613800138000",
    "8613800138000",
    "tel:+86-755-8600-0000",
    "sip:13800138000@10.0.0.1;user=phone",
    "sip:anonymous@anonymous.invalid",
    "+86 0755 8600 0000",
    "(0755) 8600-0000",
    "+44 20 7946 0000",
    "95588",
    "400-123-4567",
    "Anonymous",
    "+",
    "123456789012345678901234567890",
]
PATTERNS = ["_1380013XXXX", "_400XXX8888", "_[1-35#]XX.", "_170X.", "0755", "_138-0013-XXXX", "_!1X", "_N*#"]


def _put(target: str, name: str, data: bytes) -> None:
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def _hashed(target: str, data: bytes) -> None:
    _put(target, hashlib.sha1(data).hexdigest()[:16], data)


def _engine_doc(path: Path) -> bytes:
    """The engine's plan document (JSON, defaults filled), a NUL, then its first file list."""
    from routecore.plan import load_plan

    loaded = load_plan(path)
    lists = "".join(loaded.list_texts[name] for name in sorted(loaded.list_texts)[:1])
    return loaded.to_engine_json() + b"\0" + lists.encode()


def main() -> None:
    from routecore.v1 import routing_pb2 as pb

    shutil.rmtree(SEEDS, ignore_errors=True)
    vectors = [json.loads(line) for line in (SPEC / "vectors.jsonl").read_text("utf-8").splitlines() if line]
    requests = [s["request"] for v in vectors for s in v.get("steps", [v]) if "request" in s]

    numbers = sorted({r.get(k, "") for r in requests for k in ("called", "caller")} | set(NUMBERS))
    for n in numbers:
        _hashed("number", n.encode())

    callers = sorted({r.get("caller", "") for r in requests})
    for i, p in enumerate(PATTERNS):
        _hashed("pattern", f"{p}\n{PATTERNS[(i + 1) % len(PATTERNS)]}\n{callers[i % len(callers)]}".encode())

    plans = [SPEC / "plan.yaml", ROOT / "python" / "routecore" / "demo_plan.yaml"]
    plans += sorted((ROOT / "tests" / "plans").glob("*.yaml"))
    for p in plans:
        _hashed("yaml", p.read_bytes())

    _put("plan", "acceptance", _engine_doc(SPEC / "plan.yaml"))
    _put("plan", "demo", _engine_doc(ROOT / "python" / "routecore" / "demo_plan.yaml"))
    _put("plan", "minimal", _engine_doc(ROOT / "tests" / "plans" / "good_minimal.yaml"))

    messages = [pb.RouteRequest(**{"call_id": f"v{i}", "explain": True, **r}) for i, r in enumerate(requests)]
    for m in messages[:40]:
        _hashed("wire", m.SerializeToString())
    _put("wire", "batch", pb.RouteBatchRequest(requests=messages[:8]).SerializeToString())

    # http: a mode byte (tests/fuzz_targets.py: 0 head, 1 form, 2 JSON route, 3 query, 10 JSON
    # event), then the bytes
    for i, r in enumerate(requests[:20]):
        _hashed("http", b"\x02" + json.dumps({"call_id": f"h{i}", **r}, ensure_ascii=False).encode())
    _hashed("http", b'\x0a{"call_id": "e1", "type": "ANSWERED", "target": "13800000010"}')
    _hashed(
        "http", b'\x0a{"call_id": "e1", "type": "ENDED", "target": "13800000010", "duration_seconds": 60}'
    )
    _hashed("http", b"\x03called=4001234567&caller=+8613800138000&digits=1&explain=true")
    _hashed("http", b"\x01called=4001234567&caller=%2B8613800138000&time=2026-11-11T10%3A00%3A00%2B08%3A00")
    _hashed(
        "http",
        b"\x00POST /v1/route HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2",
    )
    print(f"seeds written under {SEEDS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
