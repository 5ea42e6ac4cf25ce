"""Put a shared server back as it was: mocks and stores, between tests.

``take(client)`` records the active mocks and the stores of the namespaces and chains in use;
``roll_back(client, checkpoint)`` deletes the mocks that became active since (new or restored),
puts back the ones changed or deleted since, and sets the stores back key by key. Only active
mocks are read, so the cost follows what is served, not how many mocks were ever deleted.
Deliveries cannot be removed from a server; they stay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mockback.client import Client, Mock
from mockback.client.models import as_document
from mockback.client.sync import Store

_DEFAULT_NAMESPACE = "sandbox"
_MISSING = object()


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """A server's active mocks and their stores at one moment."""

    mocks: Mapping[str, Mock]  # every active mock by id, as the server showed it
    global_stores: Mapping[str, dict[str, Any]]  # namespace -> values
    chain_stores: Mapping[str, dict[str, Any]]  # chain id -> values


def _owners(mocks: Iterable[Mock]) -> tuple[set[str], set[str]]:
    namespaces = {_DEFAULT_NAMESPACE}
    chains: set[str] = set()
    for mock in mocks:
        namespaces.add(str(mock.get("namespace") or _DEFAULT_NAMESPACE))
        if mock.get("chainId"):
            chains.add(str(mock["chainId"]))
    return namespaces, chains


def take(client: Client) -> Checkpoint:
    """Record the server's active mocks and the stores they use."""
    mocks = {str(m["id"]): m for m in client.mocks.iter()}
    namespaces, chains = _owners(mocks.values())
    return Checkpoint(
        mocks=mocks,
        global_stores={ns: client.stores.global_(ns).get() for ns in sorted(namespaces)},
        chain_stores={c: client.stores.chain(c).get() for c in sorted(chains)},
    )


def roll_back(client: Client, checkpoint: Checkpoint) -> None:
    """Make the active mocks and their stores what they were at the checkpoint."""
    now = {str(m["id"]): m for m in client.mocks.iter()}
    for mock_id, mock in now.items():
        before = checkpoint.mocks.get(mock_id)
        if before is None:
            client.mocks.delete(mock_id)
        elif as_document(mock) != as_document(before):
            client.mocks.create(as_document(before))
    for mock_id, before in checkpoint.mocks.items():
        if mock_id not in now:
            # Saving over the id restores the mock too.
            client.mocks.create(as_document(before))
    namespaces, chains = _owners([*now.values(), *checkpoint.mocks.values()])
    for ns in sorted(namespaces):
        _reset(client.stores.global_(ns), checkpoint.global_stores.get(ns, {}))
    for chain in sorted(chains):
        _reset(client.stores.chain(chain), checkpoint.chain_stores.get(chain, {}))


def _reset(store: Store, values: Mapping[str, Any]) -> None:
    current = store.get()
    for key in current.keys() - values.keys():
        store.delete(key)
    changed = {k: v for k, v in values.items() if current.get(k, _MISSING) != v}
    if changed:
        store.set(changed)
