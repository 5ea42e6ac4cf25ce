"""Properties of parsing and rendering over generated inputs."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockback.templating import FakeData, RenderContext, compile_template, to_text
from mockback.templating.parse import parse_text

# Pieces of template syntax, so generated text often comes close to real expressions.
FRAGMENTS = st.sampled_from(
    [
        "$.", "$", ".", "req", "reqHeader", "queryParams", "gS", "fake", "UUID", "IntBetween",
        "increment", "sum", "(", ")", ",", " ", "[", "]", "'", '"', "0", "-1", "1.5e3", "-",
        "_", "x", "é", "\n", "$.req.", "$.fake.", "$.sum(", "$.increment(", "['",
    ]
)  # fmt: skip
TEMPLATE_TEXT = st.lists(FRAGMENTS | st.text(max_size=4), max_size=40).map("".join)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)
KEY = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,10}", fullmatch=True)

CTX = RenderContext(
    body={"a": {"b": [1, "x", None]}, "n": 2},
    headers={"x-mode": ["live"]},
    query={"q": ["1"]},
    global_store={"n": 1},
    fake=FakeData(seed=0),
)


def _joined(text: str) -> str:
    return "".join(p if isinstance(p, str) else p.source for p in parse_text(text).parts)


@given(TEMPLATE_TEXT)
def test_any_text_parses_and_renders(text: str) -> None:
    """Any text compiles and renders without raising."""
    parse_text(text)
    compile_template(text).render(CTX)


@given(st.text())
def test_arbitrary_unicode_parses(text: str) -> None:
    """Arbitrary Unicode text parses without raising."""
    parse_text(text)
    compile_template(text).render(CTX)


@given(TEMPLATE_TEXT)
def test_parts_round_trip(text: str) -> None:
    """Literal parts and expression sources concatenate back to the input."""
    assert _joined(text) == text


@given(st.text().filter(lambda t: "$." not in t))
def test_text_without_prefix_is_unchanged(text: str) -> None:
    """Text without "$." renders as the same string, and is static."""
    template = compile_template(text)
    assert template.is_static
    assert template.render(CTX) is text


@given(JSON.filter(lambda v: "$." not in to_text(v)))
def test_json_without_prefix_is_unchanged(value: Any) -> None:
    """A JSON value without "$." anywhere renders as the same value."""
    assert compile_template(value).render(CTX) is value


@given(KEY, JSON)
def test_whole_value_keeps_type(key: str, value: Any) -> None:
    """A whole-value `$.req.<key>` renders the body's value unchanged, type included."""
    ctx = RenderContext(body={key: value}, fake=CTX.fake)
    rendered = compile_template(f"$.req.{key}").render(ctx)
    assert rendered == value
    assert type(rendered) is type(value)


@given(
    KEY, JSON, st.text(), st.text().filter(lambda t: not t[:1].isalnum() and t[:1] not in ".[-_")
)
def test_text_uses_text_form(key: str, value: Any, before: str, after: str) -> None:
    """In text, an expression becomes the text form of its value."""
    if "$." in before + after or (before + "$").endswith("$$."):
        return
    ctx = RenderContext(body={key: value}, fake=CTX.fake)
    rendered = compile_template(f"{before}$.req.{key}{after}").render(ctx)
    assert rendered == before + to_text(value) + after


@given(
    st.lists(st.sampled_from(["$.sum(", "$.req['", "$.req.a", "[", "(", "$.", "'"]), max_size=200)
)
@settings(deadline=1000)
def test_pathological_fragments_finish(pieces: list[str]) -> None:
    """Dense runs of half-written expressions parse within the deadline."""
    text = "".join(pieces)
    assert _joined(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "$.sum(" * 20_000,  # unclosed helpers
        "$.increment(" * 5_000 + "1" + ")" * 5_000,  # deep nesting
        "$.req['" * 20_000,  # unclosed quoted keys
        "$.req" + ".a" * 50_000,  # a very long path
        "$.req[" + "9" * 100_000 + "]",  # a huge index
        "$.fake.IntBetween(" + "1," * 50_000,  # endless arguments
        "$.sum(1" + " " * 100_000,  # a long run of spaces
        "$." * 100_000,  # bare prefixes
        "$.foo" * 20_000,  # unknown roots
        "$.sum(" * 2_000_000,  # megabytes of unclosed helpers
        "$.unknown" + "$.x".join(str(i) for i in range(30_000)),  # many distinct unknown roots
    ],
)
def test_large_pathological_inputs_are_bounded(text: str) -> None:
    """Large hostile strings parse in well under a second."""
    started = time.perf_counter()
    parsed = parse_text(text)
    assert time.perf_counter() - started < 1.0
    assert "".join(p if isinstance(p, str) else p.source for p in parsed.parts) == text
