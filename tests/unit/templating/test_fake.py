"""Fake data: every name's type and shape, arguments, seeding and the clock."""

from __future__ import annotations

import ipaddress
import re
import uuid
import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import mimesis.random
import pytest

from mockback.templating import FakeData, compile_template
from mockback.templating.fake import FakeKind, _reseed, fake_spec
from tests.unit.templating.conftest import FIXED_NOW, MakeContext


def _luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()][::-1]
    total = sum(
        d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits)
    )
    return total % 10 == 0


def _matches(pattern: str) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and re.fullmatch(pattern, v) is not None


def _ipv4(v: Any) -> bool:
    return isinstance(ipaddress.ip_address(v), ipaddress.IPv4Address)


def _ipv6(v: Any) -> bool:
    return isinstance(ipaddress.ip_address(v), ipaddress.IPv6Address)


def _text(v: Any) -> bool:
    return isinstance(v, str) and v.strip() != ""


def _between(low: float, high: float, kind: type) -> Callable[[Any], bool]:
    return lambda v: type(v) is kind and isinstance(v, int | float) and low <= v <= high


# Every fake name with a check of one generated value; the table must cover them all.
SHAPES: dict[str, Callable[[Any], bool]] = {
    "UUID": lambda v: str(uuid.UUID(v)) == v and uuid.UUID(v).version == 4,
    "UnixTime": lambda v: v == int(FIXED_NOW) and type(v) is int,
    "Date": lambda v: v == "2023-11-14T22:13:20Z",
    "DateISO": lambda v: v == "2023-11-14",
    "DateTimeISO": lambda v: v == "2023-11-14T22:13:20.250Z",
    "IPv4": _ipv4,
    "IPv4Address": _ipv4,
    "IPv6": _ipv6,
    "FirstName": _matches(r"\S+"),
    "LastName": _matches(r"\S.*"),
    "Name": _matches(r"\S+ \S.*"),
    "Username": _matches(r"\S+"),
    "Email": _matches(r"[^@\s]+@[^@\s]+\.[a-z]+"),
    "Phone": _matches(r"[+0-9() .-]*[0-9][+0-9() .-]*"),
    "PhoneNumber": _matches(r"[+0-9() .-]*[0-9][+0-9() .-]*"),
    "StreetAddress": _matches(r"\d+ \S.*"),
    "City": _text,
    "State": _text,
    "Zip": _matches(r"\d{5}"),
    "ZipCode": _matches(r"\d{5}"),
    "Country": _text,
    "CountryCode": _matches(r"[A-Z]{2}"),
    "Company": _text,
    "CompanyName": _text,
    "CurrencyCode": _matches(r"[A-Z]{3}"),
    "ProductName": _matches(r"\w+ \w+ \w+"),
    "Word": _matches(r"\S+"),
    "Sentence": _matches(r"\S.* .*\S"),
    "Paragraph": lambda v: isinstance(v, str) and len(v) > 40,
    "URL": lambda v: urlsplit(v).scheme == "https" and urlsplit(v).netloc != "",
    "UserAgent": _text,
    "HexColor": _matches(r"#[0-9a-f]{6}"),
    "CreditCardNumber": lambda v: _matches(r"[0-9 ]{13,23}")(v) and _luhn_ok(v),
    "Bool": lambda v: type(v) is bool,
    "Price": lambda v: type(v) is float and 1 <= v < 1000 and round(v, 2) == v,
    "Amount": lambda v: type(v) is float and 1 <= v < 10000 and round(v, 2) == v,
    "Float64": _between(0, 1_000_000, float),
    "PositiveInt": _between(1, 2**31 - 1, int),
    "IntBetween": _between(0, 100, int),
    "IntRange": _between(0, 100, int),
    "FloatRange": _between(0, 1, float),
}
_TYPES = {
    FakeKind.STRING: str,
    FakeKind.INTEGER: int,
    FakeKind.NUMBER: float,
    FakeKind.BOOLEAN: bool,
}
# Names that read the clock rather than the random generator.
TIME_NAMES = frozenset({"UnixTime", "Date", "DateISO", "DateTimeISO"})


def test_every_name_has_a_shape() -> None:
    """The shape table covers every name the generator knows, and the contract's list."""
    required = {
        "UUID", "UnixTime", "Date", "DateISO", "DateTimeISO", "IPv4", "IPv4Address", "IPv6",
        "FirstName", "LastName", "Name", "Email", "Phone", "PhoneNumber", "StreetAddress",
        "City", "State", "Zip", "ZipCode", "Country", "Company", "CompanyName", "ProductName",
        "Word", "Sentence", "Paragraph", "URL", "UserAgent", "HexColor", "CreditCardNumber",
        "Bool", "Price", "Amount", "Float64", "PositiveInt", "IntBetween", "IntRange",
        "FloatRange",
    }  # fmt: skip
    assert set(SHAPES) == FakeData.names()
    assert required <= FakeData.names()


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shapes(fake: FakeData, name: str) -> None:
    """Each name produces values of its documented shape, every time."""
    for _ in range(50):
        value = fake.generate(name)
        assert SHAPES[name](value), f"{name} gave {value!r}"


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_whole_value_types(make_ctx: MakeContext, name: str) -> None:
    """A whole-value `$.fake.<Name>` keeps the JSON type its name documents."""
    spec = fake_spec(name)
    assert spec is not None
    value = compile_template(f"$.fake.{name}").render(make_ctx())
    assert type(value) is _TYPES[spec.kind]


@pytest.mark.parametrize(
    ("template", "low", "high", "kind"),
    [
        ("$.fake.IntBetween(5, 7)", 5, 7, int),  # inclusive bounds
        ("$.fake.IntRange(-3,-1)", -3, -1, int),  # negative bounds
        ("$.fake.IntBetween(9, 2)", 2, 9, int),  # bounds given high first
        ("$.fake.IntBetween(4, 4)", 4, 4, int),  # one possible value
        ("$.fake.IntBetween(1.0, 3)", 1, 3, int),  # a whole float bound
        ("$.fake.FloatRange(0.5, 0.75)", 0.5, 0.75, float),  # float bounds
        ("$.fake.FloatRange(10, 20)", 10, 20, float),  # integer bounds still give floats
    ],
)
def test_range_arguments(
    make_ctx: MakeContext, template: str, low: float, high: float, kind: type
) -> None:
    """Range names stay within their written bounds and keep their type."""
    compiled = compile_template(template)
    ctx = make_ctx()
    seen = {compiled.render(ctx) for _ in range(200)}
    assert all(type(v) is kind and isinstance(v, int | float) and low <= v <= high for v in seen)
    if kind is int:
        assert seen == set(range(int(low), int(high) + 1))


def test_range_arguments_from_expressions(make_ctx: MakeContext) -> None:
    """Range bounds may come from the request; non-numbers leave the expression literal."""
    template = compile_template("$.fake.IntBetween($.req.min, $.req.max)")
    assert template.render(make_ctx(body={"min": 3, "max": "3"})) == 3
    assert template.render(make_ctx(body={"min": 3})) == "$.fake.IntBetween($.req.min, $.req.max)"
    assert template.render(make_ctx(body={"min": 1.5, "max": 3})) == (
        "$.fake.IntBetween($.req.min, $.req.max)"
    )


def test_fresh_per_occurrence(make_ctx: MakeContext) -> None:
    """Each occurrence of a fake expression is generated anew."""
    ctx = make_ctx()
    rendered = compile_template(["$.fake.UUID", "$.fake.UUID", "$.fake.UUID $.fake.UUID"]).render(
        ctx
    )
    ids = [rendered[0], rendered[1], *rendered[2].split(" ")]
    assert len(set(ids)) == 4
    again = compile_template("$.fake.UUID")
    assert again.render(ctx) != again.render(ctx)


def _sequence(fake: FakeData) -> list[Any]:
    return [fake.generate(name) for name in sorted(FakeData.names()) for _ in range(3)]


def test_same_seed_same_sequence() -> None:
    """Two generators with the same seed give the same values, UUIDs included."""
    first = _sequence(FakeData(seed=7, clock=lambda: FIXED_NOW))
    second = _sequence(FakeData(seed=7, clock=lambda: FIXED_NOW))
    assert first == second


def test_different_seeds_differ() -> None:
    """Different seeds give different UUIDs."""
    assert FakeData(seed=1).generate("UUID") != FakeData(seed=2).generate("UUID")


def test_unseeded_generators_differ() -> None:
    """Generators without a seed do not repeat each other."""
    assert FakeData().generate("UUID") != FakeData().generate("UUID")


def test_seed_survives_a_global_mimesis_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A global mimesis seed (set by test plugins) does not change a seeded sequence."""
    expected = _sequence(FakeData(seed=7, clock=lambda: FIXED_NOW))
    monkeypatch.setattr(mimesis.random, "global_seed", 99)
    assert _sequence(FakeData(seed=7, clock=lambda: FIXED_NOW)) == expected


def test_reseed_after_fork_changes_the_sequence() -> None:
    """The after-fork hook reseeds the generator, so a child does not repeat its parent."""
    parent = FakeData(seed=5)
    child = FakeData(seed=5)
    _reseed(weakref.ref(child))
    assert [parent.generate("UUID") for _ in range(3)] != [child.generate("UUID") for _ in range(3)]


def test_time_names_follow_the_clock() -> None:
    """Time names tell the clock's current time, and move with it."""
    now = [1_700_000_000.0]
    fake = FakeData(seed=1, clock=lambda: now[0])
    assert (fake.generate("Date"), fake.generate("UnixTime")) == (
        "2023-11-14T22:13:20Z",
        1_700_000_000,
    )
    now[0] += 86_400.5
    assert fake.generate("Date") == "2023-11-15T22:13:20Z"
    assert fake.generate("DateISO") == "2023-11-15"
    assert fake.generate("DateTimeISO") == "2023-11-15T22:13:20.500Z"
    assert fake.generate("UnixTime") == 1_700_086_400


def test_default_clock_is_now() -> None:
    """Without a clock, time names tell the current time."""
    import time

    before = int(time.time())
    value = FakeData().generate("UnixTime")
    assert before <= value <= int(time.time())


def test_unknown_name_raises_key_error(fake: FakeData) -> None:
    """`generate` raises KeyError for a name it does not know."""
    with pytest.raises(KeyError):
        fake.generate("UUIDD")


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("IntBetween", (1,)),  # too few arguments
        ("IntBetween", (1, 2, 3)),  # too many arguments
        ("IntBetween", (1, "2")),  # a string argument
        ("IntBetween", (True, 2)),  # a boolean argument
        ("IntBetween", (0.5, 2)),  # a fraction for an integer range
        ("IntBetween", (0, 2**64)),  # past 64-bit integers
        ("UUID", (1, 2)),  # arguments to a name that takes none
    ],
)
def test_bad_arguments_raise_value_error(fake: FakeData, name: str, args: tuple[Any, ...]) -> None:
    """`generate` raises ValueError for arguments that do not fit the name."""
    with pytest.raises(ValueError):
        fake.generate(name, args)


def test_generate_with_arguments(fake: FakeData) -> None:
    """`generate` passes arguments through, low and high in either order."""
    assert fake.generate("IntBetween", (3, 3)) == 3
    assert 1 <= fake.generate("IntRange", (5, 1)) <= 5
    assert 2.0 <= fake.generate("FloatRange", (2, 2.5)) <= 2.5
