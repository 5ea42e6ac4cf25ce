"""Templates, fake data, stores and extraction, over HTTP against the real server."""

from __future__ import annotations

import concurrent.futures
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import RunningServer

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)$")


def create(server: RunningServer, mock: dict[str, Any]) -> dict[str, Any]:
    answer = server.client.post("/api/v1/mocks", json=mock)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()  # type: ignore[no-any-return]


@pytest.fixture
def srv(start_server: Any) -> RunningServer:
    return start_server("--ephemeral")  # type: ignore[no-any-return]


def test_whole_value_keeps_json_type(srv: RunningServer) -> None:
    """A string that is exactly one expression becomes the value with its JSON type."""
    create(
        srv,
        {
            "id": "t",
            "http": {"route": "/t", "httpMethod": "POST"},
            "response": {
                "payload": {
                    "amount": "$.req.amount",
                    "items": "$.req.items",
                    "flag": "$.req.flag",
                    "none": "$.req.none",
                    "whole": "$.req",
                }
            },
        },
    )
    body = {"amount": 2500, "items": [1, {"a": "b"}], "flag": True, "none": None}
    assert srv.client.post("/t", json=body).json() == {
        "amount": 2500,
        "items": [1, {"a": "b"}],
        "flag": True,
        "none": None,
        "whole": body,
    }


def test_embedded_expressions_become_text(srv: RunningServer) -> None:
    """Expressions inside text are replaced by their text form; SPEC §3's examples."""
    create(
        srv,
        {
            "id": "e",
            "http": {"route": "/e", "httpMethod": "POST"},
            "response": {
                "payload": {
                    "pi": "pi_$.fake.UUID",
                    "sig": "t=$.fake.UnixTime,v1=x",
                    "sentence": "Order $.req.orderId processed at $.fake.Date",
                    "obj": "items=$.req.items",
                    "flag": "flag=$.req.flag",
                    "nul": "n=$.req.none",
                }
            },
        },
    )
    out = srv.client.post(
        "/e", json={"orderId": "o-1", "items": [1, 2], "flag": False, "none": None}
    ).json()
    assert UUID.match(out["pi"].removeprefix("pi_"))
    assert re.fullmatch(r"t=\d{10},v1=x", out["sig"])
    prefix = "Order o-1 processed at "
    assert out["sentence"].startswith(prefix) and RFC3339.match(out["sentence"][len(prefix) :])
    assert out["obj"] == "items=[1,2]" and out["flag"] == "flag=false" and out["nul"] == "n=null"


def test_unresolved_expressions_stay_literal(srv: RunningServer) -> None:
    """A missing field, unknown root or unknown fake name is left as written."""
    create(
        srv,
        {
            "id": "u",
            "http": {"route": "/u", "httpMethod": "POST"},
            "response": {
                "payload": {"missing": "$.req.nope", "text": "id=$.req.nope!", "root": "$.foo.bar"}
            },
        },
    )
    assert srv.client.post("/u", json={}).json() == {
        "missing": "$.req.nope",
        "text": "id=$.req.nope!",
        "root": "$.foo.bar",
    }


def test_unknown_roots_and_fakes_are_warned_at_save(srv: RunningServer) -> None:
    """Saving a mock with an unknown root or fake name answers warnings naming them."""
    answer = create(
        srv,
        {
            "id": "w",
            "http": {"route": "/w"},
            "response": {"payload": {"a": "$.fake.UUIDD", "b": "$.reqq.x"}},
        },
    )
    text = " ".join(answer["warnings"])
    assert "UUIDD" in text and "reqq" in text


def test_request_roots(srv: RunningServer) -> None:
    """Headers (case-insensitive, list and index), query, path parameters and namespace resolve."""
    create(
        srv,
        {
            "id": "r",
            "namespace": "shop",
            "http": {"route": "/orders/:id/{line}"},
            "response": {
                "payload": {
                    "mode": "$.reqHeader.x-mode[0]",
                    "modes": "$.reqHeader.X-Mode",
                    "q": "$.queryParams.q",
                    "q2": "$.queryParam.q",
                    "id": "$.pathParams.id",
                    "line": "$.pathParam.line",
                    "ns": "$.namespace",
                }
            },
        },
    )
    out = srv.client.get("/stubs/shop/orders/o-9/3?q=hello", headers={"X-Mode": "live"}).json()
    assert out == {
        "mode": "live",
        "modes": ["live"],
        "q": "hello",
        "q2": "hello",
        "id": "o-9",
        "line": "3",
        "ns": "shop",
    }


def test_templated_response_headers(srv: RunningServer) -> None:
    """Response header values are templated."""
    create(
        srv,
        {
            "id": "h",
            "http": {"route": "/h"},
            "response": {
                "headers": {"X-Order": "$.queryParams.o", "Location": "/orders/$.queryParams.o"}
            },
        },
    )
    answer = srv.client.get("/h?o=42")
    assert answer.headers["x-order"] == "42" and answer.headers["location"] == "/orders/42"


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("UUID", lambda v: isinstance(v, str) and UUID.match(v)),  # a v4 UUID
        ("UnixTime", lambda v: isinstance(v, int) and v > 1_700_000_000),  # seconds
        ("PositiveInt", lambda v: isinstance(v, int) and v > 0),  # integer
        ("IntBetween(5,7)", lambda v: isinstance(v, int) and 5 <= v <= 7),  # bounded
        ("Price", lambda v: isinstance(v, int | float)),  # number
        ("Bool", lambda v: isinstance(v, bool)),  # boolean
        ("DateISO", lambda v: re.fullmatch(r"\d{4}-\d{2}-\d{2}", v)),  # date
        ("Date", lambda v: RFC3339.match(v)),  # date-time
        ("Email", lambda v: isinstance(v, str) and "@" in v),  # text
        ("IPv4Address", lambda v: re.fullmatch(r"\d+\.\d+\.\d+\.\d+", v)),  # address
    ],
)
def test_fake_values_have_their_types(srv: RunningServer, name: str, check: Any) -> None:
    """Whole-value fakes have the documented JSON types."""
    create(
        srv, {"id": "f", "http": {"route": "/f"}, "response": {"payload": {"v": f"$.fake.{name}"}}}
    )
    assert check(srv.client.get("/f").json()["v"])


def test_fakes_are_fresh_per_occurrence(srv: RunningServer) -> None:
    """Two occurrences in one payload and two requests give different UUIDs."""
    create(
        srv,
        {
            "id": "f",
            "http": {"route": "/f"},
            "response": {"payload": ["$.fake.UUID", "$.fake.UUID"]},
        },
    )
    first, second = srv.client.get("/f").json(), srv.client.get("/f").json()
    assert len({*first, *second}) == 4


def test_faker_seed_is_reproducible(start_server: Any) -> None:
    """--faker-seed gives the same sequence of fake values on every start."""
    outs = []
    for _ in range(2):
        s: RunningServer = start_server("--ephemeral", "--faker-seed", "42")
        create(
            s,
            {
                "id": "f",
                "http": {"route": "/f"},
                "response": {
                    "payload": {
                        "u": "$.fake.UUID",
                        "n": "$.fake.Name",
                        "i": "$.fake.IntBetween(1,1000000)",
                    }
                },
            },
        )
        outs.append([s.client.get("/f").json() for _ in range(3)])
        assert s.stop() == 0
    assert outs[0] == outs[1]


def test_math_helpers_and_counter(srv: RunningServer) -> None:
    """increment counts from 1; sum, subtract and multiply compute with request values."""
    create(
        srv,
        {
            "id": "m",
            "http": {"route": "/m", "httpMethod": "POST"},
            "extract": {"gStore": {"n": "$.increment($.gS.n)"}},
            "response": {
                "payload": {
                    "n": "$.gS.n",
                    "sum": "$.sum($.req.a, 2)",
                    "sub": "$.subtract($.req.a, $.req.b)",
                    "mul": "$.multiply($.req.a, 1.5)",
                }
            },
        },
    )
    first = srv.client.post("/m", json={"a": 10, "b": 4}).json()
    assert first == {"n": 1, "sum": 12, "sub": 6, "mul": 15.0}
    assert srv.client.post("/m", json={"a": 1, "b": 1}).json()["n"] == 2


def test_extract_runs_before_response_and_stores_are_scoped(srv: RunningServer) -> None:
    """Extraction writes before the response renders; global is per namespace, chain per chainId,
    mock per mock."""
    create(
        srv,
        {
            "id": "a",
            "chainId": "checkout",
            "http": {"route": "/a", "httpMethod": "POST"},
            "extract": {
                "gStore": {"last": "$.req.orderId"},
                "cStore": {"cart": "$.req.cart"},
                "mStore": {"mine": "$.req.orderId"},
            },
            "response": {"payload": {"g": "$.gS.last", "c": "$.cS.cart", "m": "$.mS.mine"}},
        },
    )
    create(
        srv,
        {
            "id": "b",
            "chainId": "checkout",
            "http": {"route": "/b"},
            "response": {"payload": {"g": "$.gS.last", "c": "$.cS.cart", "m": "$.mS.mine"}},
        },
    )
    create(
        srv,
        {
            "id": "other-ns",
            "namespace": "team",
            "http": {"route": "/b"},
            "response": {"payload": {"g": "$.gS.last"}},
        },
    )
    assert srv.client.post("/a", json={"orderId": "o-1", "cart": [1]}).json() == {
        "g": "o-1",
        "c": [1],
        "m": "o-1",
    }
    assert srv.client.get("/b").json() == {"g": "o-1", "c": [1], "m": "$.mS.mine"}
    assert srv.client.get("/stubs/team/b").json() == {"g": "$.gS.last"}


def test_older_extractors_form(srv: RunningServer) -> None:
    """extractors[] with from body/header/query/path writes the stores like extract does."""
    create(
        srv,
        {
            "id": "x",
            "chainId": "c1",
            "http": {"route": "/x/:pid", "httpMethod": "POST"},
            "extractors": [
                {"from": "body", "jsonPath": "$.orderId", "toStore": "global", "key": "order"},
                {"from": "header", "jsonPath": "X-Trace", "toStore": "chain", "key": "trace"},
                {"from": "query", "jsonPath": "mode", "toStore": "mock", "key": "mode"},
                {"from": "path", "jsonPath": "pid", "toStore": "global", "key": "pid"},
            ],
            "response": {
                "payload": {"o": "$.gS.order", "t": "$.cS.trace", "m": "$.mS.mode", "p": "$.gS.pid"}
            },
        },
    )
    out = srv.client.post(
        "/x/p-7?mode=test", json={"orderId": "o-3"}, headers={"X-Trace": "tr"}
    ).json()
    assert out == {"o": "o-3", "t": "tr", "m": "test", "p": "p-7"}
    assert srv.client.get("/api/v1/stores/global").json() == {"order": "o-3", "pid": "p-7"}
    assert srv.client.get("/api/v1/stores/chain/c1").json() == {"trace": "tr"}


def test_concurrent_increments_lose_nothing(srv: RunningServer) -> None:
    """200 concurrent requests incrementing one counter leave it at 200."""
    create(
        srv,
        {
            "id": "c",
            "http": {"route": "/c", "httpMethod": "POST"},
            "extract": {"gStore": {"hits": "$.increment($.gS.hits)"}},
        },
    )
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = list(
            pool.map(lambda _: httpx.post(f"{srv.url}/c", timeout=30).status_code, range(200))
        )
    assert codes == [200] * 200
    assert srv.client.get("/api/v1/stores/global").json() == {"hits": 200}


def test_templated_condition_value(srv: RunningServer) -> None:
    """A condition's value may be a template, e.g. compared with a global store value."""
    srv.client.post("/api/v1/stores/global", json={"expected": "o-1"})
    create(
        srv,
        {
            "id": "k",
            "http": {
                "route": "/k",
                "httpMethod": "POST",
                "conditions": [
                    {"path": "$.orderId", "assertAction": "equals", "value": "$.gS.expected"}
                ],
            },
            "response": {"payload": "matched"},
        },
    )
    assert srv.client.post("/k", json={"orderId": "o-1"}).text == "matched"
    assert srv.client.post("/k", json={"orderId": "o-2"}).status_code == 404


def test_store_admin_api(srv: RunningServer) -> None:
    """Global stores per namespace and chain stores merge, read and delete keys."""
    assert srv.client.post(
        "/api/v1/stores/global?namespace=team", json={"a": 1, "b": {"c": [1]}}
    ).json() == {"a": 1, "b": {"c": [1]}}
    assert srv.client.post("/api/v1/stores/global?namespace=team", json={"a": 2}).json() == {
        "a": 2,
        "b": {"c": [1]},
    }
    assert srv.client.get("/api/v1/stores/global").json() == {}
    assert srv.client.delete("/api/v1/stores/global/a?namespace=team").status_code == 204
    assert srv.client.delete("/api/v1/stores/global/a?namespace=team").status_code == 404
    assert srv.client.get("/api/v1/stores/global?namespace=team").json() == {"b": {"c": [1]}}
    assert srv.client.post("/api/v1/stores/chain/c9", json={"x": None}).json() == {"x": None}
    assert srv.client.delete("/api/v1/stores/chain/c9/x").status_code == 204
    bad = srv.client.post("/api/v1/stores/chain/c9", json=[1, 2])
    assert bad.status_code == 400 and bad.json()["details"]


def test_stores_survive_restart(start_server: Any, tmp_path: Path) -> None:
    """Store values written by extraction and by the API are there after a restart."""
    data = str(tmp_path / "data")
    first: RunningServer = start_server("--data-dir", data)
    create(
        first,
        {
            "id": "c",
            "http": {"route": "/c"},
            "extract": {"gStore": {"n": "$.increment($.gS.n)"}},
            "response": {"payload": {"n": "$.gS.n"}},
        },
    )
    first.client.get("/c")
    first.client.get("/c")
    first.client.post("/api/v1/stores/chain/ch", json={"k": "v"})
    assert first.stop() == 0
    second: RunningServer = start_server("--data-dir", data)
    assert second.client.get("/c").json() == {"n": 3}
    assert second.client.get("/api/v1/stores/chain/ch").json() == {"k": "v"}
