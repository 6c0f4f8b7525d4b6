"""What people read in a notification, in the recipient's language and time zone.

The machine part of a notification (the protocol ``Alert``: kind, severity, subject, value,
times in ms UTC, the rules' English ``message``) stays language-neutral; only the title and
body written here are localized. Message ids are English (``_N``/``tr.gettext``, extracted by
tests/test_i18n.py); the Chinese texts are in ``locale/zh_Hans/LC_MESSAGES/greeniot.po``.
Dates are in the reader's IANA zone and locale (Babel's CLDR formats), measured values with
the unit their alert kind carries (analytics/contract.py) in the locale's number format.

Who reads what (:func:`reader_for`): a route or roster person's own ``locale``/``tz``; for a
roster person without them, the user account of the same name (the name a task's ``owner``
holds, as on the crew page); else ``DeliverySettings.locale`` in the site's time zone.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from babel.dates import format_timedelta
from babel.numbers import format_decimal

from greeniot import i18n
from greeniot.protocol import Alert
from greeniot.registry.escalation import Escalation

SEVERITY_ORDER: tuple[str, ...] = ("info", "warning", "critical")


def _N(message: str) -> str:
    return message


#: The notes the system itself writes when it clears an alarm (actions, runtime).
SYSTEM_NOTES: tuple[str, ...] = (
    _N("condition ended"), _N("storm over"),
)


@dataclass(frozen=True, slots=True)
class Reader:
    """The language (``zh_Hans``, ``en``) and IANA time zone a recipient reads."""

    locale: str
    tz: str


def reader_for(own_locale: str | None, own_tz: str | None, *,
               account: tuple[str, str] | None, default_locale: str, site_tz: str) -> Reader:
    """The recipient's own settings first, then its user account's, then the defaults."""
    locale = own_locale or (account[0] if account else None) or default_locale
    tz = own_tz or (account[1] if account else None) or site_tz
    return Reader(locale if locale in i18n.LOCALES else i18n.SOURCE_LOCALE, tz)


@dataclass(frozen=True, slots=True)
class TaskRef:
    """What the texts say about a task (the attributes :func:`greeniot.i18n.task_title`
    reads), from a registry row or an escalation."""

    kind: str
    title: str
    priority: int
    site: str
    due_ms: int | None
    tree: str | None = None
    zone: str | None = None
    device: str | None = None

    @classmethod
    def of(cls, task: Any) -> TaskRef:
        return cls(kind=task.kind, title=task.title, priority=task.priority, site=task.site,
                   due_ms=task.due_ms, tree=task.tree, zone=task.zone,
                   device=getattr(task, "device", None))


class Texts:
    """Renders titles and bodies; holds the compiled catalogs (load once, share)."""

    def __init__(self, catalogs: Mapping[str, gettext.NullTranslations] | None = None) -> None:
        self._catalogs = dict(catalogs) if catalogs is not None else i18n.load_catalogs()

    def tr(self, locale: str) -> gettext.NullTranslations:
        return i18n.translator(self._catalogs, locale)

    def _when(self, ts_ms: int, reader: Reader) -> str:
        return i18n.format_ms(ts_ms, locale=reader.locale, tz=reader.tz)

    def _where(self, tr: gettext.NullTranslations, tree: str | None, zone: str | None,
               device: str | None) -> str:
        if tree:
            return tr.gettext("tree {id}").format(id=tree)
        if zone:
            return tr.gettext("zone {id}").format(id=zone)
        if device:
            return tr.gettext("device {id}").format(id=device)
        return ""

    def severity(self, tr: gettext.NullTranslations, severity: str) -> str:
        return tr.gettext(severity).upper()  # upper() leaves Chinese as it is

    def alert(self, alert: Alert, phase: str, reader: Reader, *, note: str = "",
              task: TaskRef | None = None) -> tuple[str, str]:
        """Title and body of an alarm's notification in ``phase`` (raised, escalated,
        cleared)."""
        tr = self.tr(reader.locale)
        sev = self.severity(tr, alert.severity)
        head = {"raised": tr.gettext("[{severity}]").format(severity=sev),
                "escalated": tr.gettext("[ESCALATED {severity}]").format(severity=sev),
                "cleared": tr.gettext("[CLEARED]")}.get(phase, f"[{phase.upper()}]")
        what = i18n.alert_kind(tr, alert.kind)
        where = self._where(tr, alert.tree, alert.zone, alert.device)
        title = (tr.gettext("{head} {what}: {where} at {site}") if where
                 else tr.gettext("{head} {what} at {site}")).format(
            head=head, what=what, where=where, site=alert.site)
        when = self._when(alert.ts_ms, reader)
        value = i18n.format_alert_value(tr, alert.kind, alert.value, locale=reader.locale)
        lines = []
        if phase == "cleared":
            lines.append(tr.gettext("Cleared: {note}").format(
                note=tr.gettext(note) if note in SYSTEM_NOTES else (note or "—")))
        elif value is not None:
            lines.append(tr.gettext("Measured {value} at {time}").format(value=value,
                                                                         time=when))
        else:
            lines.append(tr.gettext("At {time}").format(time=when))
        if task is not None:
            lines.append(tr.gettext("Task #{id}: {task}").format(
                id=alert.task_id,
                task=i18n.notification_text(tr, task, locale=reader.locale, tz=reader.tz)))
        if reader.locale == i18n.SOURCE_LOCALE and alert.message and phase != "cleared":
            lines.append(alert.message)  # the rules' own words are English
        lines.append(tr.gettext("Alarm {id}").format(id=alert.id))
        return title, "\n".join(lines)

    def escalation(self, esc: Escalation, reader: Reader) -> tuple[str, str]:
        """Title and body of an SLA escalation: the task, how late, who holds it now."""
        tr = self.tr(reader.locale)
        task = TaskRef(kind=esc.kind, title=esc.title, priority=esc.priority, site=esc.site,
                       due_ms=esc.due_ms, tree=esc.tree, zone=esc.zone)
        late = str(format_timedelta(timedelta(milliseconds=esc.overdue_ms), threshold=2,
                                    locale=i18n.babel_locale(reader.locale)))
        title = tr.gettext("[SLA] task #{id} {title} P{priority} is {late} late").format(
            id=esc.task_id, title=i18n.task_title(tr, task), priority=esc.priority, late=late)
        if esc.to_person:
            role_id = esc.to_role or ""
            role = tr.gettext(i18n.CHAIN_ROLES[role_id]) if role_id in i18n.CHAIN_ROLES \
                else role_id
            holder = tr.gettext("{name} ({role})").format(name=esc.to_person, role=role)
        else:
            holder = tr.gettext("nobody on the roster")
        line = (tr.gettext("Reminder: still with {holder}") if esc.reminder
                else tr.gettext("Now with {holder}")).format(holder=holder)
        body = tr.gettext("{line}, next deadline {due} ({site})").format(
            line=line, due=self._when(esc.due_ms, reader), site=esc.site)
        return title, body

    def digest(self, titles: Sequence[tuple[str, str, str, str]], reader: Reader
               ) -> tuple[str, str]:
        """Title and body folding notifications ``(site, severity, title, body)`` (already
        in the reader's language) into one message."""
        tr = self.tr(reader.locale)
        sites = sorted({t[0] for t in titles})
        worst = max((t[1] for t in titles),
                    key=lambda s: SEVERITY_ORDER.index(s) if s in SEVERITY_ORDER else 0)
        count = format_decimal(len(titles), locale=i18n.babel_locale(reader.locale))
        title = tr.gettext("[{severity}] greeniot digest: {count} notifications ({sites})"
                           ).format(severity=self.severity(tr, worst), count=count,
                                    sites=", ".join(sites))
        body = "\n".join(f"- {t}: {b.replace(chr(10), '; ')}" for _s, _v, t, b in titles)
        return title, body
