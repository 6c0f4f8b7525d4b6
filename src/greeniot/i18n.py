"""Languages: gettext catalogs (Simplified Chinese, English), task titles, dates per user.

Messages are written in English in the code and templates (``_("My tasks")``); the Chinese
catalog is ``locale/zh_Hans/LC_MESSAGES/greeniot.po``, shipped as package data. It is compiled
to gettext's binary form in memory when loaded (:func:`load_catalogs`), so an install needs no
build step and a catalog can never be stale against its ``.po``. Dates are shown in the
user's IANA time zone and in the conventions of their locale (Babel's CLDR data).

The alert sinks use :func:`task_title` and :func:`notification_text` for the texts they send.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "greeniot"
#: The language of the message ids; needs no catalog.
SOURCE_LOCALE = "en"
LOCALES: tuple[str, ...] = ("zh_Hans", "en")


def _N(message: str) -> str:
    return message


#: Task title by kind, with ``{subject}`` the tree or zone (kinds from registry/vocab.py).
TITLES: Mapping[str, str] = {
    "stabilize": _N("Stabilize tree {subject}"),
    "inspect": _N("Inspect {subject}"),
    "straighten": _N("Straighten tree {subject}"),
    "stake": _N("Stake tree {subject}"),
    "remove": _N("Remove fallen tree {subject}"),
    "drain": _N("Drain zone {subject}"),
    "irrigate": _N("Irrigate zone {subject}"),
    "device_check": _N("Check device {subject}"),
    "prune": _N("Prune tree {subject}"),
    "pest_control": _N("Pest control at {subject}"),
    "winter_protect": _N("Winter protection at {subject}"),
    "service": _N("Service irrigation equipment at {subject}"),
    "repair": _N("Repair at {subject}"),
}
STATES: Mapping[str, str] = {
    "open": _N("open"),
    "acknowledged": _N("acknowledged"),
    "assigned": _N("assigned"),
    "in_progress": _N("in progress"),
    "closed": _N("closed"),
    "cancelled": _N("cancelled"),
}

#: Shown through ``_(name)`` in the templates; listed here so that extraction finds them.
WORDS: tuple[str, ...] = (
    _N("viewer"), _N("crew"), _N("operator"), _N("admin"),
    _N("info"), _N("warning"), _N("critical"),
)


def load_catalogs(locale_dir: Path = LOCALE_DIR) -> dict[str, gettext.NullTranslations]:
    """Every locale's translations, compiled from its ``.po`` now; English is the identity."""
    out: dict[str, gettext.NullTranslations] = {SOURCE_LOCALE: gettext.NullTranslations()}
    for po in sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parents[1].name, domain=DOMAIN)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        out[po.parents[1].name] = Translations(buf, domain=DOMAIN)
    return out


def translator(catalogs: Mapping[str, gettext.NullTranslations],
               locale: str) -> gettext.NullTranslations:
    return catalogs.get(locale) or catalogs[SOURCE_LOCALE]


def babel_locale(locale: str) -> Locale:
    return Locale.parse(locale)


def format_ms(ts_ms: int | None, *, locale: str, tz: str, fmt: str = "short") -> str:
    """An instant (ms UTC) as the user reads it: their time zone, their locale's format."""
    if ts_ms is None:
        return "—"
    when = datetime.fromtimestamp(ts_ms / 1000, UTC)
    return str(format_datetime(when, fmt, tzinfo=ZoneInfo(tz), locale=babel_locale(locale)))


def format_due(due_ms: int | None, now_ms: int, *, locale: str) -> str:
    """How long until the SLA is due, or how long ago it passed ("in 3 hours", "2 hours ago")."""
    if due_ms is None:
        return "—"
    return str(format_timedelta(timedelta(milliseconds=due_ms - now_ms), add_direction=True,
                            threshold=1.5,
                            locale=babel_locale(locale)))


def task_title(tr: gettext.NullTranslations, task: Any) -> str:
    """The task's title in the user's language, from its kind and subject; the stored English
    title (written by the rule that raised it) when the kind is unknown."""
    template = TITLES.get(task.kind)
    subject = task.tree or task.zone or task.device
    if template is None or subject is None:
        return str(task.title)
    return tr.gettext(template).format(subject=subject)


def notification_text(tr: gettext.NullTranslations, task: Any, *, locale: str, tz: str) -> str:
    """One line for a notification about a task (alert sinks, crew page)."""
    return tr.gettext("P{priority} {title} at {site}, due {due}").format(
        priority=task.priority, title=task_title(tr, task), site=task.site,
        due=format_ms(task.due_ms, locale=locale, tz=tz))
