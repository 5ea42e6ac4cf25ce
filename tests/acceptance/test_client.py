"""The Python client against a real server: the seed's example, every call, errors, export."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

import mockback
from mockback.client import (
    AsyncClient,
    Client,
    InvalidRequest,
    NotFound,
    ServerUnreachable,
    WaitTimedOut,
)
from mockback.client.models import as_document
from mockback.client.transfer import export_document, import_document
from mockback.testing import MockbackServer, ThreadedReceiver, checkpoint


@pytest.fixture(scope="module")
def server() -> Iterator[MockbackServer]:
    """One server for the module; each test's changes are undone after it."""
    with MockbackServer() as running:
        yield running


@pytest.fixture
def client(server: MockbackServer) -> Iterator[Client]:
    """A client of the module's server, which is put back as it was after the test."""
    with server.client() as c:
        before = checkpoint.take(c)
        yield c
        checkpoint.roll_back(c, before)


@pytest.fixture
def receiver() -> Iterator[ThreadedReceiver]:
    """A webhook receiver for the test."""
    with ThreadedReceiver() as r:
        yield r


def test_seed_python_example(server: MockbackServer) -> None:
    """The seed's Python example runs as written, and the mock it creates answers."""
    client = Client(server.url)
    client.mocks.create({
        "id": "payment-with-webhook",
        "http": {"route": "/api/payments", "httpMethod": "POST"},
        "response": {
            "statusCode": 200,
            "payload": {"id": "$.fake.UUID", "status": "succeeded"},
        },
        "webhooks": [{
            "url": "http://my-app:3000/webhooks/stripe",
            "method": "POST",
            "headers": {"X-Stripe-Signature": "t=123456,v1=abc123"},
            "body": {"type": "payment_intent.succeeded", "data": {"amount": 2500, "currency": "usd"}},
            "trigger": "on_success",
        }],
    })  # fmt: skip
    answer = httpx.post(f"{server.url}/api/payments", json={"amount": 2500})
    assert answer.status_code == 200 and answer.json()["status"] == "succeeded"
    stored = client.mocks.get("payment-with-webhook")
    assert stored["webhooks"][0]["headers"] == {"X-Stripe-Signature": "t=123456,v1=abc123"}
    client.mocks.delete("payment-with-webhook")
    client.close()


def test_package_exposes_the_client() -> None:
    """``mockback.Client`` is the client class, as the documentation writes it."""
    assert mockback.Client is Client


def test_mock_calls(client: Client, server: MockbackServer) -> None:
    """Create, get, list, update, patch, delete and restore act on the served mocks."""
    first = client.mocks.create(
        {"id": "calls-a", "tags": ["t1"], "http": {"route": "/calls/a"}, "response": {"payload": 1}}
    )
    assert not first.overwritten and first.mock["createdAt"]
    again = client.mocks.create(
        {"id": "calls-a", "tags": ["t1"], "http": {"route": "/calls/a"}, "response": {"payload": 2}}
    )
    assert again.overwritten
    client.mocks.create({"id": "calls-b", "namespace": "other", "http": {"route": "/calls/b"}})
    assert [m["id"] for m in client.mocks.list(tags=["t1"]).items] == ["calls-a"]
    assert [m["id"] for m in client.mocks.list(namespace="other").items] == ["calls-b"]
    assert [m["id"] for m in client.mocks.list(search="calls/").items] == ["calls-a", "calls-b"]
    page = client.mocks.list(search="calls", limit=1, offset=1)
    assert (page.total, [m["id"] for m in page.items]) == (2, ["calls-b"])
    assert [m["id"] for m in client.mocks.iter(search="calls")] == ["calls-a", "calls-b"]

    updated = client.mocks.update("calls-a", {"http": {"route": "/calls/a2"}})
    assert updated.overwritten and updated.mock["id"] == "calls-a"
    assert httpx.get(f"{server.url}/calls/a2").status_code == 200
    patched = client.mocks.patch("calls-a", {"response": {"statusCode": 202}})
    assert patched.mock["http"]["route"] == "/calls/a2"
    assert httpx.get(f"{server.url}/calls/a2").status_code == 202

    assert client.mocks.delete("calls-a")["deleted"] is True
    assert httpx.get(f"{server.url}/calls/a2").status_code == 404
    assert client.mocks.get("calls-a")["deleted"] is True
    assert client.mocks.restore("calls-a")["deleted"] is False
    assert httpx.get(f"{server.url}/calls/a2").status_code == 202


@pytest.mark.parametrize(
    ("action", "kind", "field"),
    [
        (lambda c: c.mocks.create({"http": {"route": "no-slash"}}), InvalidRequest, "http.route"),
        (lambda c: c.mocks.create({"response": {}}), InvalidRequest, "http"),
        (lambda c: c.mocks.get("absent"), NotFound, "id"),
        (lambda c: c.mocks.update("absent", {"http": {"route": "/x"}}), NotFound, "id"),
        (lambda c: c.mocks.restore("absent"), NotFound, "id"),
        (lambda c: c.deliveries.get("dlv_absent"), NotFound, "id"),
        (lambda c: c.deliveries.list(status="nope"), InvalidRequest, "status"),
        (lambda c: c.stores.global_().delete("absent-key"), NotFound, "key"),
    ],
)
def test_errors_carry_the_servers_details(
    client: Client, action: object, kind: type[Exception], field: str
) -> None:
    """A refused call raises the error of its kind with the server's message and fields."""
    with pytest.raises(kind) as caught:
        action(client)  # type: ignore[operator]
    error = caught.value
    assert error.message and error.status_code in (400, 404)  # type: ignore[attr-defined]
    assert field in [d.field for d in error.details]  # type: ignore[attr-defined]
    assert error.message in str(error)  # type: ignore[attr-defined]


def test_deliveries(client: Client, server: MockbackServer, receiver: ThreadedReceiver) -> None:
    """Deliveries can be listed, read with attempts, waited for, redelivered and flushed."""
    receiver.fail_first(1)
    client.mocks.create(
        {
            "id": "dlv-retry",
            "http": {"route": "/dlv/retry"},
            "webhooks": [{"url": receiver.url("/in"), "retryCount": 1, "retryDelay": 0.05}],
        }
    )
    httpx.get(f"{server.url}/dlv/retry")
    (done,) = client.deliveries.wait(1, 10, mock_id="dlv-retry")
    assert done.status == "succeeded" and done.ended
    assert [a.status_code for a in done.attempts] == [500, 200]
    assert done.request is not None and done.request.url == receiver.url("/in")
    listed = client.deliveries.list(mock_id="dlv-retry", status=["succeeded"])
    assert [d.id for d in listed.items] == [done.id] and listed.items[0].attempts == ()
    assert client.deliveries.get(done.id).attempt_count == 2

    again = client.deliveries.redeliver(done.id)
    assert again.id == done.id and not again.ended
    receiver.wait_for(3, timeout=10)

    client.mocks.create(
        {
            "id": "dlv-later",
            "http": {"route": "/dlv/later"},
            "webhooks": [{"url": receiver.url("/later"), "delay": 3600}],
        }
    )
    httpx.get(f"{server.url}/dlv/later")
    with pytest.raises(WaitTimedOut) as late:
        client.deliveries.wait(1, 0.3, mock_id="dlv-later")
    assert late.value.deliveries == ()
    assert client.deliveries.flush() >= 1
    (sent,) = client.deliveries.wait(1, 10, mock_id="dlv-later")
    assert sent.status == "succeeded"


def test_stores(client: Client, server: MockbackServer) -> None:
    """Global stores are per namespace, chain stores per chain; mocks read what is set."""
    client.stores.global_().set(greeting="hello")
    client.stores.global_("other").set({"greeting": "bonjour"})
    assert client.stores.global_().get()["greeting"] == "hello"
    assert client.stores.global_("other").get() == {"greeting": "bonjour"}
    client.mocks.create(
        {
            "id": "store-reader",
            "chainId": "store-chain",
            "http": {"route": "/store/read"},
            "response": {"payload": {"g": "$.gS.greeting", "c": "$.cS.step"}},
            "extract": {"cStore": {"seen": "$.queryParams.q"}},
        }
    )
    client.stores.chain("store-chain").set(step=2)
    assert httpx.get(f"{server.url}/store/read?q=x").json() == {"g": "hello", "c": 2}
    assert client.stores.chain("store-chain").get() == {"step": 2, "seen": "x"}
    client.stores.chain("store-chain").delete("seen")
    assert client.stores.chain("store-chain").get() == {"step": 2}


def test_request_logs(client: Client, server: MockbackServer) -> None:
    """Served and unmatched requests are listed newest first, and can be cleared."""
    client.mocks.create({"id": "logged", "http": {"route": "/logged/:n"}})
    httpx.post(f"{server.url}/logged/7?x=1", content=b"hi")
    httpx.get(f"{server.url}/not-a-mock")
    (served,) = client.requests.list(mock_id="logged").items
    assert (served.method, served.path, served.query, served.body) == (
        "POST",
        "/logged/7",
        "x=1",
        "hi",
    )
    assert served.path_params == {"n": "7"} and served.status_code == 200
    assert client.requests.unmatched().items[0].path == "/not-a-mock"
    client.requests.clear()
    assert client.requests.list().total == 0 and client.requests.unmatched().total == 0


async def test_async_client(server: MockbackServer) -> None:
    """The asyncio client makes the same calls against the server."""
    async with AsyncClient(server.url) as client:
        saved = await client.mocks.create({"id": "async-mock", "http": {"route": "/async"}})
        assert saved.id == "async-mock"
        assert [m["id"] async for m in client.mocks.iter(search="/async")] == ["async-mock"]
        assert (await client.stores.global_("async-ns").set(k=1)) == {"k": 1}
        await client.stores.global_("async-ns").delete("k")
        with pytest.raises(NotFound):
            await client.mocks.get("async-absent")
        await client.mocks.delete("async-mock")
        assert (await client.health())["status"] == "ok"


def test_unreachable_server() -> None:
    """A server that is not there raises ServerUnreachable naming its address."""
    with Client("http://127.0.0.1:9", timeout=2) as client, pytest.raises(ServerUnreachable) as e:
        client.mocks.list()
    assert "http://127.0.0.1:9" in str(e.value)


def test_export_then_import_into_an_empty_server(client: Client) -> None:
    """An export imported into an empty server gives the same mocks, stores and deletions."""
    client.mocks.create(
        {"id": "x-1", "namespace": "xport", "http": {"route": "/x/1"}, "response": {"payload": 1}}
    )
    client.mocks.create(
        {"id": "x-2", "namespace": "xshop", "chainId": "cart", "http": {"route": "/x/:id"}}
    )
    client.mocks.create({"id": "x-3", "namespace": "xport", "http": {"route": "/x/3"}})
    client.mocks.delete("x-3")
    client.stores.global_("xshop").set(currency="EUR")
    client.stores.chain("cart").set(items=[1, 2])
    namespaces = ["xport", "xshop"]
    document = export_document(client, namespaces=namespaces, include_deleted=True)
    assert [m["id"] for m in document["mocks"]] == ["x-1", "x-2", "x-3"]
    with MockbackServer() as empty, empty.client() as target:
        first = import_document(target, document)
        assert (first.created, first.deleted) == (["x-1", "x-2", "x-3"], ["x-3"])
        again = import_document(target, document)
        assert again.overwritten == ["x-1", "x-2", "x-3"] and again.created == []
        source = [
            as_document(m)
            for ns in namespaces
            for m in client.mocks.iter(namespace=ns, include_deleted=True)
        ]
        copied = [as_document(m) for m in target.mocks.iter(include_deleted=True)]
        assert sorted(copied, key=str) == sorted(source, key=str)
        assert target.mocks.get("x-3")["deleted"] is True
        assert target.stores.global_("xshop").get() == {"currency": "EUR"}
        assert target.stores.chain("cart").get() == {"items": [1, 2]}
        assert export_document(target, namespaces=namespaces, include_deleted=True) == document
