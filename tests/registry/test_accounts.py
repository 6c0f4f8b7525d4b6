"""Accounts in the registry: argon2 hashes, token lifetimes and revocation, demo accounts."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from greeniot.registry import accounts
from greeniot.registry.errors import InvalidInputError
from greeniot.registry.models_access import AuthToken

T0 = 1_700_000_000_000


def test_passwords_are_argon2id_and_tokens_stored_as_hashes(session: Session) -> None:
    user = accounts.create_user(session, username="Li", role="crew", password="camphor-tree")
    assert user.username == "li"
    assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    assert "camphor-tree" not in user.password_hash
    assert accounts.authenticate(session, username="LI", password="camphor-tree") is user
    assert accounts.authenticate(session, username="li", password="camphor-tre") is None
    token, row = accounts.issue_token(session, user=user, kind="session", ttl_s=60, now_ms=T0)
    assert row.token_hash == accounts.hash_token(token) and token not in row.token_hash
    who = accounts.resolve_token(session, token, now_ms=T0 + 59_999)
    assert who is not None and (who.username, who.role, who.token_id) == ("li", "crew", row.id)
    assert accounts.resolve_token(session, token, now_ms=T0 + 60_000) is None  # expired
    assert accounts.resolve_token(session, token + "x", now_ms=T0) is None


def test_disabling_revokes_and_bad_input_is_named(session: Session) -> None:
    svc = accounts.create_user(session, username="gis", role="operator", kind="service")
    key, _row = accounts.issue_token(session, user=svc, kind="api_key")
    assert accounts.resolve_token(session, key) is not None
    accounts.update_user(session, username="gis", disabled=True)
    assert accounts.resolve_token(session, key) is None
    assert session.query(AuthToken).one().revoked_ms is not None
    accounts.update_user(session, username="gis", disabled=False)
    assert accounts.resolve_token(session, key) is None  # a revoked key stays revoked
    for kw, why in (({"username": "a b", "role": "crew", "password": "x" * 8}, "must match"),
                    ({"username": "p", "role": "crew", "password": "short"}, "at least 8"),
                    ({"username": "p", "role": "crew"}, "needs a password"),
                    ({"username": "p", "role": "crew", "password": "x" * 8, "tz": "Nowhere"},
                     "IANA"),
                    ({"username": "p", "role": "crew", "password": "x" * 8, "locale": "fr"},
                     "locale 'fr'")):
        with pytest.raises(InvalidInputError, match=why):
            accounts.create_user(session, **kw)  # type: ignore[arg-type]


def test_demo_accounts_one_per_role_kept_on_a_second_run(session: Session) -> None:
    first = accounts.ensure_role_accounts(session)
    assert set(first) == {"demo-admin", "demo-operator", "demo-crew", "demo-viewer"}
    for name, pw in first.items():
        assert pw and accounts.authenticate(session, username=name, password=pw) is not None
        assert accounts.get_user(session, username=name).role == name.removeprefix("demo-")
    assert accounts.ensure_role_accounts(session) == dict.fromkeys(first)
