"""AUTH_MODE=token over HTTP: tokens, the first admin, roles, and namespaces kept apart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import RunningServer
from tests.support.receiver import ThreadedReceiver

ADMIN_PASSWORD = "root-password-1"
TOKEN_ENV = {
    "AUTH_MODE": "token",
    "FIRST_ADMIN_LOGIN": "root",
    "FIRST_ADMIN_PASSWORD": ADMIN_PASSWORD,
    "ALLOW_PROXY_TO_PRIVATE_IPS": "true",
    "MOCKBACK_CLEANUP_INTERVAL": "0",
}


def ok(answer: httpx.Response, status: int = 200) -> Any:
    """The JSON of an answer that must have this status."""
    assert answer.status_code == status, f"{answer.request.url}: {answer.text}"
    return answer.json() if answer.content else None


class Session:
    """Clients of one server, each logged in as someone."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.clients: list[httpx.Client] = []

    def login(self, login: str, password: str) -> httpx.Client:
        """A client carrying a fresh login token."""
        answer = ok(
            self.server.client.post("/api/v1/login", json={"login": login, "password": password})
        )
        assert answer["token"].startswith("mbk_") and answer["expiresAt"]
        return self.bearer(answer["token"])

    def bearer(self, token: str) -> httpx.Client:
        """A client sending this token."""
        client = httpx.Client(
            base_url=self.server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self.clients.append(client)
        return client

    def close(self) -> None:
        """Close every client."""
        for client in self.clients:
            client.close()


@pytest.fixture
def session(start_server: Any) -> Iterator[Session]:
    """A token-mode server with an admin ``root``."""
    s = Session(start_server("--ephemeral", env=TOKEN_ENV))
    yield s
    s.close()


GUARDED = [
    ("GET", "/api/v1/mocks"),
    ("POST", "/api/v1/mocks"),
    ("GET", "/api/v1/mocks/any"),
    ("POST", "/mock/create"),
    ("GET", "/api/v1/stores/global"),
    ("GET", "/api/v1/stores/chain/c"),
    ("GET", "/api/v1/deliveries"),
    ("POST", "/api/v1/deliveries/flush"),
    ("GET", "/api/v1/requests"),
    ("GET", "/api/v1/undefined-requests"),
    ("GET", "/api/v1/namespaces"),
    ("GET", "/api/v1/namespaces/sandbox/users"),
    ("GET", "/api/v1/namespaces/sandbox/webhooks"),
    ("GET", "/ui/api/namespaces/sandbox/webhooks"),
    ("GET", "/api/v1/admin/webhooks"),
    ("GET", "/ui/api/admin/webhooks"),
    ("GET", "/api/v1/users"),
    ("GET", "/api/v1/tokens"),
    ("GET", "/api/v1/admin/backups"),
    ("POST", "/api/v1/admin/jobs/cleanup/run"),
]


def test_admin_calls_need_a_valid_token_and_the_rest_stays_open(session: Session) -> None:
    """No token or a wrong one is a 401 in the error shape; health, metrics, docs, mocks stay open."""
    server = session.server
    root = session.login("root", ADMIN_PASSWORD)
    ok(root.post("/api/v1/mocks", json={"id": "open", "http": {"route": "/open"}}), 201)
    for headers in ({}, {"Authorization": "Bearer mbk_wrong"}, {"Authorization": "Basic x"}):
        for method, path in GUARDED:
            answer = server.client.request(method, path, headers=headers, json={})
            assert answer.status_code == 401, (method, path, headers, answer.text)
            body = answer.json()
            assert set(body) == {"error", "details"} and body["error"]
            assert answer.headers["WWW-Authenticate"] == "Bearer"
    for path in ("/health", "/health/live", "/health/ready", "/metrics", "/openapi.json", "/open"):
        assert server.client.get(path).status_code == 200, path
    wrong = server.client.post("/api/v1/login", json={"login": "root", "password": "nope"})
    assert wrong.status_code == 401
    unknown = server.client.post("/api/v1/login", json={"login": "nobody", "password": "nope"})
    assert unknown.status_code == 401 and unknown.json()["error"] == wrong.json()["error"]


def test_the_generated_first_admin_password_is_shown_once(
    start_server: Any, tmp_path: Path
) -> None:
    """Without FIRST_ADMIN_PASSWORD one is generated, logged once on stderr, and works."""
    env = {"AUTH_MODE": "token", "FIRST_ADMIN_LOGIN": "boss", "MOCKBACK_LOG_FORMAT": "json"}
    data = str(tmp_path / "data")
    first: RunningServer = start_server("--data-dir", data, env=env)
    first.client.get("/health")
    lines = [json.loads(line) for line in first.stderr_text().splitlines() if "password" in line]
    assert len(lines) == 1 and lines[0]["login"] == "boss"
    password = lines[0]["password"]
    assert len(password) >= 16
    answer = first.client.post("/api/v1/login", json={"login": "boss", "password": password})
    assert answer.status_code == 200
    assert first.stop() == 0
    second: RunningServer = start_server("--data-dir", data, env=env)
    second.client.get("/health")
    assert password not in second.stderr_text() and "generated" not in second.stderr_text()
    again = second.client.post("/api/v1/login", json={"login": "boss", "password": password})
    assert again.status_code == 200


def test_api_tokens_are_shown_once_listed_without_secret_and_revocable(session: Session) -> None:
    """A token is in its creation answer only, works until deleted, then is a 401."""
    root = session.login("root", ADMIN_PASSWORD)
    made = ok(root.post("/api/v1/tokens", json={"name": "ci"}), 201)
    assert made["token"].startswith("mbk_") and made["name"] == "ci"
    listed = ok(root.get("/api/v1/tokens"))
    assert made["id"] in [t["id"] for t in listed["items"]]
    assert made["token"] not in json.dumps(listed) and "token" not in listed["items"][0]
    ci = session.bearer(made["token"])
    ok(ci.get("/api/v1/mocks"))
    ok(root.delete(f"/api/v1/tokens/{made['id']}"), 204)
    assert ci.get("/api/v1/mocks").status_code == 401


def test_passwords_change_with_the_current_one_or_by_an_admin(session: Session) -> None:
    """A user changes their own password with the current one; an admin sets anyone's."""
    root = session.login("root", ADMIN_PASSWORD)
    ann = ok(root.post("/api/v1/users", json={"login": "ann", "password": "ann-pass-1"}), 201)
    assert "password" not in json.dumps(ann)
    as_ann = session.login("ann", "ann-pass-1")
    me = ok(as_ann.get("/api/v1/users/me"))
    assert me["id"] == ann["id"] and me["namespaces"] == []
    no_current = as_ann.post("/api/v1/users/me/password", json={"password": "ann-pass-2"})
    assert no_current.status_code == 403
    ok(
        as_ann.post(
            f"/api/v1/users/{ann['id']}/password",
            json={"password": "ann-pass-2", "currentPassword": "ann-pass-1"},
        )
    )
    old = session.server.client.post(
        "/api/v1/login", json={"login": "ann", "password": "ann-pass-1"}
    )
    assert old.status_code == 401
    # The login token made with the old password ended with it.
    assert as_ann.get("/api/v1/users/me").status_code == 401
    as_ann = session.login("ann", "ann-pass-2")
    api_token = ok(as_ann.post("/api/v1/tokens", json={"name": "ci"}), 201)["token"]
    ok(root.post(f"/api/v1/users/{ann['id']}/password", json={"password": "ann-pass-3"}))
    # An admin's reset ends her login tokens too; her API token keeps working, and the admin's
    # own login token is untouched.
    assert as_ann.get("/api/v1/users/me").status_code == 401
    assert ok(session.bearer(api_token).get("/api/v1/users/me"))["id"] == ann["id"]
    ok(root.get("/api/v1/users/me"))
    session.login("ann", "ann-pass-3")
    short = root.post(f"/api/v1/users/{ann['id']}/password", json={"password": "short"})
    assert short.status_code == 400 and short.json()["details"][0]["field"] == "password"
    last_admin = root.patch(
        f"/api/v1/users/{ok(root.get('/api/v1/users/me'))['id']}", json={"role": "user"}
    )
    assert last_admin.status_code == 409


def test_users_of_one_namespace_see_nothing_of_another(session: Session) -> None:
    """Everything of namespace b answers 404 to a member of a; viewers of a cannot write."""
    root = session.login("root", ADMIN_PASSWORD)
    with ThreadedReceiver() as receiver:
        for name in ("a", "b"):
            ok(root.post("/api/v1/namespaces", json={"name": name}), 201)
        users = {}
        for login, ns, role in (
            ("alice", "a", "owner"),
            ("vic", "a", "viewer"),
            ("bob", "b", "owner"),
        ):
            users[login] = ok(
                root.post("/api/v1/users", json={"login": login, "password": f"{login}-pass-1"}),
                201,
            )
            ok(
                root.post(f"/api/v1/namespaces/{ns}/users", json={"login": login, "role": role}),
                201,
            )
        bob = session.login("bob", "bob-pass-1")
        ok(
            bob.post(
                "/api/v1/mocks",
                json={
                    "id": "b-mock",
                    "namespace": "b",
                    "chainId": "b-chain",
                    "http": {"route": "/b"},
                    "webhooks": [{"url": receiver.url("/b"), "body": {"x": 1}}],
                },
            ),
            201,
        )
        ok(bob.post("/api/v1/stores/global", params={"namespace": "b"}, json={"k": "b"}))
        ok(bob.post("/api/v1/stores/chain/b-chain", json={"k": "b"}))
        ok(
            bob.post(
                "/api/v1/namespaces/b/webhooks",
                json={"id": "b-hook", "operation": "*", "url": receiver.url("/b-hook")},
            ),
            201,
        )
        assert session.server.client.get("/stubs/b/b").status_code == 200
        assert session.server.client.get("/stubs/b/missing").status_code == 404
        receiver.wait_for(1, timeout=10)  # the callback
        b_delivery = ok(bob.get("/api/v1/deliveries"))["items"][0]["id"]

        alice = session.login("alice", "alice-pass-1")
        ok(
            alice.post(
                "/api/v1/mocks", json={"id": "a-mock", "namespace": "a", "http": {"route": "/a"}}
            ),
            201,
        )
        hidden = [
            ("GET", "/api/v1/mocks/b-mock", None),
            ("PUT", "/api/v1/mocks/b-mock", {"namespace": "a", "http": {"route": "/x"}}),
            ("PATCH", "/api/v1/mocks/b-mock", {"priority": 3}),
            ("DELETE", "/api/v1/mocks/b-mock", None),
            ("POST", "/api/v1/mocks/b-mock/restore", None),
            ("GET", "/api/v1/mocks?namespace=b", None),
            ("POST", "/api/v1/mocks", {"namespace": "b", "http": {"route": "/x"}}),
            ("GET", "/api/v1/stores/global?namespace=b", None),
            ("POST", "/api/v1/stores/global?namespace=b", {"k": "a"}),
            ("DELETE", "/api/v1/stores/global/k?namespace=b", None),
            ("GET", "/api/v1/stores/chain/b-chain", None),
            ("POST", "/api/v1/stores/chain/b-chain", {"k": "a"}),
            ("DELETE", "/api/v1/stores/chain/b-chain/k", None),
            ("GET", "/api/v1/deliveries?namespace=b", None),
            ("GET", f"/api/v1/deliveries/{b_delivery}", None),
            ("POST", f"/api/v1/deliveries/{b_delivery}/redeliver", None),
            ("POST", "/api/v1/deliveries/wait", {"namespace": "b", "timeout": 0}),
            ("POST", "/api/v1/deliveries/wait", {"mockId": "b-mock", "timeout": 0}),
            ("GET", "/api/v1/requests?namespace=b", None),
            ("GET", "/api/v1/undefined-requests?namespace=b", None),
            ("GET", "/api/v1/namespaces/b", None),
            ("PATCH", "/api/v1/namespaces/b", {"description": "mine"}),
            ("GET", "/api/v1/namespaces/b/webhooks", None),
            ("GET", "/ui/api/namespaces/b/webhooks", None),
            ("POST", "/api/v1/namespaces/b/webhooks", {"operation": "*", "url": "http://x/"}),
            ("DELETE", "/api/v1/namespaces/b/webhooks/b-hook", None),
            ("DELETE", "/ui/api/namespaces/b/webhooks/b-hook", None),
            ("GET", "/api/v1/namespaces/b/users", None),
            ("POST", "/api/v1/namespaces/b/users", {"login": "alice", "role": "owner"}),
            ("DELETE", f"/api/v1/namespaces/b/users/{users['bob']['id']}", None),
        ]
        for method, path, body in hidden:
            answer = alice.request(method, path, json=body)
            assert answer.status_code == 404, (method, path, answer.text)
            assert set(answer.json()) == {"error", "details"}
        taken = alice.post(
            "/api/v1/mocks", json={"id": "b-mock", "namespace": "a", "http": {"route": "/x"}}
        )
        assert taken.status_code == 409
        listings = {
            "/api/v1/mocks": "a-mock",
            "/api/v1/deliveries": None,
            "/api/v1/requests": None,
            "/api/v1/undefined-requests": None,
            "/api/v1/namespaces": "a",
        }
        for path, only in listings.items():
            items = ok(alice.get(path))["items"]
            assert "b-mock" not in json.dumps(items) and '"b"' not in json.dumps(items), path
            if only is not None:
                assert [i.get("id", i.get("name")) for i in items] == [only], path
        for method, path in (
            ("GET", "/api/v1/users"),
            ("GET", "/api/v1/admin/webhooks"),
            ("GET", "/ui/api/admin/webhooks"),
            ("GET", "/api/v1/admin/backups"),
            ("POST", "/api/v1/admin/backups"),
            ("POST", "/api/v1/admin/jobs/cleanup/run"),
            ("POST", "/api/v1/deliveries/flush"),
            ("POST", "/api/v1/namespaces"),
            ("DELETE", "/api/v1/namespaces/a"),
        ):
            assert alice.request(method, path, json={"name": "z"}).status_code == 403, path

        vic = session.login("vic", "vic-pass-1")
        assert ok(vic.get("/api/v1/mocks/a-mock"))["id"] == "a-mock"
        for method, path, body in (
            ("POST", "/api/v1/mocks", {"namespace": "a", "http": {"route": "/v"}}),
            ("PATCH", "/api/v1/mocks/a-mock", {"priority": 1}),
            ("DELETE", "/api/v1/mocks/a-mock", None),
            ("POST", "/api/v1/stores/global?namespace=a", {"k": 1}),
            ("POST", "/api/v1/namespaces/a/webhooks", {"operation": "*", "url": "http://x/"}),
            ("POST", "/api/v1/namespaces/a/users", {"login": "bob", "role": "viewer"}),
        ):
            answer = vic.request(method, path, json=body)
            assert answer.status_code == 403, (method, path, answer.text)
            assert set(answer.json()) == {"error", "details"}

        b_view = ok(root.get("/api/v1/mocks/b-mock"))
        assert b_view["deleted"] is False and b_view["priority"] == 0
        assert ok(root.get("/api/v1/stores/global", params={"namespace": "b"})) == {"k": "b"}
        assert ok(root.get("/api/v1/stores/chain/b-chain")) == {"k": "b"}
        assert [w["id"] for w in ok(root.get("/api/v1/namespaces/b/webhooks"))["items"]] == [
            "b-hook"
        ]
        assert [m["login"] for m in ok(root.get("/api/v1/namespaces/b/users"))["items"]] == ["bob"]
