"""Each expression root reads the right part of the render context."""

from __future__ import annotations

from dataclasses import fields, replace
from types import MappingProxyType
from typing import Any

import pytest

from mockback.templating import FakeData, RenderContext, compile_template
from tests.unit.templating.conftest import MakeContext

HEADERS = {"x-mode": ["live", "test"], "authorization": ["Bearer t0k"]}
QUERY = {"n": ["5", "6"], "mode": ["test"], "empty": []}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # first value, any case of the name
        ("$.reqHeader.X-Mode[0]", "live"),
        ("$.reqHeader.x-mode[1]", "test"),
        ("$.reqHeader['Authorization'][0]", "Bearer t0k"),
        # the name alone is the list of values
        ("$.reqHeader.X-Mode", ["live", "test"]),
        # in text, the first value of a header is written through its index
        ("mode=$.reqHeader.X-Mode[0]", "mode=live"),
        # all headers
        ("$.reqHeader", {"x-mode": ["live", "test"], "authorization": ["Bearer t0k"]}),
        # a missing header or index stays literal
        ("$.reqHeader.X-Other[0]", "$.reqHeader.X-Other[0]"),
        ("$.reqHeader.X-Mode[5]", "$.reqHeader.X-Mode[5]"),
    ],
)
def test_request_headers(make_ctx: MakeContext, template: str, expected: Any) -> None:
    """`$.reqHeader` reads header value lists by case-insensitive name."""
    assert compile_template(template).render(make_ctx(headers=HEADERS)) == expected


def test_header_values_given_as_tuples(make_ctx: MakeContext) -> None:
    """Header values may come as any sequence; the name alone still gives a list."""
    ctx = make_ctx(headers=MappingProxyType({"x-mode": ("live",)}))
    assert compile_template("$.reqHeader.X-Mode").render(ctx) == ["live"]
    assert compile_template("$.reqHeader.X-Mode[0]").render(ctx) == "live"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # the first value
        ("$.queryParams.n", "5"),
        ("$.queryParam.mode", "test"),
        # an index picks among the values
        ("$.queryParams.n[1]", "6"),
        # all parameters, first values
        ("$.queryParams", {"n": "5", "mode": "test"}),
        # a parameter with no value, or an absent one, stays literal
        ("$.queryParams.empty", "$.queryParams.empty"),
        ("$.queryParams.nope", "$.queryParams.nope"),
        # names are case-sensitive
        ("$.queryParams.N", "$.queryParams.N"),
    ],
)
def test_query_parameters(make_ctx: MakeContext, template: str, expected: Any) -> None:
    """`$.queryParams` gives a parameter's first value."""
    assert compile_template(template).render(make_ctx(query=QUERY)) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$.pathParams.id", "pay_1"),  # by name
        ("$.pathParam.id", "pay_1"),  # the alias
        ("/x/$.pathParams.id/y", "/x/pay_1/y"),  # in text
        ("$.pathParams", {"id": "pay_1"}),  # all parameters
        ("$.pathParams.other", "$.pathParams.other"),  # missing stays literal
    ],
)
def test_path_parameters(make_ctx: MakeContext, template: str, expected: Any) -> None:
    """`$.pathParams` reads route parameters."""
    ctx = make_ctx(path_params=MappingProxyType({"id": "pay_1"}))
    assert compile_template(template).render(ctx) == expected


@pytest.mark.parametrize(
    ("root", "field"),
    [
        ("gS", "global_store"),  # global store
        ("cS", "chain_store"),  # chain store
        ("mS", "mock_store"),  # mock store
    ],
)
def test_stores(make_ctx: MakeContext, root: str, field: str) -> None:
    """Each store root reads its own store, nested paths included."""
    store = {"n": 3, "session": {"id": "s-1"}, "list": [10, 20]}
    ctx = make_ctx(**{field: store})
    assert compile_template(f"$.{root}.n").render(ctx) == 3
    assert compile_template(f"$.{root}.session.id").render(ctx) == "s-1"
    assert compile_template(f"$.{root}.list[1]").render(ctx) == 20
    assert compile_template(f"$.{root}").render(ctx) == store
    assert compile_template(f"$.{root}.missing").render(ctx) == f"$.{root}.missing"


def test_stores_are_separate(make_ctx: MakeContext) -> None:
    """A key in one store is not visible through another store's root."""
    ctx = make_ctx(global_store={"g": 1}, chain_store={"c": 2}, mock_store={"m": 3})
    rendered = compile_template(["$.gS.c", "$.cS.m", "$.mS.g", "$.gS.g"]).render(ctx)
    assert rendered == ["$.gS.c", "$.cS.m", "$.mS.g", 1]


def test_store_given_as_read_only_mapping(make_ctx: MakeContext) -> None:
    """A store passed as a read-only mapping resolves the same way."""
    ctx = make_ctx(global_store=MappingProxyType({"a": {"b": 1}}))
    assert compile_template("$.gS.a.b").render(ctx) == 1
    assert compile_template("$.gS").render(ctx) == {"a": {"b": 1}}


@pytest.mark.parametrize("root", ["response", "resp"])
def test_response(make_ctx: MakeContext, root: str) -> None:
    """`$.response` and `$.resp` read the rendered response payload."""
    ctx = make_ctx(response={"status": "ok", "data": {"id": 1}})
    assert compile_template(f"$.{root}.status").render(ctx) == "ok"
    assert compile_template(f"$.{root}.data.id").render(ctx) == 1
    assert compile_template(f"$.{root}").render(ctx) == {"status": "ok", "data": {"id": 1}}


def test_response_outside_callbacks_is_literal(make_ctx: MakeContext) -> None:
    """Without a response (outside callbacks), response expressions stay literal."""
    ctx = make_ctx()
    assert compile_template("$.response").render(ctx) == "$.response"
    assert compile_template("$.statusCode").render(ctx) == "$.statusCode"


def test_status_code(make_ctx: MakeContext) -> None:
    """`$.statusCode` is the response status as a number."""
    ctx = make_ctx(status_code=201)
    assert compile_template("$.statusCode").render(ctx) == 201
    assert compile_template("status $.statusCode").render(ctx) == "status 201"


def test_namespace(make_ctx: MakeContext) -> None:
    """`$.namespace` is the mock's namespace; the default is sandbox."""
    assert compile_template("$.namespace").render(make_ctx()) == "sandbox"
    assert (
        compile_template("/ns/$.namespace.").render(make_ctx(namespace="team-a")) == "/ns/team-a."
    )


def test_callbacks(make_ctx: MakeContext) -> None:
    """`$.callbacks.<id>` reads an earlier callback's status, body and headers."""
    ctx = make_ctx(
        callbacks={"create": {"status": 201, "body": {"id": "x"}, "headers": {"etag": "e1"}}}
    )
    assert compile_template("$.callbacks.create.status").render(ctx) == 201
    assert compile_template("$.callbacks.create.body.id").render(ctx) == "x"
    assert compile_template("$.callbacks.create.headers.etag").render(ctx) == "e1"
    assert compile_template("$.callbacks.other.status").render(ctx) == "$.callbacks.other.status"


def test_event(make_ctx: MakeContext) -> None:
    """`$.event` reads the change event of a namespace or admin webhook."""
    ctx = make_ctx(event={"operation": "mock.create", "data": {"id": "m1"}, "before": None})
    assert compile_template("$.event.operation").render(ctx) == "mock.create"
    assert compile_template("$.event.data.id").render(ctx) == "m1"
    assert compile_template("$.event.before").render(ctx) is None


def test_request_context_equals_the_keyword_one() -> None:
    """The positional request constructor fills every field as the keyword one does."""
    fake = FakeData(seed=1)
    given: dict[str, Any] = {
        "body": {"a": 1},
        "headers": {"h": ["1"]},
        "query": {"q": ["2"]},
        "path_params": {"p": "3"},
        "namespace": "team",
        "global_store": {"g": 4},
        "chain_store": {"c": 5},
        "mock_store": {"m": 6},
        "fake": fake,
    }
    fast = RenderContext.of_request(*given.values())
    assert fast == RenderContext(**given)
    # A field added to the context must be set by the fast constructor too.
    assert all(hasattr(fast, f.name) for f in fields(RenderContext))


def test_answered_context_equals_a_replaced_one() -> None:
    """A callback's context is the request's with the response and status filled in."""
    ctx = RenderContext(body={"a": 1}, namespace="team", fake=FakeData(seed=1))
    answered = ctx.answered({"id": "p-1"}, 201)
    assert answered == replace(ctx, response={"id": "p-1"}, status_code=201)
    assert (ctx.response, ctx.status_code) == (None, None)  # the request's own is untouched
