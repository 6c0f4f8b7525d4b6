"""Languages: every message of the crew page and the task titles has its Chinese translation,
the catalog compiles at load time, titles and dates follow the user's locale and zone."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from greeniot import i18n
from greeniot.analytics.contract import EventKind
from greeniot.registry.vocab import TASK_KINDS, TASK_STATES

SRC = Path(i18n.__file__).resolve().parent
ROOT = SRC.parents[1]
PO = SRC / "locale" / "zh_Hans" / "LC_MESSAGES" / "greeniot.po"


def extracted() -> set[str]:
    """Message ids in the templates and Python code, as Babel's extractors find them."""
    found = extract_from_dir(str(SRC), method_map=[
        ("api/templates/**.html", "jinja2.ext:babel_extract"),
        ("**.py", "python")], keywords={"_": None, "_N": None, "gettext": None})
    return {msg for _f, _l, msg, _c, _ctx in found if isinstance(msg, str)}


def test_every_message_has_a_chinese_translation() -> None:
    with PO.open("rb") as f:
        catalog = read_po(f, locale="zh_Hans")
    translated = {m.id for m in catalog if m.id and m.string}
    ids = extracted()
    assert len(ids) > 40
    assert sorted(ids - translated) == []
    assert sorted(set(translated) - ids) == []  # no stale entries either


@dataclass
class FakeTask:  # the attributes task_title reads
    kind: str
    tree: str | None = None
    zone: str | None = None
    device: str | None = None
    title: str = "stored title"
    priority: int = 1
    site: str = "estate-a"
    due_ms: int | None = 1_700_000_000_000


def test_titles_states_and_notification_per_locale() -> None:
    cats = i18n.load_catalogs()
    zh, en = i18n.translator(cats, "zh_Hans"), i18n.translator(cats, "en")
    assert set(i18n.TITLES) == set(TASK_KINDS) and set(i18n.STATES) == set(TASK_STATES)
    task = FakeTask("remove", tree="t020")
    assert i18n.task_title(zh, task) == "清理倒伏树木 t020"
    assert i18n.task_title(en, task) == "Remove fallen tree t020"
    assert i18n.task_title(zh, FakeTask("paint", tree="t1")) == "stored title"
    assert (i18n.notification_text(zh, task, locale="zh_Hans", tz="Asia/Shanghai")
            == "P1 estate-a：清理倒伏树木 t020，期限 2023/11/15 06:13")
    assert (i18n.notification_text(en, task, locale="en", tz="Europe/London")
            == "P1 Remove fallen tree t020 at estate-a, due 11/14/23, 10:13\u202fPM")
    assert i18n.translator(cats, "fr") is en  # unknown locale: English


@pytest.mark.parametrize(("locale", "due", "want"), [
    ("zh_Hans", 3 * 3600_000, "3小时后"),
    ("en", -2 * 86_400_000, "2 days ago"),
])
def test_due_reads_naturally(locale: str, due: int, want: str) -> None:
    assert i18n.format_due(1_000_000 + due, 1_000_000, locale=locale) == want


def test_package_data_ships_templates_assets_and_catalogs() -> None:
    """A wheel carries what the crew page needs: each file matches a package-data glob."""
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())[
        "tool"]["setuptools"]["package-data"]["greeniot"]
    needed = [p for d in ("api/templates", "api/static", "locale")
              for p in (SRC / d).rglob("*") if p.is_file()]
    assert needed
    for path in needed:
        rel = path.relative_to(SRC)
        assert any(rel.match(g) for g in globs), rel


def test_every_alert_kind_has_a_name_and_values_read_in_the_locale() -> None:
    cats = i18n.load_catalogs()
    zh, en = i18n.translator(cats, "zh_Hans"), i18n.translator(cats, "en")
    kinds = {*get_args(EventKind), *TASK_KINDS, "irrigation_skipped", "sla_escalation"}
    assert sorted(kinds - set(i18n.ALERT_KINDS)) == []
    assert i18n.alert_kind(zh, "failure") == "树木倒伏" and i18n.alert_kind(en, "failure") == (
        "tree down")
    assert i18n.alert_kind(zh, "some_new_kind") == "some_new_kind"
    value = i18n.format_alert_value
    assert value(zh, "lean", 2.345, locale="zh_Hans") == "2.34°"  # half to even, as CLDR
    assert value(en, "lean_trend", 0.25, locale="en") == "0.25° per day"
    assert value(zh, "lean_trend", 0.25, locale="zh_Hans") == "每天 0.25°"
    assert value(en, "drought", 11.46, locale="en") == "11.5%"
    assert value(en, "low_battery", 3.284, locale="en") == "3.28 V"
    assert value(en, "lean", 1234.5, locale="en") == "1,234.5°"
    assert value(en, "storm", 21.0, locale="en") is None  # gust [m/s] or sway [deg]: no unit
    assert value(en, "lean", None, locale="en") is None
