"""Users and tokens over HTTP: register, log in, refresh, who am I — through the gateway."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import jwt
import pytest

from shared.auth.access import Access
from shared.auth.access_store import AccessStore
from shared.auth.tokens import issue_access_token, issue_refresh_token
from shared.settings import Settings
from tests.integration.conftest import PASSWORD, BoardApi

pytestmark = pytest.mark.integration


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_new_user_registers_logs_in_and_reads_their_profile_at_once(
    board_api: BoardApi,
) -> None:
    registered = await board_api.register("Алиса", email="Alice@Example.com")
    logged_in = await board_api.log_in("алиса")
    me = await board_api.http.get("/api/users/me/", headers=bearer(logged_in.json()["access"]))

    assert registered.status_code == 201
    user = registered.json()
    assert user == {"id": user["id"], "username": "Алиса", "email": "Alice@Example.com"}
    assert int(registered.headers["X-Event-Position"]) >= 1
    assert logged_in.status_code == 200
    assert set(logged_in.json()) == {"access", "refresh", "token_type"}
    assert logged_in.json()["token_type"] == "bearer"
    assert me.status_code == 200, me.text
    joined = board_api.clock.now().isoformat().replace("+00:00", "Z")
    assert me.json() == {**user, "is_staff": False, "date_joined": joined}


async def test_swagger_uis_oauth2_form_logs_in_and_gets_an_access_token(
    board_api: BoardApi,
) -> None:
    await board_api.register("bob")

    response = await board_api.http.post(
        "/api/users/login/",
        data={"grant_type": "password", "username": "bob", "password": PASSWORD, "scope": ""},
    )

    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["access_token"] == tokens["access"]
    assert tokens["token_type"] == "bearer"
    me = await board_api.http.get("/api/users/me/", headers=bearer(tokens["access_token"]))
    assert me.json()["username"] == "bob"


@pytest.mark.parametrize(
    ("first", "second", "code"),
    [
        ({"username": "carol"}, {"username": "CAROL"}, "username_taken"),
        ({"username": "Ёлка"}, {"username": "ёЛКА"}, "username_taken"),
        (
            {"username": "dave", "email": "Dave@Example.com"},
            {"username": "dave2", "email": "dave@example.COM"},
            "email_taken",
        ),
    ],
)
async def test_a_taken_username_or_email_is_refused_whatever_its_letter_case(
    board_api: BoardApi, first: dict[str, str], second: dict[str, str], code: str
) -> None:
    assert (await board_api.register(**first)).status_code == 201

    response = await board_api.register(**second)

    assert response.status_code == 400
    assert response.json()["code"] == code


@pytest.mark.parametrize(
    "variants",
    [
        pytest.param([{"username": "erin"}] * 6, id="same username"),
        pytest.param(
            [{"username": f"frank{n}", "email": "frank@example.com"} for n in range(6)],
            id="same e-mail",
        ),
    ],
)
async def test_of_concurrent_registrations_of_one_name_exactly_one_succeeds(
    board_api: BoardApi, variants: list[dict[str, str]]
) -> None:
    responses = await asyncio.gather(*(board_api.register(**v) for v in variants))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [400] * (len(variants) - 1), [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 400} <= {
        "username_taken",
        "email_taken",
    }


@pytest.mark.parametrize(
    ("password", "username"),
    [("short1", "gina"), ("1234567890", "gina"), ("GinaGinaGina", "ginaginagina")],
)
async def test_a_weak_password_is_a_validation_error_of_the_password(
    board_api: BoardApi, password: str, username: str
) -> None:
    response = await board_api.register(username, password=password)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert list(body["errors"]) == ["password"]


async def test_every_bad_field_of_a_registration_is_reported_at_once(board_api: BoardApi) -> None:
    response = await board_api.register("no spaces allowed", password="1", email="not-an-email")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"username", "email", "password"}


@pytest.mark.parametrize(
    ("path", "body", "fields"),
    [
        (
            "/api/users/register/",
            r'{"username": "nul\u0000user", "password": "pass\u0000word-long"}',
            {"username", "password"},
        ),
        (
            "/api/users/register/",
            r'{"username": "sam", "email": "\ud800@example.com", "password": "long-enough"}',
            {"email"},
        ),
        (
            "/api/users/login/",
            r'{"username": "nul\u0000user", "password": "pass\u0000word"}',
            {"username", "password"},
        ),
        ("/api/users/token/refresh/", r'{"refresh": "\udfff"}', {"refresh"}),
    ],
    ids=["nul-registration", "surrogate-email", "login", "refresh"],
)
async def test_text_no_database_or_encoding_can_hold_is_a_validation_error(
    board_api: BoardApi, path: str, body: str, fields: set[str]
) -> None:
    # Sent as JSON text: a lone surrogate cannot be encoded by the client either.
    response = await board_api.http.post(
        path, content=body.encode(), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400, response.text
    assert set(response.json()["errors"]) == fields


async def test_a_login_name_or_password_longer_than_any_accounts_is_a_validation_error(
    board_api: BoardApi,
) -> None:
    # Before the bound, a name of 3 000 characters overflowed the failure counter's index.
    long_name = await board_api.log_in("n" * 3000, "x")
    long_password = await board_api.log_in("someone", "p" * 1025)
    registered = await board_api.register("longpass", password="p1" * 513)

    assert long_name.status_code == long_password.status_code == registered.status_code == 400
    assert list(long_name.json()["errors"]) == ["username"]
    assert list(long_password.json()["errors"]) == ["password"]
    assert list(registered.json()["errors"]) == ["password"]


async def test_a_wrong_password_and_an_unknown_user_get_the_same_401(board_api: BoardApi) -> None:
    await board_api.register("harry")

    wrong_password = await board_api.log_in("harry", "not-the-password")
    unknown_user = await board_api.log_in("nobody-here")

    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json() == unknown_user.json()
    assert wrong_password.json()["code"] == "invalid_credentials"


async def test_a_refresh_gives_a_new_pair_and_each_refresh_token_works_once(
    board_api: BoardApi,
) -> None:
    account = await board_api.account("ivan")

    refreshed = await board_api.http.post(
        "/api/users/token/refresh/", json={"refresh": account.refresh}
    )
    reused = await board_api.http.post(
        "/api/users/token/refresh/", json={"refresh": account.refresh}
    )
    again = await board_api.http.post(
        "/api/users/token/refresh/", json={"refresh": refreshed.json()["refresh"]}
    )

    assert refreshed.status_code == 200, refreshed.text
    assert set(refreshed.json()) == {"access", "refresh"}
    assert refreshed.json()["refresh"] != account.refresh
    me = await board_api.http.get("/api/users/me/", headers=bearer(refreshed.json()["access"]))
    assert me.json()["username"] == "ivan"
    assert reused.status_code == 401
    assert reused.json()["code"] == "token_not_valid"
    assert again.status_code == 200


def tampered(token: str) -> str:
    """The token with its signature's last characters changed."""
    return token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")


def signed_otherwise(token: str, key: str | None, algorithm: str = "HS256") -> str:
    """The token's very claims, signed with another key or algorithm."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode(claims, key, algorithm=algorithm)


OTHER_SECRET = "another-secret-" + "x" * 32


async def test_a_token_that_is_not_a_valid_access_token_is_refused_by_both_apis(
    board_api: BoardApi, settings: Settings
) -> None:
    account = await board_api.account("jane")
    user_id = UUID(account.id)
    past = datetime.now(UTC) - timedelta(minutes=16)
    refuse = {
        "expired": issue_access_token(settings, user_id, "jane", False, now=past),
        "tampered": tampered(account.access),
        "alg none": signed_otherwise(account.access, None, algorithm="none"),
        "wrong secret": signed_otherwise(account.access, OTHER_SECRET),
        "refresh as access": account.refresh,
    }

    for name, token in refuse.items():
        read = await board_api.http.get("/api/users/me/", headers=bearer(token))
        listed = await board_api.http.get("/api/events/", headers=bearer(token))
        write = await board_api.http.post("/api/events/", json={}, headers=bearer(token))

        for response in (read, listed, write):
            assert response.status_code == 401, (name, response.text)
            assert response.json()["code"] == "token_not_valid", name


async def test_a_token_that_is_not_a_valid_refresh_token_is_refused(
    board_api: BoardApi, settings: Settings
) -> None:
    account = await board_api.account("kate")
    user_id = UUID(account.id)
    past = datetime.now(UTC) - timedelta(days=8)
    refuse = {
        "access as refresh": account.access,
        "expired": issue_refresh_token(settings, user_id, uuid4(), now=past).token,
        "tampered": tampered(account.refresh),
        "never issued": issue_refresh_token(settings, user_id, uuid4()).token,
        "wrong secret": signed_otherwise(account.refresh, OTHER_SECRET),
        "alg none": signed_otherwise(account.refresh, None, algorithm="none"),
    }

    for name, token in refuse.items():
        response = await board_api.http.post("/api/users/token/refresh/", json={"refresh": token})

        assert response.status_code == 401, (name, response.text)
        assert response.json()["code"] == "token_not_valid", name
    # None of the refusals spent the real token.
    fine = await board_api.http.post("/api/users/token/refresh/", json={"refresh": account.refresh})
    assert fine.status_code == 200


async def test_a_deactivated_user_can_neither_log_in_nor_use_old_tokens(
    board_api: BoardApi,
) -> None:
    account = await board_api.account("leo")

    board_api.board.deactivate_user(UUID(account.id))

    login = await board_api.log_in("leo")
    me = await board_api.http.get("/api/users/me/", headers=account.headers)
    listed = await board_api.http.get("/api/events/", headers=account.headers)
    write = await board_api.http.post("/api/events/", json={}, headers=account.headers)
    refresh = await board_api.http.post(
        "/api/users/token/refresh/", json={"refresh": account.refresh}
    )
    assert (login.status_code, login.json()["code"]) == (401, "invalid_credentials")
    for response in (me, listed, write, refresh):
        assert (response.status_code, response.json()["code"]) == (401, "token_not_valid")


async def test_a_change_of_rights_holds_for_tokens_issued_before_it(board_api: BoardApi) -> None:
    account = await board_api.account("mia", staff=True)
    assert (await board_api.http.get("/api/users/me/", headers=account.headers)).json()["is_staff"]

    board_api.board.set_staff(UUID(account.id), is_staff=False)

    me = await board_api.http.get("/api/users/me/", headers=account.headers)
    assert me.json()["is_staff"] is False


async def test_the_write_side_records_each_users_rights_with_their_last_position(
    board_api: BoardApi, settings: Settings
) -> None:
    async with AccessStore(settings).running() as access:
        registered = await board_api.register("quinn", email="quinn@example.com")
        user_id = UUID(registered.json()["id"])
        after_registering = await access.get(user_id)
        granted = board_api.board.set_staff(user_id, is_staff=True)
        access.forget([user_id])
        after_granting = await access.get(user_id)
        unknown = await access.get(uuid4())

    position = int(registered.headers["X-Event-Position"])
    assert after_registering == Access(is_staff=False, is_active=True, position=position)
    assert after_granting == Access(is_staff=True, is_active=True, position=granted.position)
    assert granted.position > position
    assert unknown is None


async def test_ten_failures_lock_a_username_until_fifteen_minutes_have_passed(
    board_api: BoardApi,
) -> None:
    await board_api.register("nina")
    for _ in range(10):
        assert (await board_api.log_in("nina", "wrong-password")).status_code == 401

    locked = await board_api.log_in("NINA")
    other = await board_api.account("oscar")
    board_api.clock.advance(15 * 60)
    released = await board_api.log_in("nina")

    assert locked.status_code == 429
    assert locked.json()["code"] == "too_many_attempts"
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    assert other.access
    assert released.status_code == 200


async def test_a_hundred_failures_lock_the_client_address_whatever_it_forwards(
    board_api: BoardApi,
) -> None:
    await board_api.register("paul")
    for n in range(100):
        failed = await board_api.http.post(
            "/api/users/login/",
            json={"username": f"guess{n}", "password": "wrong-password"},
            headers={"X-Forwarded-For": f"10.0.{n}.1"},
        )
        assert failed.status_code == 401

    response = await board_api.http.post(
        "/api/users/login/",
        json={"username": "paul", "password": PASSWORD},
        headers={"X-Forwarded-For": "10.9.9.9"},
    )

    assert response.status_code == 429
    assert response.json()["code"] == "too_many_attempts"


async def test_anonymous_me_is_not_authenticated(board_api: BoardApi) -> None:
    response = await board_api.http.get("/api/users/me/")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


async def test_a_refresh_token_expiring_past_the_calendar_is_not_valid(
    board_api: BoardApi, settings: Settings
) -> None:
    # Signed with the secret itself: pyjwt accepts the far future, a datetime cannot hold it.
    ann = await board_api.account("ann")
    now = datetime.now(UTC)
    claims = {"sub": ann.id, "type": "refresh", "iat": now, "exp": 10**30, "jti": str(uuid4())}
    forged = jwt.encode(claims, settings.secret_key, algorithm="HS256")

    response = await board_api.http.post("/api/users/token/refresh/", json={"refresh": forged})

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
