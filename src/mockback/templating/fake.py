"""Fake data for `$.fake.<Name>` expressions.

`FakeData` is one generator, made once where the server is wired and passed to every render
through the render context. Hot names (UUID, times, numbers, network addresses) are generated
from the standard library; text-like names (people, places, companies, words) come from
mimesis, whose providers are built on first use so that a process which never asks for a name
never pays for loading its data set.

Reproducibility: every random draw comes from one `random.Random`-compatible generator. With a
seed, the same seed gives the same sequence of values for the same sequence of names, UUIDs
included. Without a seed, the generator is seeded from the operating system, and again in each
child after a fork, so that forked processes never repeat each other's UUIDs. The values are
random enough for test data, not secret: never use them as keys or tokens.

Time names (`UnixTime`, `Date`, `DateISO`, `DateTimeISO`) tell the current time of the clock
given to the generator, seeded or not: a webhook timestamp has to be "now" to pass a
receiver's freshness check.
"""

from __future__ import annotations

import enum
import os
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any, Final, TypeVar, cast

from mimesis import Address, Finance, Internet, Locale, Payment, Person, Text
from mimesis.providers.base import BaseDataProvider, BaseProvider
from mimesis.random import Random

__all__ = ["FakeData", "FakeKind", "FakeSpec", "fake_spec"]

_Provider = TypeVar("_Provider", bound=BaseProvider)

# Version 4 and RFC 4122 variant bits of a UUID held as a 128-bit integer.
_UUID_KEEP: Final = 0xFFFFFFFF_FFFF_0FFF_3FFF_FFFFFFFFFFFF
_UUID_SET: Final = 0x00000000_0000_4000_8000_000000000000

# Integers a JSON encoder such as orjson writes without loss.
_INT64: Final = 2**63

_PRODUCT_ADJECTIVES: Final = (
    "Awesome", "Compact", "Durable", "Ergonomic", "Fantastic", "Gorgeous", "Handcrafted",
    "Incredible", "Lightweight", "Practical", "Refined", "Rustic", "Sleek", "Smart", "Tasty",
)  # fmt: skip
_PRODUCT_MATERIALS: Final = (
    "Bamboo", "Bronze", "Concrete", "Cotton", "Granite", "Leather", "Marble", "Metal", "Plastic",
    "Rubber", "Steel", "Wooden", "Wool",
)  # fmt: skip
_PRODUCT_NOUNS: Final = (
    "Backpack", "Bike", "Chair", "Clock", "Computer", "Gloves", "Hat", "Keyboard", "Lamp",
    "Mouse", "Shirt", "Shoes", "Table", "Towels", "Watch",
)  # fmt: skip


class FakeKind(enum.Enum):
    """The JSON type a fake name produces as a whole value."""

    STRING = "string"  # a JSON string
    INTEGER = "integer"  # a JSON number without a fraction
    NUMBER = "number"  # a JSON number, usually with a fraction
    BOOLEAN = "boolean"  # true or false


class FakeData:
    """Generates the values of `$.fake.<Name>`; one instance serves every render."""

    __slots__ = ("__weakref__", "_clock", "_date_cache", "_providers", "_rng")

    def __init__(self, seed: int | None = None, *, clock: Callable[[], float] = time.time) -> None:
        """Make a generator; a seed makes its sequence reproducible, `clock` gives "now"."""
        self._rng = Random(seed)
        if seed is None and hasattr(os, "register_at_fork"):
            # Asking the OS for randomness on every UUID costs a system call; reseeding once
            # per fork keeps forked children from repeating the parent's sequence.
            os.register_at_fork(after_in_child=partial(_reseed, weakref.ref(self)))
        self._clock = clock
        # (second, "YYYY-MM-DDTHH:MM:SS") swapped as one tuple so threads never see a torn pair.
        self._date_cache: tuple[int, str] = (-1, "")
        self._providers: dict[type[BaseProvider], BaseProvider] = {}

    @staticmethod
    def names() -> frozenset[str]:
        """Every fake name this generator knows."""
        return _NAMES

    def generate(self, name: str, args: tuple[Any, ...] = ()) -> Any:
        """One fresh value for `name`; KeyError if unknown, ValueError if `args` do not fit."""
        spec = _SPECS[name]
        if not args:
            return spec.function(self, *spec.defaults)
        return spec.function(self, *spec.bind(args))

    # -- hot names, standard library only ------------------------------------------------

    def uuid(self) -> str:
        """A random (version 4) UUID in its canonical text form."""
        # bytes.hex() is measurably faster than %- or format-spec formatting of the integer.
        h = ((self._rng.getrandbits(128) & _UUID_KEEP) | _UUID_SET).to_bytes(16).hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def unix_time(self) -> int:
        """The current time in whole seconds since the epoch."""
        return int(self._clock())

    def _second_text(self, second: int) -> str:
        cached = self._date_cache
        if cached[0] == second:
            return cached[1]
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        self._date_cache = (second, text)
        return text

    def date(self) -> str:
        """The current UTC time as an RFC 3339 date-time with whole seconds."""
        return self._second_text(int(self._clock())) + "Z"

    def date_iso(self) -> str:
        """The current UTC date as YYYY-MM-DD."""
        return self._second_text(int(self._clock()))[:10]

    def date_time_iso(self) -> str:
        """The current UTC time as an RFC 3339 date-time with milliseconds."""
        # Whole milliseconds first, so 0.123 is not written .122 through float rounding.
        second, milli = divmod(round(self._clock() * 1000), 1000)
        return f"{self._second_text(second)}.{milli:03d}Z"

    def ipv4(self) -> str:
        """A random IPv4 address in dotted-quad form."""
        g = self._rng.getrandbits
        return f"{g(8)}.{g(8)}.{g(8)}.{g(8)}"

    def ipv6(self) -> str:
        """A random IPv6 address as eight hexadecimal groups."""
        g = self._rng.getrandbits
        return f"{g(16):x}:{g(16):x}:{g(16):x}:{g(16):x}:{g(16):x}:{g(16):x}:{g(16):x}:{g(16):x}"

    def hex_color(self) -> str:
        """A random colour as #rrggbb."""
        return f"#{self._rng.getrandbits(24):06x}"

    def boolean(self) -> bool:
        """True or false with even odds."""
        return self._rng.getrandbits(1) == 1

    def price(self) -> float:
        """A price between 1.00 and 999.99 with two decimals."""
        return self._rng.randint(100, 99_999) / 100

    def amount(self) -> float:
        """An amount between 1.00 and 9999.99 with two decimals."""
        return self._rng.randint(100, 999_999) / 100

    def float64(self) -> float:
        """A float between 0 and 1,000,000 with full precision."""
        return self._rng.random() * 1_000_000

    def positive_int(self) -> int:
        """An integer between 1 and 2,147,483,647."""
        return self._rng.randint(1, 2_147_483_647)

    def int_between(self, low: float, high: float) -> int:
        """An integer between `low` and `high`, both included."""
        return self._rng.randint(int(low), int(high))

    def float_range(self, low: float, high: float) -> float:
        """A float between `low` and `high`."""
        return self._rng.uniform(low, high)

    def product_name(self) -> str:
        """A product name such as "Ergonomic Steel Chair"."""
        choice = self._rng.choice
        adjective, material = choice(_PRODUCT_ADJECTIVES), choice(_PRODUCT_MATERIALS)
        return f"{adjective} {material} {choice(_PRODUCT_NOUNS)}"

    # -- text-like names, from mimesis ------------------------------------------------------

    def _provider(self, kind: type[_Provider]) -> _Provider:
        provider = self._providers.get(kind)
        if provider is None:
            # A provider reseeds the shared generator when mimesis has a global seed set;
            # putting the state back keeps this generator's own sequence intact.
            state = self._rng.getstate()
            if issubclass(kind, BaseDataProvider):
                provider = kind(Locale.EN, random=self._rng)
            else:
                provider = kind(random=self._rng)
            self._rng.setstate(state)
            self._providers[kind] = provider
        return cast(_Provider, provider)

    def first_name(self) -> str:
        """A first name."""
        return self._provider(Person).first_name()

    def last_name(self) -> str:
        """A last name."""
        return self._provider(Person).last_name()

    def name(self) -> str:
        """A first and last name."""
        return self._provider(Person).full_name()

    def email(self) -> str:
        """An e-mail address."""
        return self._provider(Person).email()

    def phone(self) -> str:
        """A phone number."""
        return self._provider(Person).phone_number()

    def username(self) -> str:
        """A user name."""
        return self._provider(Person).username()

    def street_address(self) -> str:
        """A street number and name."""
        return self._provider(Address).address()

    def city(self) -> str:
        """A city name."""
        return self._provider(Address).city()

    def state(self) -> str:
        """A state name."""
        return self._provider(Address).state()

    def zip_code(self) -> str:
        """A postal code."""
        return self._provider(Address).postal_code()

    def country(self) -> str:
        """A country name."""
        return self._provider(Address).country()

    def country_code(self) -> str:
        """A two-letter ISO 3166 country code."""
        return self._provider(Address).country_code()

    def company(self) -> str:
        """A company name."""
        return self._provider(Finance).company()

    def currency_code(self) -> str:
        """A three-letter ISO 4217 currency code."""
        return self._provider(Finance).currency_iso_code()

    def word(self) -> str:
        """One word."""
        return self._provider(Text).word()

    def sentence(self) -> str:
        """One sentence."""
        return self._provider(Text).sentence()

    def paragraph(self) -> str:
        """Three sentences."""
        return self._provider(Text).text(quantity=3)

    def url(self) -> str:
        """An https URL."""
        return self._provider(Internet).url()

    def user_agent(self) -> str:
        """A browser User-Agent string."""
        return self._provider(Internet).user_agent()

    def credit_card_number(self) -> str:
        """A credit card number that passes the Luhn check, in groups of four."""
        return self._provider(Payment).credit_card_number()


def _reseed(ref: weakref.ref[FakeData]) -> None:
    fake = ref()
    if fake is not None:
        fake._rng.seed()


@dataclass(frozen=True, slots=True, kw_only=True)
class FakeSpec:
    """How one fake name is generated and what it produces."""

    function: Callable[..., Any]  # an unbound FakeData method taking the bound arguments
    kind: FakeKind  # JSON type of the value
    defaults: tuple[float, ...] = ()  # arguments used when none are written; empty: takes none
    integral: bool = False  # arguments must be whole numbers

    def bind(self, args: tuple[Any, ...]) -> tuple[float, ...]:
        """The arguments to call with (ordered low, high); ValueError if `args` do not fit."""
        if not args:
            return self.defaults
        if len(args) != len(self.defaults):
            raise ValueError(f"takes {len(self.defaults)} arguments, got {len(args)}")
        for arg in args:
            if type(arg) is bool or not isinstance(arg, int | float):
                raise ValueError(f"argument {arg!r} is not a number")
            if self.integral and not (isinstance(arg, int) or arg.is_integer()):
                raise ValueError(f"argument {arg!r} is not a whole number")
            if self.integral and not -_INT64 <= arg < _INT64:
                raise ValueError(f"argument {arg!r} is out of the 64-bit range")
        low, high = args
        return (low, high) if low <= high else (high, low)


def fake_spec(name: str) -> FakeSpec | None:
    """The spec of a fake name, or None when the name is unknown."""
    return _SPECS.get(name)


def _s(function: Callable[..., Any], kind: FakeKind = FakeKind.STRING) -> FakeSpec:
    return FakeSpec(function=function, kind=kind)


_INT_RANGE: Final = FakeSpec(
    function=FakeData.int_between, kind=FakeKind.INTEGER, defaults=(0, 100), integral=True
)
_SPECS: Final[Mapping[str, FakeSpec]] = MappingProxyType(
    {
        "UUID": _s(FakeData.uuid),
        "UnixTime": _s(FakeData.unix_time, FakeKind.INTEGER),
        "Date": _s(FakeData.date),
        "DateISO": _s(FakeData.date_iso),
        "DateTimeISO": _s(FakeData.date_time_iso),
        "IPv4": _s(FakeData.ipv4),
        "IPv4Address": _s(FakeData.ipv4),
        "IPv6": _s(FakeData.ipv6),
        "FirstName": _s(FakeData.first_name),
        "LastName": _s(FakeData.last_name),
        "Name": _s(FakeData.name),
        "Username": _s(FakeData.username),
        "Email": _s(FakeData.email),
        "Phone": _s(FakeData.phone),
        "PhoneNumber": _s(FakeData.phone),
        "StreetAddress": _s(FakeData.street_address),
        "City": _s(FakeData.city),
        "State": _s(FakeData.state),
        "Zip": _s(FakeData.zip_code),
        "ZipCode": _s(FakeData.zip_code),
        "Country": _s(FakeData.country),
        "CountryCode": _s(FakeData.country_code),
        "Company": _s(FakeData.company),
        "CompanyName": _s(FakeData.company),
        "CurrencyCode": _s(FakeData.currency_code),
        "ProductName": _s(FakeData.product_name),
        "Word": _s(FakeData.word),
        "Sentence": _s(FakeData.sentence),
        "Paragraph": _s(FakeData.paragraph),
        "URL": _s(FakeData.url),
        "UserAgent": _s(FakeData.user_agent),
        "HexColor": _s(FakeData.hex_color),
        "CreditCardNumber": _s(FakeData.credit_card_number),
        "Bool": _s(FakeData.boolean, FakeKind.BOOLEAN),
        "Price": _s(FakeData.price, FakeKind.NUMBER),
        "Amount": _s(FakeData.amount, FakeKind.NUMBER),
        "Float64": _s(FakeData.float64, FakeKind.NUMBER),
        "PositiveInt": _s(FakeData.positive_int, FakeKind.INTEGER),
        "IntBetween": _INT_RANGE,
        "IntRange": _INT_RANGE,
        "FloatRange": FakeSpec(
            function=FakeData.float_range, kind=FakeKind.NUMBER, defaults=(0.0, 1.0)
        ),
    }
)
_NAMES: Final = frozenset(_SPECS)
