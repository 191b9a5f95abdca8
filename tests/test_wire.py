"""The wire contract: committed generated code is current, and the Rust codec (rust/wire.rs) speaks
the same bytes as the generated Python protobuf classes, both ways."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pytest

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
