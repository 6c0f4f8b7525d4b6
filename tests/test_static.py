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
    out = run(str(BIN / "ruff"), "check", "src", "tests", "benchmarks", "deploy", "scripts",
              "firmware")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_is_clean() -> None:
    out = run(str(BIN / "mypy"), "src/greeniot")
    assert out.returncode == 0, out.stdout + out.stderr


#: package → greeniot packages it must not import (the layering of docs/architecture.md)
FORBIDDEN = {
    "protocol": ("store", "ingest", "analytics", "registry", "actions", "runtime", "api",
                 "transport", "estate"),
    "analytics": ("store", "ingest", "registry", "actions", "runtime", "api", "transport"),
    "registry": ("analytics", "actions", "runtime", "api", "ingest"),
    "actions": ("runtime", "api", "ingest"),
    "store": ("analytics", "registry", "actions", "runtime", "api", "ingest"),
    "ingest": ("analytics", "actions", "runtime", "api"),
    # the simulators speak the protocol like a device: nothing of the backend
    "simulators": ("store", "ingest", "analytics", "registry", "actions", "runtime", "api",
                   "transport", "estate"),
}


#: Known exceptions, to be moved out: the registry validates zone soils and probe calibrations
#: with the irrigation package's pure tables (FAO-56 texture classes, calibration shapes).
ALLOWED: tuple[str, ...] = ()  # the registry imports no analytics at all


def test_layers_import_downward_only() -> None:
    import ast

    bad = []
    for pkg, banned in FORBIDDEN.items():
        for path in (ROOT / "src" / "greeniot" / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                for name in names:
                    parts = name.split(".")
                    if (parts[0] == "greeniot" and len(parts) > 1 and parts[1] in banned
                            and name not in ALLOWED):
                        bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert bad == []
