"""Access control that cannot miss a route: the route table is walked, and every route must be
in POLICY with the role it needs; a new route without a guard, or one missing here, fails.

Each guarded API route answers 401 without a credential (and with a made-up one) and 403 to
every role below the one it needs; each crew page sends an anonymous GET to the login page and
answers an anonymous POST with 401 and a too-weak role with 403.
"""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from greeniot.api import crew
from greeniot.api.app import API_PREFIX
from greeniot.api.routes import ROUTE_MODULES
from greeniot.registry.accounts import ROLES
from tests.api import access_docs
from tests.api.conftest import FakeCommander

PUBLIC = "public"
#: (method, path) → the weakest role admitted. Reading viewer+, task work crew+, valve commands
#: and estate edits operator+, accounts and the audit log admin.
POLICY: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/health"): PUBLIC,
    ("POST", "/api/v1/auth/token"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): "viewer",
    ("GET", "/api/v1/auth/me"): "viewer",
    ("GET", "/api/v1/users"): "admin",
    ("POST", "/api/v1/users"): "admin",
    ("GET", "/api/v1/users/{username}"): "admin",
    ("PATCH", "/api/v1/users/{username}"): "admin",
    ("POST", "/api/v1/users/{username}/api-keys"): "admin",
    ("GET", "/api/v1/audit"): "admin",
    ("GET", "/api/v1/sites"): "viewer",
    ("POST", "/api/v1/sites"): "operator",
    ("GET", "/api/v1/sites/{site}"): "viewer",
    ("PATCH", "/api/v1/sites/{site}"): "operator",
    ("GET", "/api/v1/sites/{site}/latest"): "viewer",
    ("POST", "/api/v1/sites/{site}/forecast"): "operator",
    ("GET", "/api/v1/irrigation/decisions"): "viewer",
    ("GET", "/api/v1/irrigation/decisions/{decision_id}"): "viewer",
    ("GET", "/api/v1/zones"): "viewer",
    ("POST", "/api/v1/zones"): "operator",
    ("GET", "/api/v1/zones/{site}/{zone}"): "viewer",
    ("PATCH", "/api/v1/zones/{site}/{zone}"): "operator",
    ("GET", "/api/v1/trees"): "viewer",
    ("POST", "/api/v1/trees"): "operator",
    ("GET", "/api/v1/trees/{site}/{tree}"): "viewer",
    ("PATCH", "/api/v1/trees/{site}/{tree}"): "operator",
    ("GET", "/api/v1/devices"): "viewer",
    ("POST", "/api/v1/devices"): "operator",
    ("GET", "/api/v1/devices/{site}/{device}"): "viewer",
    ("PATCH", "/api/v1/devices/{site}/{device}"): "operator",
    ("POST", "/api/v1/devices/{site}/{device}/remount"): "crew",
    ("GET", "/api/v1/tasks"): "viewer",
    ("POST", "/api/v1/tasks"): "crew",
    ("GET", "/api/v1/tasks/{task_id}"): "viewer",
    ("POST", "/api/v1/tasks/{task_id}/acknowledge"): "crew",
    ("POST", "/api/v1/tasks/{task_id}/assign"): "crew",
    ("POST", "/api/v1/tasks/{task_id}/start"): "crew",
    ("POST", "/api/v1/tasks/{task_id}/close"): "crew",
    ("POST", "/api/v1/tasks/{task_id}/cancel"): "operator",
    ("POST", "/api/v1/tasks/{task_id}/photos"): "crew",
    ("GET", "/api/v1/tasks/{task_id}/photos"): "viewer",
    ("GET", "/api/v1/tasks/{task_id}/photos/{photo_id}"): "viewer",
    ("GET", "/api/v1/alerts"): "viewer",
    ("GET", "/api/v1/alerts/{alert_id}"): "viewer",
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): "crew",
    ("POST", "/api/v1/valves/{site}/{device}/commands"): "operator",
    ("GET", "/api/v1/commands"): "viewer",
    ("GET", "/api/v1/commands/{command_id}"): "viewer",
    # alarm lifecycle, deliveries, alert routes, roster; estate management
    ("GET", "/api/v1/alert-routes"): "viewer",
    ("POST", "/api/v1/alert-routes"): "operator",
    ("DELETE", "/api/v1/alert-routes/{name}"): "operator",
    ("POST", "/api/v1/alert-routes/{name}/disable"): "operator",
    ("POST", "/api/v1/alert-routes/{name}/enable"): "operator",
    ("POST", "/api/v1/alerts/{alert_id}/clear"): "crew",
    ("GET", "/api/v1/alerts/{alert_id}/deliveries"): "viewer",
    ("POST", "/api/v1/calendar/rules"): "operator",
    ("GET", "/api/v1/calendar/rules"): "viewer",
    ("POST", "/api/v1/calendar/rules/presets"): "operator",
    ("POST", "/api/v1/calendar/rules/{rule_id}/enabled"): "operator",
    ("GET", "/api/v1/calendar/rules/{rule_id}/tasks"): "viewer",
    ("POST", "/api/v1/calendar/run"): "operator",
    ("POST", "/api/v1/complaints"): "operator",
    ("GET", "/api/v1/complaints"): "viewer",
    ("GET", "/api/v1/complaints/hotspots"): "viewer",
    ("GET", "/api/v1/complaints/{ticket}"): "viewer",
    ("GET", "/api/v1/complaints/{ticket}/contact"): "operator",
    ("POST", "/api/v1/complaints/{ticket}/reply"): "operator",
    ("GET", "/api/v1/contractors/rules"): "viewer",
    ("GET", "/api/v1/contractors/scores"): "viewer",
    ("GET", "/api/v1/deliveries"): "viewer",
    ("GET", "/api/v1/ledger/export"): "viewer",
    ("POST", "/api/v1/ledger/import"): "operator",
    ("POST", "/api/v1/ledger/trees/{site}/{tree}/replant"): "operator",
    ("POST", "/api/v1/ledger/trees/{site}/{tree}/retire"): "operator",
    ("GET", "/api/v1/sites/{site}/roster"): "viewer",
    ("POST", "/api/v1/sites/{site}/roster"): "operator",
    ("POST", "/api/v1/sites/{site}/roster/{name}/activate"): "operator",
    ("POST", "/api/v1/sites/{site}/roster/{name}/deactivate"): "operator",
    ("POST", "/api/v1/sunlight/check"): "operator",
    ("PUT", "/api/v1/tasks/{task_id}/contractor"): "operator",
    ("POST", "/api/v1/tasks/{task_id}/work-records"): "crew",
    ("GET", "/api/v1/tasks/{task_id}/work-records"): "viewer",
    ("DELETE", "/api/v1/trees/{site}/{tree}"): "operator",
    # the crew page (HTML, not in the OpenAPI schema)
    ("GET", "/crew/login"): PUBLIC,
    ("POST", "/crew/login"): PUBLIC,
    ("POST", "/crew/logout"): "viewer",
    ("GET", "/crew"): "viewer",
    ("GET", "/crew/tasks/{task_id}"): "viewer",
    ("POST", "/crew/tasks/{task_id}/acknowledge"): "crew",
    ("POST", "/crew/tasks/{task_id}/start"): "crew",
    ("POST", "/crew/tasks/{task_id}/close"): "crew",
    ("POST", "/crew/alarms/{alert_id}/acknowledge"): "crew",
    ("POST", "/crew/alarms/{alert_id}/clear"): "crew",
}
MODULES = ROUTE_MODULES
PARAMS = {"site": "estate-a", "zone": "z1", "tree": "t1", "device": "valve-z1", "task_id": "1",
          "alert_id": "a-1", "command_id": "c-1", "username": "viewer", "photo_id": "p1",
          "name": "r1", "ticket": "GC-1", "rule_id": "1", "decision_id": "1"}


def _guard_role(route: APIRoute) -> str:
    """The role of the RoleGuard/PageGuard among the route's dependencies, or PUBLIC."""
    found = [dep.call.role for dep in route.dependant.dependencies
             if hasattr(dep.call, "role") and isinstance(dep.call.role, str)]
    assert len(found) <= 1, (route.path, found)
    return found[0] if found else PUBLIC


def declared() -> dict[tuple[str, str], str]:
    """Every route of the API and the crew page with the role its guard declares."""
    out = {}
    for module in MODULES:
        for route in module.router.routes:
            assert isinstance(route, APIRoute), route
            for method in route.methods:
                out[(method, API_PREFIX + route.path)] = _guard_role(route)
    for route in crew.router.routes:
        assert isinstance(route, APIRoute), route
        for method in route.methods:
            out[(method, route.path)] = _guard_role(route)
    return out


def url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PARAMS[m.group(1)], path)


def weaker(role: str) -> list[str]:
    return list(ROLES[:ROLES.index(role)])


def test_every_route_declares_the_role_the_policy_gives_it(anon: TestClient) -> None:
    spec = anon.get("/openapi.json").json()
    in_schema = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    have = declared()
    # the walked table is complete: every documented operation is in it, and vice versa
    assert in_schema == {k for k in have if k[1].startswith(API_PREFIX)}
    assert have == POLICY
    # and the schema tells clients which operations need a credential
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            needs = POLICY[(method.upper(), path)] != PUBLIC
            assert bool(op.get("security")) == needs, (method, path)
            assert op["x-required-role"] == POLICY[(method.upper(), path)]


API_GUARDED = [k for k, role in POLICY.items() if role != PUBLIC and k[1].startswith("/api")]


@pytest.mark.parametrize(("method", "path"), API_GUARDED)
def test_api_route_is_401_without_a_credential_and_403_below_its_role(
        anon: TestClient, clients: dict[str, TestClient], commander: FakeCommander,
        method: str, path: str) -> None:
    r = anon.request(method, url(path))
    assert r.status_code == 401, (method, path, r.text)
    assert r.headers["www-authenticate"] == "Bearer"
    r = anon.request(method, url(path), headers={"Authorization": "Bearer gs_not-a-token"})
    assert r.status_code == 401, (method, path, r.text)
    r = anon.request(method, url(path), headers={"X-API-Key": "gk_not-a-key"})
    assert r.status_code == 401, (method, path, r.text)
    for role in weaker(POLICY[(method, path)]):
        r = clients[role].request(method, url(path))
        assert r.status_code == 403, (method, path, role, r.text)
    assert commander.calls == []


PAGES = [k for k, role in POLICY.items() if role != PUBLIC and k[1].startswith("/crew")]


@pytest.mark.parametrize(("method", "path"), PAGES)
def test_crew_page_needs_a_session_and_its_role(anon: TestClient,
                                                 clients: dict[str, TestClient],
                                                 method: str, path: str) -> None:
    r = anon.request(method, url(path), follow_redirects=False)
    if method == "GET":
        assert (r.status_code, r.headers["location"]) == (303, "/crew/login")
    else:
        assert r.status_code == 401
    for role in weaker(POLICY[(method, path)]):
        token = clients[role].headers["Authorization"].removeprefix("Bearer ")
        c = TestClient(anon.app, cookies={"greeniot_session": token})
        r = c.request(method, url(path), follow_redirects=False)
        assert r.status_code == 403, (method, path, role, r.text)


def test_a_cookie_does_not_authorise_api_writes(anon: TestClient,
                                                clients: dict[str, TestClient]) -> None:
    """A browser sends cookies with any request: API writes need the header (no CSRF)."""
    token = clients["admin"].headers["Authorization"].removeprefix("Bearer ")
    c = TestClient(anon.app, cookies={"greeniot_session": token})
    assert c.get("/api/v1/sites").status_code == 200
    assert c.post("/api/v1/sites", json={"id": "by-cookie"}).status_code == 401


def test_public_routes_answer_anonymous_callers(anon: TestClient) -> None:
    assert anon.get("/api/v1/health").status_code == 200
    assert anon.get("/crew/login").status_code == 200
    assert anon.post("/api/v1/auth/token",
                     data={"username": "viewer", "password": "nope-nope"}).status_code == 401




def test_docs_list_every_route_with_its_role() -> None:
    """docs/access.md carries the policy's table (rewrite it: python -m tests.api.access_docs)."""
    text = access_docs.DOC.read_text()
    assert access_docs.current(text) == access_docs.section(POLICY), (
        "docs/access.md is stale: run ./.venv/bin/python -m tests.api.access_docs")
    for (method, path), role in POLICY.items():
        assert any(f"`{path}` | {role} |" in line and method in line.split("|")[1]
                   for line in text.splitlines()), (method, path)
