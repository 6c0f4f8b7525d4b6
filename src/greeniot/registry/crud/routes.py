"""Alert routes: which alerts go to which recipient, through which sink.

A route matches an alert when its ``site`` is the alert's (or None: every site), its
``min_severity`` is at or below the alert's severity, and it is enabled. Targets by kind:

- ``mqtt``: ``mqtt`` — the site's topic ``greeniot/v1/{site}/alerts`` (QoS 1);
- ``webhook``: an ``http://`` or ``https://`` URL and a ``secret`` of at least 16 characters
  (HMAC-SHA256 signature, see docs/alerts.md);
- ``apprise``: any URL apprise accepts (``mailto://``, ``wecombot://``, ``dingtalk://``,
  ``tgram://`` ...; https://github.com/caronc/apprise/wiki).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from greeniot.registry.accounts import LOCALES
from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.errors import ConflictError, InvalidInputError, NotFoundError
from greeniot.registry.models import AlertRoute
from greeniot.registry.vocab import SEVERITIES, SEVERITY_RANK, SINK_KINDS

MIN_SECRET_CHARS = 16


def check_reader(locale: str | None, tz: str | None) -> tuple[str | None, str | None]:
    """A recipient's language and time zone, checked (None: the defaults, see
    ``greeniot.actions.sinks.texts``); raises :class:`InvalidInputError` naming the bad one."""
    locale = (locale or "").strip() or None
    tz = (tz or "").strip() or None
    if locale is not None and locale not in LOCALES:
        raise InvalidInputError(f"locale {locale!r} is not one of {list(LOCALES)}")
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, OSError) as err:  # "America" is a folder
            raise InvalidInputError(f"time zone {tz!r} is not an IANA zone name") from err
    return locale, tz


def check_target(kind: str, target: str, secret: str | None) -> None:
    """Raise :class:`InvalidInputError` naming what is wrong with a sink's target."""
    if kind not in SINK_KINDS:
        raise InvalidInputError(f"sink kind {kind!r} is not one of {SINK_KINDS}")
    if kind == "mqtt":
        if target not in ("mqtt", "mqtt:"):
            raise InvalidInputError(f"mqtt target must be 'mqtt' (the site's alerts topic), "
                                    f"got {target!r}")
    elif kind == "webhook":
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInputError(f"webhook target must be an http(s) URL, got {target!r}")
        if secret is None or len(secret) < MIN_SECRET_CHARS:
            raise InvalidInputError(f"webhook needs a secret of at least {MIN_SECRET_CHARS} "
                                    "characters to sign its requests")
    else:
        import apprise

        if not apprise.Apprise().add(target):
            scheme = urlsplit(target).scheme or "(none)"
            raise InvalidInputError(f"apprise cannot use this URL (scheme {scheme!r}): see "
                                    "https://github.com/caronc/apprise/wiki for the formats")


def add_route(session: Session, *, name: str, kind: str, target: str,
              site: str | None = None, min_severity: str = "warning",
              secret: str | None = None, rate_max: int | None = None,
              rate_window_s: int | None = None, now_ms: int | None = None,
              locale: str | None = None, tz: str | None = None) -> AlertRoute:
    """Subscribe recipient ``name`` to alerts of ``site`` at or above ``min_severity``. Commits.

    ``locale``/``tz``: the language and time zone of the texts it gets (None: defaults)."""
    name, target = name.strip(), target.strip()
    if not name:
        raise InvalidInputError("alert route: a name (the recipient's label) is required")
    if min_severity not in SEVERITY_RANK:
        raise InvalidInputError(f"alert route {name!r}: min_severity {min_severity!r} is not "
                                f"one of {SEVERITIES}")
    for what, value in (("rate_max", rate_max), ("rate_window_s", rate_window_s)):
        if value is not None and value < 1:
            raise InvalidInputError(f"alert route {name!r}: {what} must be at least 1")
    check_target(kind, target, secret)
    locale, tz = check_reader(locale, tz)
    route = AlertRoute(locale=locale, tz=tz, name=name, kind=kind, target=target, site=site,
                       min_severity=min_severity, secret=secret, rate_max=rate_max,
                       rate_window_s=rate_window_s, enabled=True,
                       created_ms=wall_clock_ms() if now_ms is None else now_ms)
    try:
        with session.begin_nested():
            session.add(route)
    except IntegrityError as err:
        raise ConflictError(f"alert route {name!r} already exists") from err
    session.commit()
    return route


def get_route(session: Session, *, name: str) -> AlertRoute:
    route = session.scalars(select(AlertRoute).where(AlertRoute.name == name)).first()
    if route is None:
        raise NotFoundError(f"alert route {name!r} not found")
    return route


def list_routes(session: Session, *, site: str | None = None) -> Sequence[AlertRoute]:
    """All routes (``site``: those that apply to it, including every-site routes), by name."""
    query = select(AlertRoute)
    if site is not None:
        query = query.where(or_(AlertRoute.site == site, AlertRoute.site.is_(None)))
    return session.scalars(query.order_by(AlertRoute.name)).all()


def set_route_enabled(session: Session, *, name: str, enabled: bool) -> AlertRoute:
    route = get_route(session, name=name)
    route.enabled = enabled
    session.commit()
    return route


def delete_route(session: Session, *, name: str) -> None:
    """Remove a route; its past deliveries stay (they keep their own target). Commits."""
    session.delete(get_route(session, name=name))
    session.commit()


def routes_for(session: Session, *, site: str, severity: str) -> list[AlertRoute]:
    """The enabled routes an alert of ``site`` and ``severity`` goes to."""
    rank = SEVERITY_RANK[severity]
    return [r for r in list_routes(session, site=site)
            if r.enabled and SEVERITY_RANK.get(r.min_severity, 0) <= rank]
