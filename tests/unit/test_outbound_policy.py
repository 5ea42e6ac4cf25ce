"""The outbound policy: address spellings, classes, settings and resolution."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockback.delivery.outbound_policy import (
    METADATA_ADDRESSES,
    AddressClass,
    Decision,
    HostResolutionError,
    OutboundPolicy,
    check_address,
    classify,
    parse_host_literal,
    resolve_and_check,
)

DEFAULT = OutboundPolicy()
OPEN_PRIVATE = OutboundPolicy(allow_private=True)


class FakeResolver:
    """Answers from a fixed table and records what it was asked."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.answers[host]


def _teredo(client: str) -> str:
    """A Teredo address whose (obfuscated) client is `client`."""
    obfuscated = 0xFFFFFFFF ^ int(ipaddress.IPv4Address(client))
    value = (0x20010000 << 96) | (0x4136E378 << 64) | (0x8000 << 48) | (0x63BF << 32) | obfuscated
    return str(ipaddress.IPv6Address(value))


# --- spellings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),  # dotted decimal
        ("127.1", "127.0.0.1"),  # short form: last part fills three bytes
        ("127.0.1", "127.0.0.1"),  # short form: last part fills two bytes
        ("2130706433", "127.0.0.1"),  # one decimal number
        ("0x7f000001", "127.0.0.1"),  # one hex number
        ("0x7f.1", "127.0.0.1"),  # hex first part, short form
        ("0X7F.0.0.1", "127.0.0.1"),  # upper-case hex
        ("0177.0.0.1", "127.0.0.1"),  # octal first part
        ("017700000001", "127.0.0.1"),  # one octal number
        ("127.000.000.001", "127.0.0.1"),  # zero-padded parts are octal
        ("127.0.0.1.", "127.0.0.1"),  # trailing dot
        ("0", "0.0.0.0"),  # a single zero
        ("0x", "0.0.0.0"),  # hex prefix with no digits is zero
        ("4294967295", "255.255.255.255"),  # the largest single number
        ("１２７.０.０.１", "127.0.0.1"),  # full-width digits
        ("127。0。0。1", "127.0.0.1"),  # ideographic full stops
        ("0xa9fea9fe", "169.254.169.254"),  # metadata as hex
        ("0251.0376.0251.0376", "169.254.169.254"),  # metadata as octal
        ("169.254.43518", "169.254.169.254"),  # metadata short form
        ("::1", "::1"),  # IPv6 loopback
        ("[::1]", "::1"),  # bracketed
        ("0:0:0:0:0:0:0:1", "::1"),  # IPv6 long form
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),  # IPv4-mapped, dotted
        ("[::FFFF:7F00:1]", "::ffff:7f00:1"),  # IPv4-mapped, upper-case hex, bracketed
        ("FD00:EC2::254", "fd00:ec2::254"),  # upper-case IPv6
        ("fe80::1%eth0", "fe80::1%eth0"),  # zone id
        ("[fe80::1%25eth0]", "fe80::1%eth0"),  # URL-encoded zone id
    ],
)
def test_parse_host_literal_spellings(host: str, expected: str) -> None:
    """Every spelling of an address parses to that address."""
    assert str(parse_host_literal(host)) == expected


@pytest.mark.parametrize(
    "host",
    [
        "example.com",  # a name
        "localhost",  # a name, resolved like any other
        "1.2.3.4.5",  # five parts
        "256.1.1.1",  # a part too large
        "1.2.3.256",  # last part too large for one byte
        "4294967296",  # more than 32 bits
        "08.1.1.1",  # 8 is not an octal digit
        "0x1g",  # g is not a hex digit
        "1_0.0.0.1",  # underscores are not digits
        "+1.0.0.1",  # signs are not digits
        " 127.0.0.1",  # surrounding space
        "1..1",  # empty part
        "",  # nothing
        "::ffff:0177.0.0.1",  # octal inside IPv6 is invalid
        "[::1",  # unclosed bracket
        "::g",  # not hex
    ],
)
def test_parse_host_literal_rejects(host: str) -> None:
    """Names and malformed numbers are not addresses."""
    assert parse_host_literal(host) is None


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_ipv4_spelling_agrees(value: int) -> None:
    """Decimal, hex, octal and short spellings of one address parse to the same address."""
    ip = ipaddress.IPv4Address(value)
    a, b, c, d = ip.packed
    spellings = [
        str(ip),
        str(value),
        hex(value),
        "0" + oct(value)[2:],
        f"{a}.{(b << 16) | (c << 8) | d}",
        f"{a}.{b}.{(c << 8) | d}",
        f"0{a:o}.0x{b:x}.{c}.0{d:o}",
        str(ip) + ".",
    ]
    for spelling in spellings:
        assert parse_host_literal(spelling) == ip, spelling


@given(st.text(max_size=60))
def test_parse_host_literal_never_raises(text: str) -> None:
    """Any text is either an address or None, never an exception."""
    result = parse_host_literal(text)
    assert result is None or isinstance(result, ipaddress.IPv4Address | ipaddress.IPv6Address)


# --- classes ----------------------------------------------------------------------------------

CLASSIFIED = [
    ("127.0.0.1", AddressClass.LOOPBACK),  # loopback
    ("127.255.255.254", AddressClass.LOOPBACK),  # all of 127/8
    ("::1", AddressClass.LOOPBACK),  # IPv6 loopback
    ("10.0.0.1", AddressClass.PRIVATE),  # RFC 1918
    ("172.16.0.1", AddressClass.PRIVATE),  # RFC 1918 lower edge
    ("172.31.255.255", AddressClass.PRIVATE),  # RFC 1918 upper edge
    ("192.168.1.1", AddressClass.PRIVATE),  # RFC 1918
    ("fc00::1", AddressClass.UNIQUE_LOCAL),  # unique-local
    ("fd12:3456::1", AddressClass.UNIQUE_LOCAL),  # unique-local
    ("fec0::1", AddressClass.UNIQUE_LOCAL),  # deprecated site-local
    ("100.64.0.1", AddressClass.CGNAT),  # shared address space
    ("100.127.255.255", AddressClass.CGNAT),  # its upper edge
    ("198.18.0.1", AddressClass.BENCHMARKING),  # benchmarking
    ("64:ff9b:1::1", AddressClass.LOCAL_TRANSLATION),  # local-use NAT64
    ("169.254.1.1", AddressClass.LINK_LOCAL),  # link-local
    ("fe80::1", AddressClass.LINK_LOCAL),  # IPv6 link-local
    ("fe80::1%eth0", AddressClass.LINK_LOCAL),  # with a zone id
    ("224.0.0.1", AddressClass.MULTICAST),  # multicast
    ("239.255.255.250", AddressClass.MULTICAST),  # SSDP multicast
    ("ff02::1", AddressClass.MULTICAST),  # IPv6 multicast
    ("0.0.0.0", AddressClass.UNSPECIFIED),  # unspecified
    ("0.1.2.3", AddressClass.UNSPECIFIED),  # "this network"
    ("::", AddressClass.UNSPECIFIED),  # IPv6 unspecified
    ("240.0.0.1", AddressClass.RESERVED),  # future use
    ("255.255.255.255", AddressClass.RESERVED),  # broadcast
    ("192.0.2.1", AddressClass.RESERVED),  # documentation
    ("2001:db8::1", AddressClass.RESERVED),  # IPv6 documentation
    ("169.254.169.254", AddressClass.METADATA),  # the common metadata address
    ("169.254.170.2", AddressClass.METADATA),  # ECS credentials
    ("100.100.100.200", AddressClass.METADATA),  # Alibaba metadata inside CGNAT
    ("168.63.129.16", AddressClass.METADATA),  # Azure WireServer, a public address
    ("fd00:ec2::254", AddressClass.METADATA),  # AWS over IPv6
    ("::ffff:127.0.0.1", AddressClass.LOOPBACK),  # IPv4-mapped loopback
    ("::ffff:10.0.0.1", AddressClass.PRIVATE),  # IPv4-mapped private
    ("::ffff:169.254.169.254", AddressClass.METADATA),  # IPv4-mapped metadata
    ("::127.0.0.1", AddressClass.LOOPBACK),  # IPv4-compatible loopback
    ("::ffff:0:7f00:1", AddressClass.LOOPBACK),  # IPv4-translated loopback
    ("64:ff9b::a9fe:a9fe", AddressClass.METADATA),  # NAT64 metadata
    ("64:ff9b::7f00:1", AddressClass.LOOPBACK),  # NAT64 loopback
    ("2002:7f00:1::", AddressClass.LOOPBACK),  # 6to4 loopback
    ("2002:a9fe:a9fe::1", AddressClass.METADATA),  # 6to4 metadata
    (_teredo("127.0.0.1"), AddressClass.LOOPBACK),  # Teredo client loopback
    ("8.8.8.8", None),  # public
    ("100.63.255.255", None),  # just below CGNAT
    ("100.128.0.0", None),  # just above CGNAT
    ("172.15.255.255", None),  # just below 172.16/12
    ("172.32.0.0", None),  # just above 172.16/12
    ("169.253.255.255", None),  # just below link-local
    ("2606:4700:4700::1111", None),  # public IPv6
    ("::ffff:8.8.8.8", None),  # IPv4-mapped public
    ("2002:808:808::", None),  # 6to4 public
    ("64:ff9b::808:808", None),  # NAT64 public
    (_teredo("8.8.8.8"), None),  # Teredo public client
]


@pytest.mark.parametrize(("address", "expected"), CLASSIFIED)
def test_classify(address: str, expected: AddressClass | None) -> None:
    """Each address falls in its class, IPv6 carriers in the class of their IPv4."""
    ip = parse_host_literal(address)
    assert ip is not None
    assert classify(ip) is expected


@pytest.mark.parametrize(("address", "address_class"), CLASSIFIED)
def test_default_policy_refuses_every_special_class(
    address: str, address_class: AddressClass | None
) -> None:
    """By default only public addresses are allowed."""
    ip = parse_host_literal(address)
    assert ip is not None
    decision = check_address(DEFAULT, address, ip)
    assert decision.allowed is (address_class is None)
    assert decision.address_class is address_class


OPENED = {
    AddressClass.LOOPBACK,
    AddressClass.PRIVATE,
    AddressClass.UNIQUE_LOCAL,
    AddressClass.CGNAT,
    AddressClass.BENCHMARKING,
    AddressClass.LOCAL_TRANSLATION,
}


@pytest.mark.parametrize(("address", "address_class"), CLASSIFIED)
def test_allow_private_opens_private_and_loopback_only(
    address: str, address_class: AddressClass | None
) -> None:
    """ALLOW_PROXY_TO_PRIVATE_IPS opens loopback and private classes; link-local, multicast,
    unspecified, reserved and metadata stay refused."""
    ip = parse_host_literal(address)
    assert ip is not None
    expected = address_class is None or address_class in OPENED
    assert check_address(OPEN_PRIVATE, address, ip).allowed is expected


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_non_global_ipv4_is_refused(value: int) -> None:
    """Any IPv4 address the standard library calls non-global is refused, in every carrier form."""
    ip = ipaddress.IPv4Address(value)
    carriers: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [
        ip,
        ipaddress.IPv6Address(f"::ffff:{ip}"),
        ipaddress.IPv6Address((0x0064FF9B << 96) | value),
        ipaddress.IPv6Address((0x2002 << 112) | (value << 80)),
    ]
    decisions = {check_address(DEFAULT, str(c), c).allowed for c in carriers}
    assert len(decisions) == 1
    if not ip.is_global:
        assert decisions == {False}


def test_metadata_list_is_all_metadata() -> None:
    """Every documented metadata address classifies as metadata."""
    assert all(classify(ip) is AddressClass.METADATA for ip in METADATA_ADDRESSES)


# --- WEBHOOK_ALLOWED_HOSTS --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed_hosts", "address", "expected"),
    [
        ("127.0.0.1", "127.0.0.1", True),  # an exact address
        ("127.0.0.1", "::ffff:127.0.0.1", True),  # the same address IPv4-mapped
        ("127.0.0.1", "127.0.0.2", False),  # only that address
        ("0x7f.1", "127.0.0.1", True),  # entries accept the same spellings
        ("10.0.0.0/8", "10.1.2.3", True),  # a CIDR
        ("10.0.0.0/8", "192.168.0.1", False),  # outside the CIDR
        ("10.0.0.1/8", "10.200.0.1", True),  # host bits in a CIDR are ignored
        ("[::1]", "::1", True),  # bracketed IPv6
        ("fc00::/7", "fd00::5", True),  # IPv6 CIDR
        ("169.254.0.0/16", "169.254.1.1", True),  # link-local by CIDR
        ("169.254.0.0/16", "169.254.169.254", False),  # a range does not open metadata
        ("0.0.0.0/0", "169.254.169.254", False),  # nor does everything
        ("169.254.169.254", "169.254.169.254", True),  # metadata listed explicitly
        ("169.254.169.254/32", "::ffff:169.254.169.254", True),  # explicit, mapped form
        ("fd00:ec2::254", "fd00:ec2::254", True),  # IPv6 metadata listed explicitly
        ("fe80::1%eth0", "fe80::1%eth1", True),  # zone ids do not matter for the check
    ],
)
def test_allowed_hosts_addresses(allowed_hosts: str, address: str, expected: bool) -> None:
    """WEBHOOK_ALLOWED_HOSTS opens exactly the addresses and networks it lists."""
    policy = OutboundPolicy.from_settings(allow_private=False, allowed_hosts=allowed_hosts)
    ip = parse_host_literal(address)
    assert ip is not None
    assert check_address(policy, address, ip).allowed is expected


def test_allow_private_keeps_metadata_closed_unless_listed() -> None:
    """ALLOW_PROXY_TO_PRIVATE_IPS alone never opens metadata; listing it does."""
    ip = ipaddress.IPv4Address("169.254.169.254")
    assert not check_address(OPEN_PRIVATE, str(ip), ip).allowed
    listed = OutboundPolicy.from_settings(allow_private=True, allowed_hosts="169.254.169.254")
    assert check_address(listed, str(ip), ip).allowed


@pytest.mark.parametrize(
    ("allowed_hosts", "expected"),
    [
        ("", ()),  # nothing listed
        (" , ,", ()),  # only separators
        ("Internal.Example.", ("internal.example",)),  # names are lower-cased, trailing dot dropped
        ("*.Corp.Example", ("*.corp.example",)),  # a wildcard for subdomains
        ("bücher.example", ("xn--bcher-kva.example",)),  # names compare in their ASCII form
        ("a_b.local", ("a_b.local",)),  # underscores appear in internal names
        (
            "10.0.0.0/8, [::1] ,0x7f.1",
            (
                ipaddress.ip_network("10.0.0.0/8"),
                ipaddress.ip_network("::1/128"),
                ipaddress.ip_network("127.0.0.1/32"),
            ),
        ),  # networks and addresses in any spelling
    ],
)
def test_from_settings_parses_entries(allowed_hosts: str, expected: tuple[object, ...]) -> None:
    """WEBHOOK_ALLOWED_HOSTS entries become names and networks."""
    policy = OutboundPolicy.from_settings(allow_private=True, allowed_hosts=allowed_hosts)
    assert policy.allowed == expected
    assert policy.allow_private


@pytest.mark.parametrize(
    "entry",
    [
        "localhost:8080",  # ports are not supported
        "10.0.0.0/33",  # prefix too long
        "10.0.0/8x",  # not a network
        "exa mple.com",  # a space in a name
        "1.2.3.4.5",  # looks numeric but is no address
        "example..com",  # empty label
        "http://example.com",  # a URL, not a host
        "*.",  # a wildcard with nothing after it
    ],
)
def test_from_settings_names_bad_entry(entry: str) -> None:
    """A bad WEBHOOK_ALLOWED_HOSTS entry raises ValueError naming the entry."""
    with pytest.raises(ValueError, match="WEBHOOK_ALLOWED_HOSTS entry") as caught:
        OutboundPolicy.from_settings(allow_private=False, allowed_hosts=f"ok.example,{entry}")
    assert repr(entry) in str(caught.value)


# --- refusal reasons --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "fragments", "absent"),
    [
        # a loopback literal names both settings
        (
            "127.1",
            [
                "127.0.0.1",
                "loopback",
                "ALLOW_PROXY_TO_PRIVATE_IPS=true",
                "WEBHOOK_ALLOWED_HOSTS=127.0.0.1",
            ],
            [],
        ),
        # link-local is opened by listing only
        (
            "169.254.1.1",
            ["169.254.1.1", "link-local", "WEBHOOK_ALLOWED_HOSTS=169.254.1.1"],
            ["ALLOW_PROXY"],
        ),
        # metadata says it stays refused
        (
            "169.254.169.254",
            ["cloud metadata", "stays refused", "WEBHOOK_ALLOWED_HOSTS=169.254.169.254"],
            [],
        ),
        # a carrier shows the IPv4 inside it
        ("::ffff:10.0.0.1", ["::ffff:a00:1 (IPv4 10.0.0.1)", "private"], []),
    ],
)
def test_refusal_reason_names_address_rule_and_setting(
    host: str, fragments: list[str], absent: list[str]
) -> None:
    """A refusal names the address, its class and the setting that would allow it."""
    ip = parse_host_literal(host)
    assert ip is not None
    decision = check_address(DEFAULT, host, ip)
    assert not decision.allowed
    assert decision.address is None
    assert decision.reason is not None
    for fragment in fragments:
        assert fragment in decision.reason
    for fragment in absent:
        assert fragment not in decision.reason


# --- resolution -------------------------------------------------------------------------------


async def test_literal_hosts_are_not_resolved() -> None:
    """A literal host is checked as written; the resolver is never called."""
    resolver = FakeResolver({})
    decision = await resolve_and_check(DEFAULT, "0x7f.1", 80, resolver)
    assert not decision.allowed
    assert decision.address_class is AddressClass.LOOPBACK
    allowed = await resolve_and_check(DEFAULT, "134744072", 80, resolver)
    assert allowed == Decision(allowed=True, address="8.8.8.8", reason=None)
    assert resolver.calls == []


@pytest.mark.parametrize(
    ("answers", "allowed", "address"),
    [
        (["93.184.216.34"], True, "93.184.216.34"),  # one public address
        (["93.184.216.34", "2606:2800:220:1::"], True, "93.184.216.34"),  # the first is used
        (["2606:2800:220:1::", "93.184.216.34"], True, "2606:2800:220:1::"),  # in resolver order
        (["93.184.216.34", "10.0.0.1"], False, None),  # one private address refuses all
        (["127.0.0.1", "93.184.216.34"], False, None),  # whatever its position
        (["93.184.216.34", "::ffff:169.254.169.254"], False, None),  # a mapped metadata address
        (["fe80::1%2"], False, None),  # link-local with a zone
        (["not-an-ip"], False, None),  # a nonsensical answer
    ],
)
async def test_every_resolved_address_is_checked(
    answers: list[str], allowed: bool, address: str | None
) -> None:
    """A name is allowed only when every address it resolves to is, and the first is used."""
    resolver = FakeResolver({"hooks.example": answers})
    decision = await resolve_and_check(DEFAULT, "hooks.example", 443, resolver)
    assert resolver.calls == [("hooks.example", 443)]
    assert decision.allowed is allowed
    assert decision.address == address
    if not allowed:
        assert decision.reason is not None
        assert "hooks.example" in decision.reason


async def test_refusal_after_resolution_suggests_the_name() -> None:
    """A name resolving to loopback is refused with a reason naming the name and the address."""
    resolver = FakeResolver({"localhost": ["127.0.0.1"]})
    decision = await resolve_and_check(DEFAULT, "localhost", 80, resolver)
    assert decision.reason is not None
    assert "127.0.0.1 (resolved from 'localhost')" in decision.reason
    assert "WEBHOOK_ALLOWED_HOSTS=localhost" in decision.reason


@pytest.mark.parametrize(
    ("allowed_hosts", "host", "expected"),
    [
        ("internal.example", "internal.example", True),  # listed by name
        ("internal.example", "INTERNAL.Example.", True),  # case and trailing dot do not matter
        ("internal.example", "other.example", False),  # another name
        ("*.corp.example", "api.corp.example", True),  # wildcard subdomain
        ("*.corp.example", "a.b.corp.example", True),  # deeper subdomain
        ("*.corp.example", "corp.example", False),  # not the apex
        ("*.corp.example", "evilcorp.example", False),  # not a suffix without a dot
        ("10.0.0.0/8", "internal.example", False),  # a CIDR does not cover metadata answers
    ],
)
async def test_listed_names_are_allowed_whatever_they_resolve_to(
    allowed_hosts: str, host: str, expected: bool
) -> None:
    """A name in WEBHOOK_ALLOWED_HOSTS is allowed by name, even to private addresses."""
    policy = OutboundPolicy.from_settings(allow_private=False, allowed_hosts=allowed_hosts)
    resolver = FakeResolver({host: ["10.0.0.7", "169.254.169.254"]})
    decision = await resolve_and_check(policy, host, 80, resolver)
    assert decision.allowed is expected
    assert decision.address == ("10.0.0.7" if expected else None)


async def test_empty_resolution_is_a_connection_failure() -> None:
    """A name with no address raises HostResolutionError rather than refusing."""
    with pytest.raises(HostResolutionError, match=r"gone\.example"):
        await resolve_and_check(DEFAULT, "gone.example", 80, FakeResolver({"gone.example": []}))


async def test_resolver_errors_propagate() -> None:
    """An error of the resolver reaches the caller unchanged."""

    async def failing(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    with pytest.raises(OSError, match="not known"):
        await resolve_and_check(DEFAULT, "nx.example", 80, failing)


@pytest.mark.parametrize(
    "host",
    [
        "1.2.3.4.5",  # five parts
        "08.0.0.1",  # bad octal
        "example.0x10",  # a name ending in a hex number
        "1.2.3.999",  # a part out of range
        "[::g]",  # bad IPv6
        "::ffff:0177.0.0.1",  # octal inside IPv6
    ],
)
async def test_malformed_addresses_are_refused_without_resolution(host: str) -> None:
    """A host that looks like an address but is not one is refused and never resolved."""
    resolver = FakeResolver({})
    decision = await resolve_and_check(OPEN_PRIVATE, host, 80, resolver)
    assert not decision.allowed
    assert decision.reason is not None
    assert "not a valid one" in decision.reason
    assert resolver.calls == []
