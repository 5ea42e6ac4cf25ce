"""Backups (admin only): a consistent snapshot written as JSON, listed, and restored whole.

Backups live in ``<data-dir>/backups/<id>.json`` (kept in memory with ``--ephemeral``). To move
a server, copy a backup file into the new data directory's ``backups/`` folder and restore it
by id there. A restore replaces namespaces, mocks, stores, change webhooks, users, tokens and
memberships in one transaction; deliveries and their history are kept as they are.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from mockback.backup_format import counts, from_json, to_json
from mockback.catalog import Catalog
from mockback.domain.access import Principal, require_admin
from mockback.domain.accounts import ChangeEvent
from mockback.domain.errors import FieldProblem, NotFound
from mockback.ids import new_id
from mockback.notifications import Notifications
from mockback.store.base import Store
from mockback.values import StoreValues

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$")


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class BackupInfo:
    """A stored backup, as listed."""

    id: str  # bak_...; the file is <id>.json
    size: int  # bytes
    modified_at: datetime  # when the file was last written


class BackupVault(Protocol):
    """Where backup documents are kept."""

    async def save(self, backup_id: str, data: bytes) -> None:
        """Keep a backup; durable when this returns."""
        ...

    async def load(self, backup_id: str) -> bytes | None:
        """A backup's bytes; None when there is none with that id."""
        ...

    async def list_backups(self) -> list[BackupInfo]:
        """Every backup, oldest first."""
        ...


class FileVault:
    """Backups as files in a directory (created on first use)."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory

    def _write(self, backup_id: str, data: bytes) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        final = self._dir / f"{backup_id}.json"
        partial = self._dir / f".{backup_id}.json.partial"
        with partial.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(final)

    async def save(self, backup_id: str, data: bytes) -> None:
        """Write to a hidden file, fsync, then rename: a backup is whole or absent."""
        await asyncio.to_thread(self._write, backup_id, data)

    async def load(self, backup_id: str) -> bytes | None:
        """Read one file."""
        path = self._dir / f"{backup_id}.json"
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    def _list(self) -> list[BackupInfo]:
        if not self._dir.is_dir():
            return []
        found = []
        for path in self._dir.glob("*.json"):
            if path.name.startswith(".") or not _ID.match(path.stem):
                continue
            stat = path.stat()
            found.append(
                BackupInfo(
                    id=path.stem,
                    size=stat.st_size,
                    modified_at=datetime.fromtimestamp(stat.st_mtime, UTC),
                )
            )
        return sorted(found, key=lambda b: (b.modified_at, b.id))

    async def list_backups(self) -> list[BackupInfo]:
        """The JSON files of the directory."""
        return await asyncio.to_thread(self._list)


class MemoryVault:
    """Backups kept in memory (``--ephemeral``)."""

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._items: dict[str, tuple[bytes, datetime]] = {}
        self._clock = clock

    async def save(self, backup_id: str, data: bytes) -> None:
        """Keep."""
        self._items[backup_id] = (data, self._clock())

    async def load(self, backup_id: str) -> bytes | None:
        """By id."""
        item = self._items.get(backup_id)
        return None if item is None else item[0]

    async def list_backups(self) -> list[BackupInfo]:
        """In the order they were made."""
        return [
            BackupInfo(id=key, size=len(data), modified_at=at)
            for key, (data, at) in self._items.items()
        ]


def _info_view(info: BackupInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "sizeBytes": info.size,
        "createdAt": info.modified_at.isoformat().replace("+00:00", "Z"),
    }


def _no_backup(backup_id: str) -> NotFound:
    return NotFound(
        f'No backup with id "{backup_id}".', (FieldProblem(field="id", problem="does not exist"),)
    )


class Backups:
    """Create, list and restore backups."""

    def __init__(
        self,
        *,
        store: Store,
        vault: BackupVault,
        notifications: Notifications,
        catalog: Catalog,
        values: StoreValues,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._vault = vault
        self._notifications = notifications
        self._catalog = catalog
        self._values = values
        self._clock = clock
        self._lock = asyncio.Lock()

    def _event(self, operation: str, caller: Principal, data: Any) -> ChangeEvent:
        return ChangeEvent(
            operation=operation,
            namespace=None,
            actor=caller.login,
            timestamp=self._clock(),
            data=data,
        )

    async def create(self, caller: Principal) -> dict[str, Any]:
        """Snapshot everything and keep it; ``backup.create`` fires once it is written."""
        require_admin(caller, "Backups")
        snapshot = await self._store.snapshot()
        now = self._clock()
        backup_id = new_id("bak", now.timestamp())
        data = orjson.dumps(to_json(snapshot, backup_id=backup_id, created_at=now))
        await self._vault.save(backup_id, data)
        info = {
            "id": backup_id,
            "createdAt": now.isoformat().replace("+00:00", "Z"),
            "sizeBytes": len(data),
            "counts": counts(snapshot),
        }
        # The change here is a file, not a row: its deliveries are stored right after it.
        outbox = self._notifications.deliveries(self._event("backup.create", caller, info))
        if outbox:
            await self._store.insert_deliveries(outbox)
            self._notifications.announce(outbox)
        return info

    async def list_backups(self, caller: Principal) -> list[dict[str, Any]]:
        """Every backup kept."""
        require_admin(caller, "Backups")
        return [_info_view(b) for b in await self._vault.list_backups()]

    async def restore(self, caller: Principal, backup_id: str) -> dict[str, Any]:
        """Replace everything a backup holds by the backup, in one transaction."""
        require_admin(caller, "Backups")
        if not _ID.match(backup_id):
            raise _no_backup(backup_id)
        raw = await self._vault.load(backup_id)
        if raw is None:
            raise _no_backup(backup_id)
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            document = None
        snapshot = from_json(document)
        info = {"id": backup_id, "counts": counts(snapshot)}
        async with self._lock:
            outbox = self._notifications.deliveries(self._event("backup.restore", caller, info))
            served = await self._store.active_mocks()
            await self._store.restore_snapshot(snapshot, outbox=outbox)
            for record in served:
                self._catalog.index.remove(record.id)
            self._catalog.load(await self._store.active_mocks())
            await self._values.load()
            await self._notifications.load()
            self._notifications.announce(outbox)
        return info
