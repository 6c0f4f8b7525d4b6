"""Installs that repeat: every dependency pinned in constraints.txt, which setup and the image
install with; the distribution holds only the ``greeniot`` package; ``--version``."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from setuptools import find_packages
from typer.testing import CliRunner

from greeniot.cli import app

ROOT = Path(__file__).resolve().parents[2]


def _name(req: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", req).group()).lower()  # type: ignore[union-attr]


def test_every_dependency_is_pinned_by_the_constraints() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[_name(name)] = version
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    missing = [r for r in wanted if _name(r) not in pins]
    assert not missing, f"not pinned in constraints.txt (run scripts/lock.sh): {missing}"
    # The installed versions are the pinned ones (setup.sh installs with -c constraints.txt).
    for req in wanted:
        assert metadata.version(_name(req)) == pins[_name(req)], req
    for path in ("scripts/setup.sh", "deploy/Dockerfile"):
        assert "-c constraints.txt" in (ROOT / path).read_text(), path
    assert (ROOT / "scripts/lock.sh").stat().st_mode & 0o111


def test_the_distribution_installs_only_greeniot() -> None:
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    find = conf["packages"]["find"]
    packages = find_packages(where=str(ROOT / find["where"][0]), include=find["include"])
    assert packages and {p.split(".")[0] for p in packages} == {"greeniot"}
    assert "greeniot.simulators" in packages
    assert not (ROOT / "simulators").exists()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert "v2" not in extras  # influxdb-client was never imported: the v2 API uses httpx


def test_version_flag_prints_the_installed_version() -> None:
    out = CliRunner().invoke(app, ["--version"])
    assert out.exit_code == 0
    assert out.output.strip() == f"greeniot {metadata.version('greeniot')}"
