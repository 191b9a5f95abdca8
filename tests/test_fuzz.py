"""Bounded runs of the Python fuzz targets (atheris, tests/fuzz_targets.py) and the replay of
every input they once broke. The Rust targets' checks run in `cargo test` (fuzz/replay.rs); the
long runs of both are in docs/fuzzing.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import fuzz_targets
import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "fuzz" / "seeds"
REGRESSIONS = ROOT / "fuzz" / "regressions"

# target → (seed corpus, runs): a few seconds each on the CI machine.
BOUNDED = {"plan": ("yaml", 1500), "http": ("http", 20000)}


@pytest.mark.parametrize("target", sorted(BOUNDED))
def test_bounded_fuzz_run(target: str, tmp_path: Path) -> None:
    seeds, runs = BOUNDED[target]
    corpus = tmp_path / "corpus"  # new inputs land here, never among the committed seeds
    corpus.mkdir()
    cmd = [
        sys.executable,
        str(ROOT / "tests" / "fuzz_targets.py"),
        target,
        f"-runs={runs}",
        "-max_total_time=60",
        "-seed=1",
        f"-artifact_prefix={tmp_path}/",
        str(corpus),
        str(SEEDS / seeds),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False)
    crashes = [p.name for p in tmp_path.iterdir() if p.is_file()]
    assert done.returncode == 0 and not crashes, f"{crashes}\n{done.stderr[-3000:]}"
    assert "Done" in done.stderr, done.stderr[-2000:]


def _regressions(target: str) -> list[Path]:
    return sorted((REGRESSIONS / f"{target}_py").glob("*"))


@pytest.mark.parametrize(
    ("target", "case"),
    [(t, p) for t in sorted(fuzz_targets.TARGETS) for p in _regressions(t)],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_regression(target: str, case: Path) -> None:
    """An input a fuzzer once broke now passes its target's check."""
    fuzz_targets.TARGETS[target](case.read_bytes())


def test_regressions_are_there() -> None:
    assert _regressions("plan"), "fuzz/regressions/plan_py/ holds the plan loader's past crashes"


def test_a_broken_check_fails_the_run(tmp_path: Path) -> None:
    """The bounded run notices a failure: a check that raises on some input (as a bug would)
    ends the run non-zero with a crash file, which `test_bounded_fuzz_run` asserts against."""
    script = tmp_path / "broken.py"
    script.write_text(
        "import sys\n"
        "import atheris\n"
        "def check(data):\n"
        "    if data.startswith(b'GET'):\n"
        "        raise RuntimeError('a bug')\n"
        "atheris.Setup(sys.argv, check)\n"
        "atheris.Fuzz()\n",
        encoding="utf-8",
    )
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "seed").write_bytes(b"GET / HTTP/1.1")
    done = subprocess.run(
        [sys.executable, str(script), "-runs=100", f"-artifact_prefix={tmp_path}/", str(corpus)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "RuntimeError: a bug" in done.stdout + done.stderr
    assert any(p.name.startswith("crash-") for p in tmp_path.iterdir())
