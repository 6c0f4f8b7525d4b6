"""The crew page: server-rendered HTML for phones, at ``/crew``. No CDN, no framework, no JS.

Log in with a password (the same login token as the API, kept in an HttpOnly, SameSite=Strict
cookie), see "my tasks" in working order (priority, then SLA due), open a task (its tree or
zone, location, the readings behind it as a small SVG chart, history, photos) and acknowledge,
start or close it with a note and a photo. Operators and admins see every active task of their
sites. Everyone sees the live (active and acknowledged) alarms of their sites; crew and up
acknowledge them or clear them by hand with a note. Texts come from the user's locale
(zh_Hans or en); dates, units and numbers follow it, in the user's time zone.

Every form carries a CSRF token, HMAC-SHA256(``GREENIOT_AUTH__SECRET``, session token), checked
on each POST after the role (so a too-weak role gets 403, no session 401).
"""

from __future__ import annotations

import gettext
import hmac
import logging
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import quote

from babel.numbers import format_decimal
from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    File,
    Form,
    HTTPException,
    Path,
    Request,
    UploadFile,
    status,
)
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from greeniot import i18n
from greeniot.api import charts
from greeniot.api.deps import SessionDep, SettingsDep, released
from greeniot.api.routes.auth import login
from greeniot.api.schemas import TaskId
from greeniot.api.security import COOKIE, csrf_token
from greeniot.registry import accounts, audit, crud, photos, workflow
from greeniot.registry.accounts import ROLE_RANK, Principal
from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.errors import RegistryError
from greeniot.registry.models import Alert, Task, Tree, Zone
from greeniot.registry.vocab import ACTIVE_TASK_STATES, LIVE_ALARM_STATES, SEVERITY_RANK

log = logging.getLogger(__name__)
TEMPLATES_DIR = FilePath(__file__).resolve().parent / "templates"
STATIC_DIR = FilePath(__file__).resolve().parent / "static"
LOGIN_PATH = "/crew/login"

router = APIRouter(prefix="/crew", include_in_schema=False)


class LoginRequiredError(Exception):
    """A page was asked for without a valid session: GET → the login page, POST → 401."""


def templates() -> Jinja2Templates:
    """The page templates; Starlette's Jinja2 environment autoescapes ``.html``."""
    return Jinja2Templates(directory=TEMPLATES_DIR)


def _token(request: Request) -> str | None:
    return request.cookies.get(COOKIE) or None


class PageGuard:
    """A page's dependency: the principal of the session cookie, of at least ``role``.
    On POST it also checks the form's CSRF token."""

    def __init__(self, role: str) -> None:
        if role not in ROLE_RANK:
            raise ValueError(f"role {role!r} is not one of {list(ROLE_RANK)}")
        self.role = role

    async def __call__(self, request: Request, session: SessionDep) -> Principal:
        token = _token(request)
        principal = (await released(session, accounts.resolve_token, session, token)
                     if token else None)
        if principal is None:
            raise LoginRequiredError()
        if not principal.at_least(self.role):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"needs role '{self.role}'; '{principal.username}' is "
                                f"'{principal.role}'")
        if request.method not in ("GET", "HEAD"):
            form = await request.form()
            sent = str(form.get("csrf", ""))
            want = csrf_token(request.app.state.secret, token or "")
            if not hmac.compare_digest(sent, want):
                raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
        audit.set_actor(session, actor=principal.username,
                        action=f"{request.method} {request.url.path}")
        return principal


ViewerPage = Annotated[Principal, Depends(PageGuard("viewer"))]
CrewPage = Annotated[Principal, Depends(PageGuard("crew"))]


def _tr(request: Request, locale: str) -> gettext.NullTranslations:
    return i18n.translator(request.app.state.catalogs, locale)


def _render(request: Request, name: str, who: Principal | None, locale: str,
            status_code: int = 200, **ctx: Any) -> HTMLResponse:
    tr = _tr(request, locale)
    tz = who.tz if who else "UTC"
    now = wall_clock_ms()
    token = _token(request)
    base = {
        "_": tr.gettext, "who": who, "lang": "zh-Hans" if locale == "zh_Hans" else "en",
        "csrf": csrf_token(request.app.state.secret, token) if (who and token) else "",
        "fmt": lambda ms: i18n.format_ms(ms, locale=locale, tz=tz),
        "due": lambda ms: i18n.format_due(ms, now, locale=locale),
        "title": lambda task: i18n.task_title(tr, task),
        "state_name": lambda s: tr.gettext(i18n.STATES.get(s, s)),
        "alarm_state": lambda s: tr.gettext(i18n.ALARM_STATES.get(s, s)),
        "kind_name": lambda kind: i18n.alert_kind(tr, kind),
        "value": lambda a: i18n.format_alert_value(tr, a.kind, a.value, locale=locale),
        "num": lambda v: format_decimal(v, "#,##0.00", locale=i18n.babel_locale(locale)),
        "now_ms": now, "tz": tz,
    }
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, name, base | ctx, status_code=status_code)
    return response


def page_errors(request: Request, exc: Exception) -> Response:
    """LoginRequiredError → login page (GET) or 401 (POST)."""
    if request.method in ("GET", "HEAD"):
        return RedirectResponse(LOGIN_PATH, status.HTTP_303_SEE_OTHER)
    return HTMLResponse("<!doctype html><title>401</title><p>Not logged in. "
                        f'<a href="{LOGIN_PATH}">Log in</a>', status.HTTP_401_UNAUTHORIZED)


def _lang(request: Request) -> str:
    accept = request.headers.get("accept-language", "")
    return "en" if accept.lower().startswith("en") else "zh_Hans"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return _render(request, "login.html", None, _lang(request), error=None)


@router.post("/login", response_class=HTMLResponse)
def login_submit(request: Request, session: SessionDep, settings: SettingsDep,
                 username: Annotated[str, Form(max_length=64)],
                 password: Annotated[str, Form(max_length=256)]) -> Response:
    token = login(session, settings, username, password)
    if token is None:
        tr = _tr(request, _lang(request))
        return _render(request, "login.html", None, _lang(request),
                       status.HTTP_401_UNAUTHORIZED,
                       error=tr.gettext("Wrong username or password."))
    response = RedirectResponse("/crew", status.HTTP_303_SEE_OTHER)
    response.set_cookie(COOKIE, token, max_age=settings.auth.token_ttl_s, httponly=True,
                        samesite="strict", secure=settings.auth.secure_cookie, path="/")
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, who: ViewerPage) -> Response:
    accounts.revoke_token(session, token_id=who.token_id)
    response = RedirectResponse(LOGIN_PATH, status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, path="/")
    return response


def _sla_key(task: Task) -> tuple[int, int, int]:
    return (task.priority, task.due_ms if task.due_ms is not None else 2**62, task.id)


def my_tasks(session: Session, who: Principal) -> tuple[list[Task], list[Task]]:
    """``(mine, open to take)``: tasks of the user's sites in working order. For operators
    and admins, ``mine`` is every active task of their sites."""
    q = select(Task).where(Task.state.in_(ACTIVE_TASK_STATES))
    if who.sites:
        q = q.where(Task.site.in_(who.sites))
    active = sorted(session.scalars(q).all(), key=_sla_key)
    if who.at_least("operator"):
        return active, []
    mine = [t for t in active if who.username in (t.assignee, t.owner)]
    free = [t for t in active if t.assignee is None and t not in mine]
    return mine, free


def live_alarms(session: Session, who: Principal, limit: int = 50) -> list[Alert]:
    """The active and acknowledged alarms of the user's sites: active ones first, then the
    worst, then the newest."""
    q = select(Alert).where(Alert.state.in_(LIVE_ALARM_STATES))
    if who.sites:
        q = q.where(Alert.site.in_(who.sites))
    found = session.scalars(q.order_by(Alert.last_ts_ms.desc()).limit(limit)).all()
    return sorted(found, key=lambda a: (a.state != "active",
                                        -SEVERITY_RANK.get(a.severity, 0), -a.last_ts_ms))


@router.get("", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, who: ViewerPage) -> HTMLResponse:
    """My tasks, the open tasks of my sites, and the live alarms of my sites (crew and up may
    acknowledge or clear them by hand)."""
    mine, free = my_tasks(session, who)
    return _render(request, "tasks.html", who, who.locale, mine=mine, free=free,
                   alarms=live_alarms(session, who), can_work=who.at_least("crew"),
                   error=request.query_params.get("error"))


def _visible_task(session: Session, who: Principal, task_id: TaskId) -> Task:
    task = crud.get_task(session, task_id=task_id)
    if not who.can_see(task.site):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"'{who.username}' does not work on site '{task.site}'")
    return task


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
async def task_page(request: Request, session: SessionDep, who: ViewerPage,
                    task_id: TaskId) -> HTMLResponse:
    task = await run_in_threadpool(_visible_task, session, who, task_id)
    tree = await run_in_threadpool(session.get, Tree, (task.site, task.tree)) \
        if task.tree else None
    zone = await run_in_threadpool(session.get, Zone, (task.site, task.zone)) \
        if task.zone else None
    task_photos = await released(session, photos.list_photos, session, task_id=task_id)
    chart, chart_error = None, None
    influx = request.app.state.influx
    if influx is not None:
        try:
            chart = charts.chart(await charts.readings(influx, task, now_ms=wall_clock_ms()))
        except Exception as err:  # the page still serves the task without its chart
            log.warning("readings of task %d: %r", task_id, err)
            chart_error = str(err)
    return _render(request, "task.html", who, who.locale, task=task, tree=tree, zone=zone,
                   photos=task_photos, chart=chart, chart_error=chart_error,
                   can_work=who.at_least("crew"), error=request.query_params.get("error"))


def _back(task_id: TaskId, error: str | None = None) -> RedirectResponse:
    url = f"/crew/tasks/{task_id}"
    if error:
        url += "?error=" + quote(error)
    return RedirectResponse(url, status.HTTP_303_SEE_OTHER)


@router.post("/tasks/{task_id}/acknowledge")
def acknowledge(session: SessionDep, who: CrewPage, task_id: TaskId,
                note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    _visible_task(session, who, task_id)
    try:
        workflow.acknowledge_task(session, task_id, by=who.username, note=note)
    except RegistryError as err:
        session.rollback()
        return _back(task_id, str(err))
    return _back(task_id)


@router.post("/tasks/{task_id}/start")
def start(session: SessionDep, who: CrewPage, task_id: TaskId,
          note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Start work: an open task is acknowledged and taken by the user first (each step in
    the task's history), so one button does what a crew member means."""
    task = _visible_task(session, who, task_id)
    try:
        if task.state == "open":
            task = workflow.acknowledge_task(session, task_id, by=who.username)
        if task.state == "acknowledged":
            task = workflow.assign_task(session, task_id, by=who.username,
                                        owner=task.owner or who.username,
                                        assignee=who.username)
        workflow.start_task(session, task_id, by=who.username, note=note)
    except RegistryError as err:
        session.rollback()
        return _back(task_id, str(err))
    return _back(task_id)


@router.post("/tasks/{task_id}/close")
async def close(session: SessionDep, who: CrewPage, settings: SettingsDep, task_id: TaskId,
                note: Annotated[str, Form(max_length=2000)],
                photo: Annotated[UploadFile | None, File()] = None) -> Response:
    """Close with a note and, if given, a photo (stored first, then referenced)."""
    await released(session, _visible_task, session, who, task_id)
    limit = settings.auth.photo_max_bytes
    data = await photo.read(limit + 1) if photo is not None and photo.filename else b""

    def work() -> Response:
        try:
            evidence = []
            if data:
                saved = photos.save_photo(session, photos_dir=settings.photos_dir,
                                          task_id=task_id, data=data, by=who.username,
                                          note=note, max_bytes=limit,
                                          max_pixels=settings.auth.photo_max_pixels)
                evidence.append({"kind": "photo", "value": saved.id})
            workflow.close_task(session, task_id, by=who.username, note=note,
                                evidence=evidence)
        except RegistryError as err:
            session.rollback()
            return _back(task_id, str(err))
        return _back(task_id)

    return await run_in_threadpool(work)


def _visible_alarm(session: Session, who: Principal, alert_id: str) -> Alert:
    alert = crud.get_alert(session, alert_id=alert_id)
    if not who.can_see(alert.site):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"'{who.username}' does not work on site '{alert.site}'")
    return alert


def _home(error: str | None = None) -> RedirectResponse:
    url = "/crew"
    if error:
        url += "?error=" + quote(error)
    return RedirectResponse(url + "#alarms-title", status.HTTP_303_SEE_OTHER)


AlertId = Annotated[str, Path(max_length=64)]


@router.post("/alarms/{alert_id}/acknowledge")
def acknowledge_alarm(session: SessionDep, who: CrewPage, alert_id: AlertId,
                      note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Acknowledge an alarm of the user's sites (the same registry step as
    ``POST /api/v1/alerts/{id}/acknowledge``)."""
    _visible_alarm(session, who, alert_id)
    try:
        crud.acknowledge_alarm(session, alert_id=alert_id, by=who.username, note=note)
    except RegistryError as err:
        session.rollback()
        return _home(str(err))
    return _home()


@router.post("/alarms/{alert_id}/clear")
def clear_alarm(session: SessionDep, who: CrewPage, alert_id: AlertId,
                note: Annotated[str, Form(max_length=2000)]) -> Response:
    """Clear an alarm by hand with a note of why it is over (as
    ``POST /api/v1/alerts/{id}/clear``); the next occurrence opens a new alarm."""
    _visible_alarm(session, who, alert_id)
    try:
        crud.clear_alarm(session, alert_id=alert_id, note=note, by=who.username)
    except RegistryError as err:
        session.rollback()
        return _home(str(err))
    return _home()


def install(app: FastAPI) -> None:
    """Mount the crew page, its static files and its error handling on ``app``."""
    app.state.catalogs = i18n.load_catalogs()
    app.state.templates = templates()
    app.add_exception_handler(LoginRequiredError, page_errors)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(router)
