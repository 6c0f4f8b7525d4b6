"""Languages: gettext catalogs (Simplified Chinese, English), task titles, dates per user.

Messages are written in English in the code and templates (``_("My tasks")``); the Chinese
catalog is ``locale/zh_Hans/LC_MESSAGES/greeniot.po``, shipped as package data. It is compiled
to gettext's binary form in memory when loaded (:func:`load_catalogs`), so an install needs no
build step and a catalog can never be stale against its ``.po``. Dates are shown in the
user's IANA time zone and in the conventions of their locale (Babel's CLDR data).

The alert sinks (``greeniot.actions.sinks.texts``) use :func:`task_title`,
:func:`notification_text`, :func:`alert_kind` and :func:`format_alert_value` for the texts
they send; the crew page uses the same for its task and alarm lists.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_percent
from babel.support import Translations
from babel.units import format_unit

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


#: What an alert kind is called on the crew page and in notifications (analytics' event
#: kinds, the actions' own, the SLA notice).
ALERT_KINDS: Mapping[str, str] = {
    "lean": _N("lean"),
    "lean_step": _N("sudden lean"),
    "lean_trend": _N("lean increasing"),
    "lean_storm": _N("lean after storm"),
    "failure": _N("tree down"),
    "stiffness": _N("root-plate stiffness loss"),
    "storm": _N("storm"),
    "sway": _N("sway change"),
    "drought": _N("drought"),
    "waterlog": _N("waterlogging"),
    "device_offline": _N("device offline"),
    "low_battery": _N("low battery"),
    "sensor_stuck": _N("sensor stuck"),
    "sensor_noisy": _N("noisy sensor"),
    "out_of_range": _N("implausible readings"),
    "clock_fault": _N("clock fault"),
    "mount_moved": _N("sensor mount moved"),
    "irrigation_skipped": _N("irrigation skipped"),
    "sla_escalation": _N("SLA passed"),
    # an alert a task rule raises without an event carries the task's kind
    "inspect": _N("inspection due"),
    "stabilize": _N("stabilization due"),
    "straighten": _N("straightening due"),
    "stake": _N("staking due"),
    "remove": _N("removal due"),
    "drain": _N("drainage due"),
    "irrigate": _N("irrigation due"),
    "device_check": _N("device check due"),
    "prune": _N("pruning due"),
    "pest_control": _N("pest control due"),
    "winter_protect": _N("winter protection due"),
    "service": _N("equipment service due"),
    "repair": _N("repair due"),
}
#: Alarm states (registry/vocab.py ALARM_STATES).
ALARM_STATES: Mapping[str, str] = {
    "active": _N("active"), "acknowledged": _N("acknowledged"), "cleared": _N("cleared"),
}
#: The people of a site's responsibility chain (registry/vocab.py CHAIN_ROLES).
CHAIN_ROLES: Mapping[str, str] = {
    "crew": _N("crew"), "contractor": _N("contractor"),
    "property_manager": _N("property manager"), "authority": _N("authority"),
}
def _deg(loc: str, v: float) -> str:
    return str(format_unit(v, "angle-degree", length="narrow", locale=loc,
                           format="#,##0.0#"))


#: The value of an alert by kind, as its unit (analytics/contract.py ``Unit``) reads in the
#: locale; kinds whose value has no single unit (storm: gust or sway; stiffness) show none.
_VALUE: Mapping[str, Callable[[gettext.NullTranslations, str, float], str]] = {
    **{k: (lambda tr, loc, v: _deg(loc, v))
       for k in ("lean", "lean_step", "lean_storm", "failure", "sway", "mount_moved")},
    "lean_trend": lambda tr, loc, v: tr.gettext("{value} per day").format(value=_deg(loc, v)),
    **{k: (lambda tr, loc, v: str(format_percent(v / 100, "#,##0.#%", locale=loc)))
       for k in ("drought", "waterlog")},
    "low_battery": lambda tr, loc, v: str(format_unit(v, "electric-volt", length="short",
                                                      locale=loc, format="#,##0.00")),
}




def alert_kind(tr: gettext.NullTranslations, kind: str) -> str:
    """What an alert kind is called in the reader's language (unknown kinds as they are)."""
    return tr.gettext(ALERT_KINDS[kind]) if kind in ALERT_KINDS else kind


def format_alert_value(tr: gettext.NullTranslations, kind: str, value: float | None, *,
                       locale: str) -> str | None:
    """An alert's measured value with its unit in the reader's locale ("2.3°", "12.5%",
    "3.41 V"); None when the value is missing or its kind has no single unit."""
    fmt = _VALUE.get(kind)
    return fmt(tr, locale, value) if fmt is not None and value is not None else None


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
