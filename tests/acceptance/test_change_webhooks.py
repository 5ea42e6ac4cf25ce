"""Change webhooks over HTTP: every operation fires, with the default and a templated body.

One server (AUTH_MODE=off, so the actor is "anonymous") and one receiver. For every operation
two webhooks are registered: one without a body (the default event object is sent to
``/default/<operation>``) and one with a templated body (sent to ``/templated/<operation>``).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from mockback.domain.accounts import ADMIN_OPERATIONS, NAMESPACE_OPERATIONS
from tests.acceptance.conftest import RunningServer
from tests.support.receiver import Call, Reply, ThreadedReceiver

ENV = {"ALLOW_PROXY_TO_PRIVATE_IPS": "true", "MOCKBACK_CLEANUP_INTERVAL": "0"}
CANARY = "canary-webhook-5e1d"
TEMPLATED_BODY = {
    "op": "$.event.operation",
    "ns": "$.event.namespace",
    "who": "$.event.actor",
    "at": "$.event.timestamp",
    "after": "$.event.data",
    "before": "$.event.before",
    "text": "$.event.operation by $.event.actor",
}


def ok(answer: httpx.Response, status: int = 200) -> Any:
    """The JSON of an answer that must have this status."""
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else None


def register(client: httpx.Client, base: str, receiver: ThreadedReceiver, operation: str) -> None:
    """Both webhooks of one operation; the templated one is signed with the canary secret."""
    ok(
        client.post(
            base, json={"operation": operation, "url": receiver.url(f"/default/{operation}")}
        ),
        201,
    )
    ok(
        client.post(
            base,
            json={
                "id": f"templated-{operation}",
                "operation": operation,
                "url": receiver.url(f"/templated/{operation}"),
                "headers": {"X-Op": "$.event.operation"},
                "body": TEMPLATED_BODY,
                "signing": {"scheme": "github", "secret": CANARY},
            },
        ),
        201,
    )


def by_path(calls: list[Call]) -> dict[str, Call]:
    """The calls by path (each path is called once in these tests)."""
    found: dict[str, Call] = {}
    for call in calls:
        assert call.path not in found, f"{call.path} was called twice"
        found[call.path] = call
    return found


def test_every_operation_fires_its_webhooks(start_server: Any, tmp_path: Path) -> None:
    """Each namespace and admin operation sends the default event and the templated body."""
    server: RunningServer = start_server("--data-dir", str(tmp_path / "data"), env=ENV)
    c = server.client
    with ThreadedReceiver() as receiver:
        for op in sorted(ADMIN_OPERATIONS):
            # The admin ones alternate between the two paths the API offers.
            prefix = "/ui/api" if op.startswith("user") else "/api/v1"
            register(c, f"{prefix}/admin/webhooks", receiver, op)
        ok(c.post("/api/v1/namespaces", json={"name": "team", "description": "first"}), 201)
        for op in sorted(NAMESPACE_OPERATIONS):
            prefix = "/ui/api" if op.startswith("mock.") else "/api/v1"
            register(c, f"{prefix}/namespaces/team/webhooks", receiver, op)

        mock = {"id": "m1", "namespace": "team", "http": {"route": "/m1"}}
        ok(c.post("/api/v1/mocks", json=mock), 201)  # mock.create
        ok(c.post("/api/v1/mocks", json={**mock, "priority": 5}))  # mock.update
        ok(c.delete("/api/v1/mocks/m1"))  # mock.delete
        ok(c.post("/api/v1/mocks/m1/restore"))  # mock.restore
        bob = ok(
            c.post("/api/v1/users", json={"login": "bob", "password": "password-1"}), 201
        )  # user.create
        ok(
            c.post("/api/v1/namespaces/team/users", json={"userId": bob["id"], "role": "editor"}),
            201,
        )  # user.add_to_namespace and namespace.user.add
        ok(c.patch(f"/api/v1/users/{bob['id']}", json={"login": "robert"}))  # user.update
        ok(
            c.post(f"/api/v1/users/{bob['id']}/password", json={"password": "password-2"})
        )  # user.password.set
        ok(c.patch("/api/v1/namespaces/team", json={"description": "second"}))  # namespace.update
        job = ok(c.post("/api/v1/admin/jobs/cleanup/run"))  # job.run
        backup = ok(c.post("/api/v1/admin/backups"), 201)  # backup.create
        ok(c.post(f"/api/v1/admin/backups/{backup['id']}/restore"))  # backup.restore
        ok(c.delete(f"/api/v1/users/{bob['id']}"), 204)  # user.delete
        gone = ok(c.delete("/api/v1/namespaces/team"))  # namespace.delete
        assert gone["mocksDeleted"] == 1
        operations = sorted(ADMIN_OPERATIONS | NAMESPACE_OPERATIONS)
        calls = by_path(receiver.wait_for(2 * len(operations), timeout=30))

    for op in operations:
        default = calls[f"/default/{op}"].json()
        assert set(default) == {"operation", "namespace", "actor", "timestamp", "data"}, op
        assert default["operation"] == op and default["actor"] == "anonymous"
        datetime.fromisoformat(default["timestamp"])
        templated = calls[f"/templated/{op}"]
        body = templated.json()
        assert (
            body["op"] == op and body["who"] == "anonymous" and body["at"] == default["timestamp"]
        )
        assert body["text"] == f"{op} by anonymous" and body["after"] == default["data"]
        assert templated.headers["X-Op"] == op
        expected = "sha256=" + hmac.new(CANARY.encode(), templated.body, hashlib.sha256).hexdigest()
        assert templated.headers["X-Hub-Signature-256"] == expected
        expected_ns = "team" if op in NAMESPACE_OPERATIONS or op.startswith("namespace.") else None
        assert default["namespace"] == body["ns"] == expected_ns, op

    def data(op: str) -> Any:
        return calls[f"/default/{op}"].json()["data"]

    assert data("mock.create")["id"] == "m1" and data("mock.delete")["deleted"] is True
    update = calls["/templated/mock.update"].json()
    assert (update["before"]["priority"], update["after"]["priority"]) == (0, 5)
    assert data("mock.restore")["deleted"] is False
    assert data("user.create")["login"] == "bob" and "password" not in str(data("user.create"))
    assert data("user.update")["login"] == "robert"
    assert calls["/templated/user.update"].json()["before"]["login"] == "bob"
    for op in ("user.add_to_namespace", "namespace.user.add"):
        assert data(op) == {
            "userId": bob["id"],
            "login": "bob",
            "role": "editor",
            "namespace": "team",
        }
    assert data("namespace.update")["description"] == "second"
    assert calls["/templated/namespace.update"].json()["before"]["description"] == "first"
    assert data("job.run")["summary"] == job["summary"] and data("job.run")["name"] == "cleanup"
    assert data("backup.create")["id"] == backup["id"] == data("backup.restore")["id"]
    assert data("namespace.delete")["name"] == "team"


def test_a_mock_in_a_new_namespace_creates_it_and_tells_admin_webhooks(start_server: Any) -> None:
    """Saving a mock in a namespace that does not exist creates it; namespace.create fires."""
    server: RunningServer = start_server("--ephemeral", env=ENV)
    c = server.client
    with ThreadedReceiver() as receiver:
        ok(
            c.post(
                "/api/v1/admin/webhooks",
                json={"operation": "namespace.create", "url": receiver.url("/ns")},
            ),
            201,
        )
        ok(c.post("/api/v1/mocks", json={"namespace": "brand-new", "http": {"route": "/n"}}), 201)
        [call] = receiver.wait_for(1, timeout=10)
    assert call.json()["data"]["name"] == "brand-new"
    names = [n["name"] for n in ok(c.get("/api/v1/namespaces"))["items"]]
    assert names == ["brand-new", "sandbox"]
    assert server.client.get("/stubs/brand-new/n").status_code == 200
    admin_deliveries = ok(c.get("/api/v1/deliveries", params={"namespace": "@admin"}))
    assert [d["mockId"] for d in admin_deliveries["items"]] == [None]


def test_webhooks_update_by_id_list_on_both_paths_and_never_show_secrets(
    start_server: Any,
) -> None:
    """POST with an existing id updates; lists match on both paths; the secret stays hidden."""
    server: RunningServer = start_server("--ephemeral", env=ENV)
    c = server.client
    with ThreadedReceiver() as receiver:
        first = ok(
            c.post(
                "/api/v1/namespaces/sandbox/webhooks",
                json={
                    "id": "audit",
                    "operation": "mock.create",
                    "url": receiver.url("/one"),
                    "signing": {"scheme": "github", "secret": CANARY},
                },
            ),
            201,
        )
        first["url"] = receiver.url("/two")  # the masked view sent back, with a new url
        second = ok(c.post("/ui/api/namespaces/sandbox/webhooks", json=first))
        assert second["createdAt"] == first["createdAt"]
        ok(c.post("/api/v1/mocks", json={"id": "m", "http": {"route": "/m"}}), 201)
        [call] = receiver.wait_for(1, timeout=10)
        assert call.path == "/two"
        expected = "sha256=" + hmac.new(CANARY.encode(), call.body, hashlib.sha256).hexdigest()
        assert call.headers["X-Hub-Signature-256"] == expected
        answers = []
        for path in ("/api/v1/namespaces/sandbox/webhooks", "/ui/api/namespaces/sandbox/webhooks"):
            listed = ok(c.get(path))
            assert [w["id"] for w in listed["items"]] == ["audit"] and listed["total"] == 1
            assert listed["items"][0]["url"] == receiver.url("/two")
            answers.append(str(listed))
        deliveries = ok(c.get("/api/v1/deliveries"))
        answers.append(str(deliveries))
        answers.append(str(ok(c.get(f"/api/v1/deliveries/{deliveries['items'][0]['id']}"))))
        answers.append(str(ok(c.get("/api/v1/admin/backups"))))
        answers.append(str(ok(c.post("/api/v1/admin/backups"), 201)))
        for text in answers:
            assert CANARY not in text
        assert CANARY not in server.stderr_text()
        ok(c.delete("/ui/api/namespaces/sandbox/webhooks/audit"), 204)
        assert c.delete("/api/v1/namespaces/sandbox/webhooks/audit").status_code == 404
        assert ok(c.get("/api/v1/namespaces/sandbox/webhooks"))["items"] == []


def test_licence_and_misplaced_operations_are_refused(start_server: Any) -> None:
    """Licence operations are a 400 saying Mockback has none; other scope's operations too."""
    server: RunningServer = start_server("--ephemeral")
    c = server.client
    for path in ("/api/v1/admin/webhooks", "/ui/api/admin/webhooks"):
        answer = c.post(path, json={"operation": "license.create", "url": "http://x/"})
        assert answer.status_code == 400
        assert "licence" in answer.json()["error"]
        assert answer.json()["details"][0]["field"] == "operation"
    answer = c.post(
        "/api/v1/namespaces/sandbox/webhooks",
        json={"operation": "user.create", "url": "http://x/"},
    )
    assert answer.status_code == 400 and "admin/webhooks" in answer.json()["error"]
    assert c.get("/api/v1/namespaces/missing/webhooks").status_code == 404


def test_a_committed_change_delivers_its_webhook_after_a_crash(
    start_server: Any, tmp_path: Path
) -> None:
    """kill -9 right after a change's answer loses neither the change nor its webhook."""
    data = tmp_path / "data"
    with ThreadedReceiver() as receiver:
        # Whatever reaches the receiver before the crash hangs; only later attempts succeed.
        receiver.script(Reply(hang=True), then=Reply(status=200))
        first: RunningServer = start_server("--data-dir", str(data), env=ENV)
        ok(
            first.client.post(
                "/api/v1/namespaces/sandbox/webhooks",
                json={
                    "operation": "mock.create",
                    "url": receiver.url("/created"),
                    "timeout": 2,
                    "retryCount": 5,
                    "retryDelay": 0.2,
                },
            ),
            201,
        )
        ok(first.client.post("/api/v1/mocks", json={"id": "kept", "http": {"route": "/k"}}), 201)
        first.kill()
        second: RunningServer = start_server("--data-dir", str(data), env=ENV)
        done = ok(
            second.client.post(
                "/api/v1/deliveries/wait",
                json={"count": 1, "timeout": 30, "status": "succeeded", "namespace": "sandbox"},
            )
        )
        [delivery] = done["items"]
        assert delivery["mockId"] is None and delivery["target"] == receiver.url("/created")
        event = receiver.calls_to("/created")[-1].json()
        assert event["operation"] == "mock.create" and event["data"]["id"] == "kept"
        assert second.client.get("/k").status_code == 200
