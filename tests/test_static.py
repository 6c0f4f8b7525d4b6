"""The project's static checks run with the tests, so CI keeps them green."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean() -> None:
    out = run(str(BIN / "ruff"), "check", "src", "tests", "simulators", "benchmarks", "deploy",
              "firmware")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_is_clean() -> None:
    out = run(str(BIN / "mypy"), "src/greeniot", "simulators")
    assert out.returncode == 0, out.stdout + out.stderr
