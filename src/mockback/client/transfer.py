"""Export and import: every mock and store of some namespaces, as one JSON/YAML document.

```jsonc
{"format": "mockback-export", "version": 1,
 "namespaces": ["sandbox"],
 "mocks": [{...}, ...],                                  // documents, in creation order
 "stores": {"global": {"sandbox": {...}}, "chain": {"checkout": {...}}}}
```

The document is also a ``--mocks`` file (``mockback serve`` reads its ``mocks``). Import is
idempotent: mocks are created or overwritten by id, store values are set key by key.

What an export carries beside mocks is a list of ``Section``s: stores today. Another kind of
object kept per namespace (change webhooks, once the server has them) is one more ``Section``
with its own top-level key, added to ``SECTIONS``; documents without that key stay valid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mockback.client.models import Mock, as_document
from mockback.client.sync import Client

FORMAT = "mockback-export"
"""The value of ``format`` in an export document."""

VERSION = 1
"""The version of the export document this client writes and reads."""

DEFAULT_NAMESPACE = "sandbox"
"""The namespace of a mock that names none."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """What an export covers, as found from the mocks."""

    namespaces: tuple[str, ...]  # namespaces exported, sorted
    chain_ids: tuple[str, ...]  # chains the exported mocks belong to, sorted


class Section(Protocol):
    """One kind of object an export carries beside the mocks."""

    key: str  # its top-level key in the document

    def collect(self, client: Client, scope: Scope) -> Any:
        """Its JSON value for the scope; None or empty leaves the key out."""

    def apply(self, client: Client, value: Any) -> int:
        """Write the value back; how many objects (or values) were written."""

    def only(self, value: Any, scope: Scope) -> Any:
        """The part of a collected value that belongs to a narrower scope (one namespace)."""


class StoresSection:
    """Global stores of the namespaces and chain stores of the chains, as plain objects."""

    key = "stores"

    def collect(self, client: Client, scope: Scope) -> Any:
        """``{"global": {ns: values}, "chain": {chainId: values}}``, empty stores left out."""
        out: dict[str, dict[str, Any]] = {}
        for kind, owners, store in (
            ("global", scope.namespaces, client.stores.global_),
            ("chain", scope.chain_ids, client.stores.chain),
        ):
            values = {owner: store(owner).get() for owner in owners}
            kept = {owner: v for owner, v in values.items() if v}
            if kept:
                out[kind] = kept
        return out

    def apply(self, client: Client, value: Any) -> int:
        """Set every value of every store named (other keys are left alone)."""
        if not isinstance(value, Mapping):
            raise ValueError('"stores" must be an object with "global" and "chain"')
        written = 0
        for kind, store in (("global", client.stores.global_), ("chain", client.stores.chain)):
            for owner, values in (value.get(kind) or {}).items():
                if not isinstance(values, Mapping):
                    raise ValueError(f'"stores.{kind}.{owner}" must be an object')
                if values:
                    store(str(owner)).set(values)
                    written += len(values)
        return written

    def only(self, value: Any, scope: Scope) -> Any:
        """The global stores of the scope's namespaces and the chain stores of its chains."""
        out: dict[str, dict[str, Any]] = {}
        for kind, owners in (("global", scope.namespaces), ("chain", scope.chain_ids)):
            kept = {k: v for k, v in (value.get(kind) or {}).items() if k in owners}
            if kept:
                out[kind] = kept
        return out


SECTIONS: tuple[Section, ...] = (StoresSection(),)
"""What an export carries beside mocks, in the order it is imported."""


def export_document(
    client: Client,
    *,
    namespaces: Iterable[str] | None = None,
    include_deleted: bool = False,
    sections: Sequence[Section] = SECTIONS,
) -> dict[str, Any]:
    """The export of the given namespaces (all that have mocks when None)."""
    wanted = None if namespaces is None else tuple(dict.fromkeys(namespaces))
    if wanted is None:
        found = list(client.mocks.iter(include_deleted=include_deleted))
    else:
        found = [
            m
            for ns in wanted
            for m in client.mocks.iter(namespace=ns, include_deleted=include_deleted)
        ]
        found.sort(key=lambda m: (str(m.get("createdAt") or ""), str(m.get("id"))))
    mocks = [_exported(m) for m in found]
    names = set(wanted) if wanted is not None else {_namespace(m) for m in mocks}
    if wanted is None:
        names.add(DEFAULT_NAMESPACE)
    scope = Scope(
        namespaces=tuple(sorted(names)),
        chain_ids=tuple(sorted({str(m["chainId"]) for m in mocks if m.get("chainId")})),
    )
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "namespaces": list(scope.namespaces),
        "mocks": mocks,
    }
    for section in sections:
        value = section.collect(client, scope)
        if value:
            document[section.key] = value
    return document


def _namespace(mock: Mapping[str, Any]) -> str:
    return str(mock.get("namespace") or DEFAULT_NAMESPACE)


def _exported(mock: Mapping[str, Any]) -> Mock:
    document = as_document(mock)
    if mock.get("deleted"):
        document["deleted"] = True
    return document


def split_by_namespace(
    document: Mapping[str, Any], *, sections: Sequence[Section] = SECTIONS
) -> dict[str, dict[str, Any]]:
    """One export document per namespace (for an export to a folder), each complete."""
    out: dict[str, dict[str, Any]] = {}
    for ns in document.get("namespaces") or []:
        mocks = [m for m in document.get("mocks", []) if _namespace(m) == ns]
        scope = Scope(
            namespaces=(ns,),
            chain_ids=tuple(sorted({str(m["chainId"]) for m in mocks if m.get("chainId")})),
        )
        part: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "namespaces": [ns],
            "mocks": mocks,
        }
        for section in sections:
            if section.key in document:
                value = section.only(document[section.key], scope)
                if value:
                    part[section.key] = value
        out[ns] = part
    return out


@dataclass(slots=True, kw_only=True)
class ImportReport:
    """What an import did; filled in as it goes."""

    created: list[str] = field(default_factory=list)  # ids of mocks that were new
    overwritten: list[str] = field(default_factory=list)  # ids of mocks replaced
    deleted: list[str] = field(default_factory=list)  # ids saved, then soft-deleted as exported
    warnings: list[str] = field(default_factory=list)  # the server's warnings, per mock
    written: dict[str, int] = field(default_factory=dict)  # per section: values written
    skipped: list[str] = field(default_factory=list)  # top-level keys this client does not know


def mocks_of(document: Any) -> list[Any]:
    """The mocks of an export document, a list of mocks, or a single mock."""
    if isinstance(document, list):
        return document
    if isinstance(document, Mapping) and isinstance(document.get("mocks"), list):
        return list(document["mocks"])
    if document is None:
        return []
    return [document]


_KNOWN = {"format", "version", "namespaces", "mocks"}


def import_document(
    client: Client,
    document: Any,
    *,
    strict: bool | None = None,
    report: ImportReport | None = None,
    sections: Sequence[Section] = SECTIONS,
) -> ImportReport:
    """Create or overwrite every mock of the document, then write its other sections."""
    report = report if report is not None else ImportReport()
    if isinstance(document, Mapping) and document.get("format") == FORMAT:
        version = document.get("version")
        if not isinstance(version, int) or version > VERSION:
            raise ValueError(
                f"export version {version!r} is newer than this client reads ({VERSION}); "
                "upgrade mockback"
            )
    for mock in mocks_of(document):
        if not isinstance(mock, Mapping):
            raise ValueError(f"a mock must be an object, not {type(mock).__name__}")
        saved = client.mocks.create(as_document(mock), strict=strict)
        (report.overwritten if saved.overwritten else report.created).append(saved.id)
        report.warnings.extend(f"{saved.id}: {w}" for w in saved.warnings)
        if mock.get("deleted") is True:
            client.mocks.delete(saved.id)
            report.deleted.append(saved.id)
    if isinstance(document, Mapping) and "mocks" in document:
        by_key = {s.key: s for s in sections}
        for key, value in document.items():
            if key in _KNOWN:
                continue
            section = by_key.get(key)
            if section is None:
                report.skipped.append(key)
                continue
            report.written[key] = report.written.get(key, 0) + section.apply(client, value)
    return report
