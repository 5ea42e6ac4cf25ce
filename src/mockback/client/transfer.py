"""Export and import: namespaces, mocks, stores and change webhooks, as one JSON/YAML document.

```jsonc
{"format": "mockback-export", "version": 1,
 "namespaces": [{"name": "sandbox", "description": ""}],
 "mocks": [{...}, ...],                                  // documents, in creation order
 "stores": {"global": {"sandbox": {...}}, "chain": {"checkout": {...}}},
 "changeWebhooks": {"namespace": {"sandbox": [{...}]}, "admin": [{...}]}}
```

The document is also a ``--mocks`` file (``mockback serve`` reads its ``mocks``). Import is
idempotent: namespaces are created (or their description set), mocks and webhooks are created or
overwritten by id, store values are set key by key. ``namespaces`` may also be a list of names,
as earlier exports wrote it.

What an export carries beside namespaces and mocks is a list of ``Section``s. Another kind of
object is one more ``Section`` with its own top-level key, added to ``SECTIONS``; documents
without that key stay valid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mockback.client.errors import AccessDenied, Conflict, NotFound
from mockback.client.models import Mock, as_document
from mockback.client.sync import Client

FORMAT = "mockback-export"
"""The value of ``format`` in an export document."""

VERSION = 1
"""The version of the export document this client writes and reads."""

DEFAULT_NAMESPACE = "sandbox"
"""The namespace of a mock that names none."""

MASK = "********"
"""How the server shows a secret; sent back, it keeps the secret stored under the same id."""

ADMIN_PART = "@admin"
"""The name of the part holding server-wide objects when an export is split by namespace."""

Warn = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """What an export covers."""

    namespaces: tuple[str, ...]  # namespaces exported, sorted
    chain_ids: tuple[str, ...]  # chains the exported mocks belong to, sorted
    server_wide: bool = False  # whether server-wide objects (admin webhooks) belong to it


class Section(Protocol):
    """One kind of object an export carries beside the mocks."""

    key: str  # its top-level key in the document

    def collect(self, client: Client, scope: Scope) -> Any:
        """Its JSON value for the scope; None or empty leaves the key out."""

    def apply(self, client: Client, value: Any, warn: Warn) -> int:
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

    def apply(self, client: Client, value: Any, warn: Warn) -> int:
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


_SERVER_FIELDS = ("namespace", "createdAt", "updatedAt")


def _webhook(view: Mapping[str, Any]) -> dict[str, Any]:
    """A webhook as the server showed it, without what the server adds (where, when)."""
    return {k: v for k, v in view.items() if k not in _SERVER_FIELDS}


def _masked(webhook: Mapping[str, Any]) -> bool:
    signing = webhook.get("signing")
    secret = signing.get("secret") if isinstance(signing, Mapping) else None
    secrets = secret if isinstance(secret, list) else [secret]
    return MASK in secrets


class WebhooksSection:
    """Change webhooks of the namespaces, and the admin webhooks of a server-wide export.

    Signing secrets are exported as the server shows them, masked. On import, a masked webhook
    is saved only where one with its id exists (the server then keeps its secret); elsewhere it
    is skipped with a warning, since a mask has no secret behind it there.
    """

    key = "changeWebhooks"

    def collect(self, client: Client, scope: Scope) -> Any:
        """``{"namespace": {ns: [webhook]}, "admin": [webhook]}``, empty parts left out."""
        out: dict[str, Any] = {}
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        for ns in scope.namespaces:
            try:
                found = client.webhooks.namespace(ns).list()
            except NotFound:
                # A namespace named for export that the server does not have.
                continue
            if found:
                by_namespace[ns] = [_webhook(w) for w in found]
        if by_namespace:
            out["namespace"] = by_namespace
        if scope.server_wide:
            try:
                admin = client.webhooks.admin().list()
            except AccessDenied:
                # Only admins see admin webhooks; others export what they may read.
                admin = []
            if admin:
                out["admin"] = [_webhook(w) for w in admin]
        return out

    def apply(self, client: Client, value: Any, warn: Warn) -> int:
        """Save every webhook by id; masked ones only where they exist already."""
        if not isinstance(value, Mapping):
            raise ValueError(f'"{self.key}" must be an object with "namespace" and "admin"')
        by_namespace = value.get("namespace") or {}
        if not isinstance(by_namespace, Mapping):
            raise ValueError(f'"{self.key}.namespace" must be an object')
        places: list[tuple[str | None, Any]] = [
            (str(ns), hooks) for ns, hooks in by_namespace.items()
        ]
        if value.get("admin"):
            places.append((None, value["admin"]))
        written = 0
        for ns, hooks in places:
            where = f"namespace {ns}" if ns is not None else "admin"
            if not isinstance(hooks, list) or not all(isinstance(h, Mapping) for h in hooks):
                raise ValueError(f'"{self.key}" of {where} must be a list of objects')
            target = client.webhooks.admin() if ns is None else client.webhooks.namespace(ns)
            existing: set[str] | None = None
            for hook in hooks:
                if _masked(hook):
                    if existing is None:
                        existing = {str(w["id"]) for w in target.list()}
                    if hook.get("id") not in existing:
                        warn(
                            f'{where} webhook "{hook.get("id")}" was not imported: its signing '
                            f'secret is masked ("{MASK}"); put the secret in the file and '
                            "import again"
                        )
                        continue
                target.save(_webhook(hook))
                written += 1
        return written

    def only(self, value: Any, scope: Scope) -> Any:
        """The webhooks of the scope's namespaces, and the admin ones if it is server-wide."""
        out: dict[str, Any] = {}
        kept = {
            ns: hooks
            for ns, hooks in (value.get("namespace") or {}).items()
            if ns in scope.namespaces
        }
        if kept:
            out["namespace"] = kept
        if scope.server_wide and value.get("admin"):
            out["admin"] = value["admin"]
        return out


SECTIONS: tuple[Section, ...] = (StoresSection(), WebhooksSection())
"""What an export carries beside mocks, in the order it is imported."""


def export_document(
    client: Client,
    *,
    namespaces: Iterable[str] | None = None,
    include_deleted: bool = False,
    sections: Sequence[Section] = SECTIONS,
) -> dict[str, Any]:
    """The export of the given namespaces (every namespace the caller sees when None)."""
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
    known = {str(n["name"]): n for n in client.namespaces.list()}
    if wanted is None:
        # Deleted mocks may name a namespace deleted with them; it is exported too.
        names = {DEFAULT_NAMESPACE, *known, *(_namespace(m) for m in mocks)}
    else:
        names = set(wanted)
    scope = Scope(
        namespaces=tuple(sorted(names)),
        chain_ids=tuple(sorted({str(m["chainId"]) for m in mocks if m.get("chainId")})),
        server_wide=wanted is None,
    )
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "namespaces": [_namespace_entry(ns, known.get(ns)) for ns in scope.namespaces],
        "mocks": mocks,
    }
    for section in sections:
        value = section.collect(client, scope)
        if value:
            document[section.key] = value
    return document


def _namespace_entry(name: str, shown: Mapping[str, Any] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name}
    if shown is not None and shown.get("description") is not None:
        entry["description"] = shown["description"]
    return entry


def namespace_names(document: Mapping[str, Any]) -> list[str]:
    """The namespaces of an export, whether written as names or as objects."""
    return [_entry(n)[0] for n in document.get("namespaces") or []]


def _entry(value: Any) -> tuple[str, str | None]:
    """(name, description or None) of one ``namespaces`` entry."""
    if isinstance(value, str):
        return value, None
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        description = value.get("description")
        if description is not None and not isinstance(description, str):
            raise ValueError(f'the description of namespace "{value["name"]}" must be a string')
        return value["name"], description
    raise ValueError('each of "namespaces" must be a name or an object with "name"')


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
    """One export document per namespace (for an export to a folder), each complete.

    Server-wide objects (admin webhooks) go to one more part, named ``ADMIN_PART``.
    """
    out: dict[str, dict[str, Any]] = {}
    entries = {_entry(n)[0]: n for n in document.get("namespaces") or []}
    for ns, entry in entries.items():
        mocks = [m for m in document.get("mocks", []) if _namespace(m) == ns]
        scope = Scope(
            namespaces=(ns,),
            chain_ids=tuple(sorted({str(m["chainId"]) for m in mocks if m.get("chainId")})),
        )
        out[ns] = _part(document, scope, [entry], mocks, sections)
    server = _part(document, Scope(namespaces=(), chain_ids=(), server_wide=True), [], [], sections)
    if any(key in server for key in (s.key for s in sections)):
        out[ADMIN_PART] = server
    return out


def _part(
    document: Mapping[str, Any],
    scope: Scope,
    namespaces: list[Any],
    mocks: list[Any],
    sections: Sequence[Section],
) -> dict[str, Any]:
    part: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "namespaces": namespaces,
        "mocks": mocks,
    }
    for section in sections:
        if section.key in document:
            value = section.only(document[section.key], scope)
            if value:
                part[section.key] = value
    return part


@dataclass(slots=True, kw_only=True)
class ImportReport:
    """What an import did; filled in as it goes."""

    created: list[str] = field(default_factory=list)  # ids of mocks that were new
    overwritten: list[str] = field(default_factory=list)  # ids of mocks replaced
    deleted: list[str] = field(default_factory=list)  # ids saved, then soft-deleted as exported
    warnings: list[str] = field(default_factory=list)  # the server's, per mock; what was skipped
    written: dict[str, int] = field(default_factory=dict)  # per section: values written
    namespaces: list[str] = field(default_factory=list)  # namespaces created or described anew
    step: str = ""  # what is (or was last) being written, to name it when the server refuses
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
    if isinstance(document, Mapping) and "mocks" in document:
        report.step = '"namespaces"'
        _import_namespaces(client, document.get("namespaces") or [], report)
    for index, mock in enumerate(mocks_of(document)):
        if not isinstance(mock, Mapping):
            raise ValueError(f"a mock must be an object, not {type(mock).__name__}")
        report.step = f"mock {index}" + (f' (id "{mock["id"]}")' if "id" in mock else "")
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
            report.step = f'"{key}"'
            written = section.apply(client, value, report.warnings.append)
            report.written[key] = report.written.get(key, 0) + written
    return report


def _import_namespaces(client: Client, entries: Any, report: ImportReport) -> None:
    """Create the namespaces the target lacks and set descriptions that differ."""
    if not isinstance(entries, list):
        raise ValueError('"namespaces" must be a list')
    wanted = [_entry(e) for e in entries]
    if not wanted:
        return
    known = {str(n["name"]): n for n in client.namespaces.list()}
    for name, description in wanted:
        shown = known.get(name)
        if shown is None:
            try:
                client.namespaces.create(name, description=description)
            except Conflict:
                # There, but hidden from this caller; its mocks will say whether that matters.
                continue
        elif description is not None and shown.get("description") != description:
            client.namespaces.update(name, description=description)
        else:
            continue
        report.namespaces.append(name)
