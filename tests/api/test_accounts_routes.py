"""Accounts over HTTP: the password flow, disabling, service accounts' API keys, the audit
log's before/after, and photo evidence (type sniffed, size checked, served only to users)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from greeniot.config import Settings
from greeniot.registry import crud
from tests.api.conftest import API, password
from tests.api.photos import jpeg_bytes, png_bytes

T0 = 1_700_000_000_000


def test_password_flow_me_and_logout(anon: TestClient) -> None:
    r = anon.post(f"{API}/auth/token", data={"username": "crew", "password": password("crew")})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["access_token"].startswith("gs_")
    assert body["expires_in"] == 12 * 3600
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    me = anon.get(f"{API}/auth/me", headers=auth).json()
    assert (me["username"], me["role"], me["locale"]) == ("crew", "crew", "en")
    assert "password_hash" not in me
    for wrong in ({"username": "crew", "password": "not-the-one"},
                  {"username": "nobody", "password": password("crew")}):
        r = anon.post(f"{API}/auth/token", data=wrong)
        assert (r.status_code, r.json()["detail"]) == (401, "wrong username or password")
    assert anon.post(f"{API}/auth/logout", headers=auth).status_code == 204
    assert anon.get(f"{API}/auth/me", headers=auth).status_code == 401


def test_admin_manages_users_and_disabling_ends_sessions_at_once(
        anon: TestClient, clients: dict[str, TestClient]) -> None:
    admin = clients["admin"]
    r = admin.post(f"{API}/users", json={"username": "li-wei", "role": "crew",
                                         "password": "bamboo-grove-7", "tz": "Asia/Shanghai",
                                         "sites": ["estate-a"]})
    assert r.status_code == 201, r.text
    assert (r.json()["locale"], r.json()["sites"]) == ("zh_Hans", ["estate-a"])
    assert admin.post(f"{API}/users", json={"username": "li-wei", "role": "crew",
                                            "password": "x" * 8}).status_code == 409
    r = admin.post(f"{API}/users", json={"username": "x", "role": "crew", "tz": "Mars/Base"})
    assert r.status_code == 422
    token = anon.post(f"{API}/auth/token", data={"username": "li-wei",
                                                 "password": "bamboo-grove-7"}).json()
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    assert anon.get(f"{API}/tasks", headers=auth).status_code == 200
    r = admin.patch(f"{API}/users/li-wei", json={"disabled": True})
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert anon.get(f"{API}/tasks", headers=auth).status_code == 401
    r = anon.post(f"{API}/auth/token", data={"username": "li-wei",
                                             "password": "bamboo-grove-7"})
    assert r.status_code == 401
    assert [u["username"] for u in admin.get(f"{API}/users").json()] == [
        "admin", "crew", "li-wei", "operator", "viewer"]


def test_service_account_api_key(anon: TestClient, clients: dict[str, TestClient]) -> None:
    admin = clients["admin"]
    assert admin.post(f"{API}/users", json={"username": "gis-sync", "role": "operator",
                                            "kind": "service"}).status_code == 201
    r = admin.post(f"{API}/users/gis-sync/api-keys", json={"name": "GIS nightly"})
    assert r.status_code == 201
    key = r.json()["api_key"]
    assert key.startswith("gk_")
    r = anon.post(f"{API}/trees", json={"site": "estate-a", "id": "t9"},
                  headers={"X-API-Key": key})
    assert r.status_code == 201
    assert anon.get(f"{API}/trees/estate-a/t9",
                    headers={"Authorization": f"Bearer {key}"}).status_code == 200
    # a person gets no API key, a service account no password login
    assert admin.post(f"{API}/users/crew/api-keys", json={}).status_code == 422
    assert anon.post(f"{API}/auth/token", data={"username": "gis-sync",
                                                "password": "anything-at-all"}
                     ).status_code == 401


def test_audit_log_has_who_what_when_before_and_after(clients: dict[str, TestClient]) -> None:
    ops = clients["operator"]
    r = ops.patch(f"{API}/zones/estate-a/z1", json={"max_run_s": 1200})
    assert r.status_code == 200
    log = clients["admin"].get(f"{API}/audit", params={"entity": "zones"}).json()
    assert len(log) == 1
    entry = log[0]
    assert (entry["actor"], entry["op"], entry["key"], entry["action"]) == (
        "operator", "update", "estate-a/z1", "PATCH /api/v1/zones/estate-a/z1")
    assert (entry["before"], entry["after"]) == ({"max_run_s": 900}, {"max_run_s": 1200})
    assert entry["ts_ms"] > T0
    ops.post(f"{API}/tasks", json={"site": "estate-a", "kind": "inspect", "title": "look"})
    inserted = clients["admin"].get(f"{API}/audit", params={"entity": "tasks"}).json()
    assert inserted[0]["op"] == "insert" and inserted[0]["after"]["created_by"] == "operator"
    # secrets never reach the log
    clients["admin"].post(f"{API}/users", json={"username": "new", "role": "viewer",
                                                "password": "long-enough"})
    users = clients["admin"].get(f"{API}/audit", params={"entity": "users"}).json()
    assert users and all("password_hash" not in (e["after"] or {}) for e in users)
    tokens = clients["admin"].get(f"{API}/audit", params={"entity": "auth_tokens"}).json()
    assert all("token_hash" not in (e["after"] or {}) for e in tokens)


def _in_progress(registry: sessionmaker[Session], crew: TestClient, **kw: object) -> int:
    with registry() as s:
        tid = crud.ensure_task(s, site="estate-a", kind="remove", title="remove t2",
                                  tree="t2", priority=1, now_ms=T0, **kw)[0].id
    assert crew.post(f"{API}/tasks/{tid}/start", json={}).status_code == 409  # not assigned
    crew.post(f"{API}/tasks/{tid}/acknowledge", json={})
    assert crew.post(f"{API}/tasks/{tid}/assign",
                     json={"owner": "someone-else"}).status_code == 403
    assert crew.post(f"{API}/tasks/{tid}/assign", json={"owner": "crew"}).status_code == 200
    assert crew.post(f"{API}/tasks/{tid}/start", json={}).status_code == 200
    return tid


def test_photo_upload_is_checked_stored_and_served_to_users_only(
        anon: TestClient, clients: dict[str, TestClient], registry: sessionmaker[Session],
        api_settings: Settings) -> None:
    crew = clients["crew"]
    tid = _in_progress(registry, crew)
    url = f"{API}/tasks/{tid}/photos"
    jpeg = jpeg_bytes()
    # the client says PNG; the bytes are a JPEG, and that is what is recorded
    r = crew.post(url, files={"file": ("x.png", jpeg, "image/png")}, data={"note": "before"})
    assert r.status_code == 201, r.text
    photo = r.json()
    assert (photo["content_type"], photo["size_bytes"], photo["width"], photo["height"],
            photo["uploaded_by"]) == ("image/jpeg", len(jpeg), 64, 48, "crew")
    stored = list(Path(api_settings.photos_dir).rglob("*.jpg"))
    assert len(stored) == 1 and stored[0].read_bytes() == jpeg
    assert stored[0].parent.name == str(tid)
    got = clients["viewer"].get(photo["url"])
    assert (got.status_code, got.headers["content-type"], got.content) == (200, "image/jpeg",
                                                                           jpeg)
    assert anon.get(photo["url"]).status_code == 401
    assert clients["viewer"].post(url, files={"file": ("a.png", png_bytes())}
                                  ).status_code == 403
    bad = {
        "text": (b"GIF89a not really", "not a JPEG, PNG or WebP image"),
        "html": (b"<html><script>alert(1)</script>", "not a JPEG, PNG or WebP image"),
        "truncated": (jpeg[: len(jpeg) // 2], "could not be decoded"),
        "empty": (b"", "photo is empty"),
        "huge": (png_bytes() + b"\0" * api_settings.auth.photo_max_bytes,
                 "more than the limit"),
    }
    for name, (data, why) in bad.items():
        r = crew.post(url, files={"file": (f"{name}.jpg", data, "image/jpeg")})
        assert r.status_code == 422 and why in r.json()["detail"], (name, r.text)
    assert len(list(Path(api_settings.photos_dir).rglob("*.*"))) == 1  # nothing else kept
    # close-out may only reference photos of this task
    r = crew.post(f"{API}/tasks/{tid}/close", json={
        "note": "removed", "evidence": [{"kind": "photo", "value": "made-up"}]})
    assert r.status_code == 422 and "was not uploaded for this task" in r.json()["detail"]
    r = crew.post(f"{API}/tasks/{tid}/close", json={
        "note": "removed", "evidence": [{"kind": "photo", "value": photo["id"]}]})
    assert r.status_code == 200 and r.json()["evidence"][0]["value"] == photo["id"]


def test_users_see_only_their_sites(anon: TestClient, registry: sessionmaker[Session],
                                    clients: dict[str, TestClient]) -> None:
    clients["admin"].patch(f"{API}/users/crew", json={"sites": ["estate-b"]})
    with registry() as s:
        tid = crud.ensure_task(s, site="estate-a", kind="inspect", title="look", now_ms=T0)[0].id
        crud.ensure_alert(s, site="estate-a", kind="lean", severity="warning", message="m",
                         ts_ms=T0)[0]
    crew = clients["crew"]
    assert crew.get(f"{API}/tasks").json() == []
    assert crew.get(f"{API}/tasks/{tid}").status_code == 403
    assert crew.post(f"{API}/tasks/{tid}/acknowledge", json={}).status_code == 403
    assert crew.get(f"{API}/alerts").json() == []
    assert [t["id"] for t in clients["viewer"].get(f"{API}/tasks").json()] == [tid]
