"""Which addresses a callback may connect to (the SSRF guard).

The decision is pure: `check_address` judges one IP for one host. `resolve_and_check` adds the
name resolution through a resolver passed in, so that the address checked is the address
connected to (no window for DNS rebinding between check and connect).

Every spelling of an address is recognised: `parse_host_literal` follows the URL standard's IPv4
parser (decimal, octal, hex, short forms, trailing dot) and reads IPv6 with brackets and zone
ids; IPv6 forms that carry an IPv4 address (mapped, compatible, translated, 6to4, NAT64, Teredo)
are judged as the IPv4 address they carry.

Address classes and what opens them are listed in `_IPV4_RULES`, `_IPV6_RULES` and
`METADATA_ADDRESSES`; docs/reference/outbound-policy.md shows the same table.
"""

from __future__ import annotations

import enum
import ipaddress
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

_ALLOW_PRIVATE: Final = "ALLOW_PROXY_TO_PRIVATE_IPS=true"
_ALLOWED_HOSTS: Final = "WEBHOOK_ALLOWED_HOSTS"


class HostResolutionError(OSError):
    """A host name resolved to no address: a connection failure, not a policy refusal."""


class AddressClass(enum.Enum):
    """A special-purpose address range; anything outside all of them is public."""

    # 127.0.0.0/8, ::1
    LOOPBACK = "loopback"
    # RFC 1918: 10/8, 172.16/12, 192.168/16
    PRIVATE = "private"
    # fc00::/7 (the IPv6 private range) and the deprecated site-local fec0::/10
    UNIQUE_LOCAL = "unique-local"
    # 100.64.0.0/10, shared address space of carrier-grade NAT (also VPN overlays)
    CGNAT = "carrier-grade NAT"
    # 198.18.0.0/15 and 2001:2::/48, benchmarking ranges used as lab networks
    BENCHMARKING = "benchmarking"
    # 64:ff9b:1::/48, NAT64 prefix for local use whose IPv4 position is not fixed
    LOCAL_TRANSLATION = "local-use NAT64"
    # 169.254.0.0/16, fe80::/10; where cloud platforms put credential services
    LINK_LOCAL = "link-local"
    # 224.0.0.0/4, ff00::/8
    MULTICAST = "multicast"
    # 0.0.0.0/8 ("this network", reaches the local host on Linux), ::
    UNSPECIFIED = "unspecified"
    # documentation, IETF protocol assignments, 240.0.0.0/4 and broadcast, discard-only
    RESERVED = "reserved"
    # cloud instance metadata and credential endpoints (METADATA_ADDRESSES)
    METADATA = "cloud metadata"


# Opened by ALLOW_PROXY_TO_PRIVATE_IPS=true. Link-local stays closed: besides metadata it holds
# other credential services (ECS task roles, EKS pod identity) and real targets rarely live there.
OPENED_BY_ALLOW_PRIVATE: Final = frozenset(
    {
        AddressClass.LOOPBACK,
        AddressClass.PRIVATE,
        AddressClass.UNIQUE_LOCAL,
        AddressClass.CGNAT,
        AddressClass.BENCHMARKING,
        AddressClass.LOCAL_TRANSLATION,
    }
)

METADATA_ADDRESSES: Final[frozenset[IPAddress]] = frozenset(
    ipaddress.ip_address(text)
    for text in (
        "169.254.169.254",  # AWS, GCP, Azure, OCI, DigitalOcean, OpenStack, Hetzner, Linode
        "169.254.170.2",  # AWS ECS task metadata and credentials
        "169.254.170.23",  # AWS EKS pod identity agent
        "169.254.0.23",  # Tencent Cloud
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (legacy)
        "168.63.129.16",  # Azure WireServer (host agent, certificates)
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity agent over IPv6
        "fd20:ce::254",  # Google Compute Engine metadata over IPv6
    )
)


def _rules(*rows: tuple[str, AddressClass]) -> tuple[tuple[IPNetwork, AddressClass], ...]:
    return tuple((ipaddress.ip_network(cidr), cls) for cidr, cls in rows)


_IPV4_RULES: Final = _rules(
    ("0.0.0.0/8", AddressClass.UNSPECIFIED),
    ("10.0.0.0/8", AddressClass.PRIVATE),
    ("100.64.0.0/10", AddressClass.CGNAT),
    ("127.0.0.0/8", AddressClass.LOOPBACK),
    ("169.254.0.0/16", AddressClass.LINK_LOCAL),
    ("172.16.0.0/12", AddressClass.PRIVATE),
    ("192.0.0.0/24", AddressClass.RESERVED),  # IETF protocol assignments
    ("192.0.2.0/24", AddressClass.RESERVED),  # documentation
    ("192.88.99.0/24", AddressClass.RESERVED),  # retired 6to4 relay anycast
    ("192.168.0.0/16", AddressClass.PRIVATE),
    ("198.18.0.0/15", AddressClass.BENCHMARKING),
    ("198.51.100.0/24", AddressClass.RESERVED),  # documentation
    ("203.0.113.0/24", AddressClass.RESERVED),  # documentation
    ("224.0.0.0/4", AddressClass.MULTICAST),
    ("240.0.0.0/4", AddressClass.RESERVED),  # future use, and 255.255.255.255 broadcast
)

_IPV6_RULES: Final = _rules(
    ("::/128", AddressClass.UNSPECIFIED),
    ("::1/128", AddressClass.LOOPBACK),
    ("64:ff9b:1::/48", AddressClass.LOCAL_TRANSLATION),
    ("100::/64", AddressClass.RESERVED),  # discard-only
    ("2001:2::/48", AddressClass.BENCHMARKING),
    ("2001:db8::/32", AddressClass.RESERVED),  # documentation
    ("3fff::/20", AddressClass.RESERVED),  # documentation
    ("fc00::/7", AddressClass.UNIQUE_LOCAL),
    ("fe80::/10", AddressClass.LINK_LOCAL),
    ("fec0::/10", AddressClass.UNIQUE_LOCAL),  # deprecated site-local
    ("ff00::/8", AddressClass.MULTICAST),
)

# IPv6 ranges whose low 32 bits are an IPv4 address the packets end up at.
_LOW32_IPV4_CARRIERS: Final = tuple(
    ipaddress.IPv6Network(cidr)
    for cidr in (
        "::/96",  # IPv4-compatible (deprecated)
        "::ffff:0:0/96",  # IPv4-mapped
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "64:ff9b::/96",  # NAT64 well-known prefix
    )
)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundPolicy:
    """The settings that decide which addresses callbacks may reach."""

    # ALLOW_PROXY_TO_PRIVATE_IPS: open the classes in OPENED_BY_ALLOW_PRIVATE
    allow_private: bool = False
    # WEBHOOK_ALLOWED_HOSTS: lower-case names ("*.x" matches subdomains) and networks
    allowed: tuple[str | IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, *, allow_private: bool, allowed_hosts: str) -> OutboundPolicy:
        """Build a policy from the settings; a bad WEBHOOK_ALLOWED_HOSTS entry raises ValueError."""
        entries = (entry.strip() for entry in allowed_hosts.split(","))
        return cls(
            allow_private=allow_private,
            allowed=tuple(_parse_allowed_entry(entry) for entry in entries if entry),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """Whether a callback may connect, and to which address."""

    # True when the connection may be made
    allowed: bool
    # the checked IP to connect to; None when refused
    address: str | None
    # why it was refused: the address, the class and the setting that would allow it
    reason: str | None
    # the class of the refused (or opened) address; None for a public one
    address_class: AddressClass | None = None


def parse_host_literal(host: str) -> IPAddress | None:
    """Return the IP address `host` spells, in any accepted spelling, or None for a name."""
    text = _normalise_host(host)
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        # A zone id arrives URL-encoded (`%25eth0`) in URLs.
        text = text.replace("%25", "%", 1)
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            return None
    value = _parse_ipv4(text)
    return None if value is None else ipaddress.IPv4Address(value)


def check_address(policy: OutboundPolicy, host: str, ip: IPAddress) -> Decision:
    """Judge whether a callback for `host` may connect to `ip`."""
    name = _host_name(host)
    if name is not None and _name_allowed(policy, name):
        return Decision(allowed=True, address=str(ip), reason=None)
    carried = _carried_ipv4(ip)
    address_class = _classify(ip) or (None if carried is None else _classify(carried))
    if _listed(policy, ip, carried, explicit_only=address_class is AddressClass.METADATA):
        return Decision(allowed=True, address=str(ip), reason=None, address_class=address_class)
    if address_class is None or (policy.allow_private and address_class in OPENED_BY_ALLOW_PRIVATE):
        return Decision(allowed=True, address=str(ip), reason=None, address_class=address_class)
    return Decision(
        allowed=False,
        address=None,
        reason=_refusal(host, ip, carried, address_class, name),
        address_class=address_class,
    )


async def resolve_and_check(
    policy: OutboundPolicy, host: str, port: int, resolver: Resolver
) -> Decision:
    """Resolve `host` if it is a name, check every address, and name the one to connect to.

    Resolver errors propagate unchanged and an empty answer raises HostResolutionError: both
    are connection failures to retry, not refusals.
    """
    literal = parse_host_literal(host)
    if literal is not None:
        return check_address(policy, host, literal)
    text = _normalise_host(host).strip("[]")
    if ":" in text or _ends_in_number(text):
        return Decision(
            allowed=False,
            address=None,
            reason=f"host {host!r} looks like an IP address but is not a valid one",
        )
    answers = await resolver(host, port)
    if not answers:
        raise HostResolutionError(f"host {host!r} resolved to no address")
    addresses = [parse_host_literal(answer) for answer in answers]
    decisions: list[Decision] = []
    for answer, ip in zip(answers, addresses, strict=True):
        if ip is None:
            return Decision(
                allowed=False,
                address=None,
                reason=f"host {host!r} resolved to {answer!r}, which is not an IP address",
            )
        decision = check_address(policy, host, ip)
        if not decision.allowed:
            return decision
        decisions.append(decision)
    # All passed: connect to the first, in the resolver's order of preference.
    return decisions[0]


def classify(ip: IPAddress) -> AddressClass | None:
    """Return the special-purpose class of `ip` (judging carried IPv4 too), None when public."""
    carried = _carried_ipv4(ip)
    return _classify(ip) or (None if carried is None else _classify(carried))


def _bare(ip: IPAddress) -> IPAddress:
    """`ip` without its IPv6 zone id, which would make equal addresses hash differently."""
    return ipaddress.IPv6Address(int(ip)) if ip.version == 6 else ip


def _classify(ip: IPAddress) -> AddressClass | None:
    ip = _bare(ip)
    if ip in METADATA_ADDRESSES:
        return AddressClass.METADATA
    rules = _IPV4_RULES if ip.version == 4 else _IPV6_RULES
    for network, address_class in rules:
        if ip in network:
            return address_class
    return None


def _carried_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client, where the packets are delivered
    if int(ip) <= 1:
        return None  # :: and ::1 are themselves, not IPv4-compatible forms
    for network in _LOW32_IPV4_CARRIERS:
        if ip in network:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _listed(
    policy: OutboundPolicy,
    ip: IPAddress,
    carried: ipaddress.IPv4Address | None,
    *,
    explicit_only: bool,
) -> bool:
    candidates = [_bare(ip)]
    if carried is not None:
        candidates.append(carried)
    for entry in policy.allowed:
        if isinstance(entry, str):
            continue
        # Metadata opens only for an entry naming that one address, never for a wider range.
        if explicit_only and entry.num_addresses != 1:
            continue
        if any(c.version == entry.version and c in entry for c in candidates):
            return True
    return False


def _name_allowed(policy: OutboundPolicy, name: str) -> bool:
    for entry in policy.allowed:
        if not isinstance(entry, str):
            continue
        if entry.startswith("*."):
            if name.endswith(entry[1:]):
                return True
        elif name == entry:
            return True
    return False


def _refusal(
    host: str,
    ip: IPAddress,
    carried: ipaddress.IPv4Address | None,
    address_class: AddressClass,
    name: str | None,
) -> str:
    shown = str(ip) if carried is None else f"{ip} (IPv4 {carried})"
    target = shown if name is None else f"{shown} (resolved from {host!r})"
    entry = name if name is not None else str(ip)
    if address_class is AddressClass.METADATA:
        how = (
            f"it stays refused with {_ALLOW_PRIVATE}; list it explicitly to allow it: "
            f"{_ALLOWED_HOSTS}={entry}"
        )
    elif address_class in OPENED_BY_ALLOW_PRIVATE:
        how = f"set {_ALLOW_PRIVATE} or {_ALLOWED_HOSTS}={entry} to allow it"
    else:
        how = f"set {_ALLOWED_HOSTS}={entry} to allow it"
    return f"callback address {target} is {address_class.value}; {how}"


def _parse_allowed_entry(entry: str) -> str | IPNetwork:
    if "/" in entry:
        try:
            return ipaddress.ip_network(entry.strip("[]"), strict=False)
        except ValueError:
            raise ValueError(
                f"{_ALLOWED_HOSTS} entry {entry!r} is not a valid CIDR network"
            ) from None
    ip = parse_host_literal(entry)
    if ip is not None:
        return ipaddress.ip_network(_bare(ip))
    wildcard = entry.startswith("*.")
    name = _host_name(entry[2:] if wildcard else entry)
    if name is None:
        raise ValueError(
            f"{_ALLOWED_HOSTS} entry {entry!r} is not a host name, an IP address or a CIDR "
            "network (ports are not supported)"
        )
    return "*." + name if wildcard else name


def _normalise_host(host: str) -> str:
    if host.isascii():
        return host
    # Full-width digits and ideographic dots are mapped to ASCII by URL parsers (UTS 46).
    text = unicodedata.normalize("NFKC", host)
    for dot in ("\u3002", "\uff0e", "\uff61"):
        text = text.replace(dot, ".")
    return text


def _host_name(host: str) -> str | None:
    """The ASCII lower-case form of a host name; None for an address or an invalid name."""
    text = _normalise_host(host)
    if parse_host_literal(text) is not None or _ends_in_number(text):
        return None
    text = text.rstrip(".").lower()
    if not text or ":" in text or "[" in text:
        return None
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = text.split(".")
    for label in labels:
        if (
            not label
            or len(label) > 63
            or not all(c.isascii() and (c.isalnum() or c in "-_") for c in label)
        ):
            return None
    return text


def _parse_ipv4(text: str) -> int | None:
    """The URL standard's IPv4 parser: 1 to 4 parts, each decimal, 0-octal or 0x-hex."""
    parts = text.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not 1 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        number = _parse_ipv4_number(part)
        if number is None:
            return None
        numbers.append(number)
    last = numbers.pop()
    if any(n > 255 for n in numbers) or last >= 256 ** (4 - len(numbers)):
        return None
    value = last
    for index, number in enumerate(numbers):
        value += number << (8 * (3 - index))
    return value


_DIGITS: Final = {
    8: frozenset("01234567"),
    10: frozenset("0123456789"),
    16: frozenset("0123456789abcdefABCDEF"),
}


def _parse_ipv4_number(part: str) -> int | None:
    if not part:
        return None
    radix = 10
    if part[:2] in ("0x", "0X"):
        radix, part = 16, part[2:]
    elif len(part) > 1 and part[0] == "0":
        radix, part = 8, part[1:]
    if not part:
        return 0
    # int() alone would accept signs, spaces and underscores; only plain digits are valid here.
    if len(part) > 32 or not set(part) <= _DIGITS[radix]:
        return None
    return int(part, radix)


def _ends_in_number(text: str) -> bool:
    """The URL standard's check: a host whose last label is numeric must be an IPv4 address."""
    parts = text.split(".")
    if parts[-1] == "":
        if len(parts) == 1:
            return False
        parts.pop()
    last = parts[-1]
    if last and all(c in "0123456789" for c in last):
        return True
    return last[:2] in ("0x", "0X") and _parse_ipv4_number(last) is not None
