"""``greeniot roster`` and ``greeniot routes`` against a real registry file."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from greeniot.cli import app
from greeniot.config import Settings
from greeniot.registry import crud
from greeniot.registry.db import make_engine, migrate, session_factory
from greeniot.registry.schemas import SiteCreate


def test_roster_and_routes_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    engine = make_engine(Settings(data_dir=data))
    migrate(engine)
    with session_factory(engine)() as s:
        crud.create_site(s, data=SiteCreate(id="estate-a"))
    engine.dispose()
    runner = CliRunner()

    def cli(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "--data-dir", str(data)])
        return result.exit_code, result.output

    assert cli("roster", "add", "estate-a", "GreenCo", "--role", "contractor", "--notify",
               "mailtos://gc:pw-hidden@mail.example.org?to=gc@example.org") == (
        0, "added GreenCo (contractor, rank 0) to estate-a\n")
    assert cli("roster", "add", "estate-a", "Lee", "--contact", "+852 5555 0101")[0] == 0
    code, out = cli("roster", "add", "estate-a", "X", "--role", "boss")
    assert code == 2 and "role 'boss' is not one of" in out
    assert cli("roster", "add", "estate-a", "Sam", "--role", "authority", "--locale", "en",
               "--tz", "Europe/London")[0] == 0
    code, out = cli("roster", "add", "estate-a", "Y", "--locale", "fr")
    assert code == 2 and "locale 'fr' is not one of" in out
    code, out = cli("routes", "add", "desk", "--kind", "mqtt", "--target", "mqtt", "--tz",
                    "Mars/Olympus")
    assert code == 2 and "'Mars/Olympus' is not an IANA zone name" in out
    engine = make_engine(Settings(data_dir=data))
    with session_factory(engine)() as s:
        sam = crud.list_roster(s, site="estate-a", role="authority")[0]
        assert (sam.locale, sam.tz) == ("en", "Europe/London")
    engine.dispose()
    code, out = cli("roster", "list", "--site", "estate-a")
    lines = out.splitlines()
    assert [line.split("\t")[1:4] for line in lines] == [["crew", "0", "Lee"],
                                                       ["contractor", "0", "GreenCo"],
                                                       ["authority", "0", "Sam"]]
    assert "pw-hidden" not in out and lines[0].endswith("\tactive")

    code, out = cli("routes", "add", "ops", "--kind", "webhook", "--target",
                    "https://ops.example.org/hook?token=t0k3n", "--secret",
                    "0123456789abcdef!", "--site", "estate-a", "--min-severity", "critical")
    assert code == 0 and out == ("route ops: estate-a >= critical -> webhook "
                                 "https://ops.example.org/hook\n")
    code, out = cli("routes", "add", "bad", "--kind", "webhook", "--target",
                    "https://ops.example.org/hook")
    assert code == 2 and "needs a secret" in out
    code, out = cli("routes", "list")
    assert out.split("\t")[:4] == ["ops", "estate-a", ">=critical", "webhook"]
    assert "t0k3n" not in out and "0123456789abcdef" not in out
    assert cli("routes", "remove", "ops") == (0, "removed route ops\n")
    assert cli("routes", "list") == (0, "")
