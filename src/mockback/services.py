"""The composition root: builds every concrete object from Settings, and nothing else does."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

from mockback.accounts import Accounts
from mockback.admin import Admin
from mockback.backups import Backups, BackupVault, FileVault, MemoryVault
from mockback.catalog import Catalog
from mockback.compiled import CompiledMock
from mockback.contexts import ContextBuilder
from mockback.delivery.broker_policy import address_check
from mockback.delivery.engine import DeliveryEngine
from mockback.delivery.outbound_policy import OutboundPolicy
from mockback.delivery.planner import DependentRenderer, Planner, compile_callbacks
from mockback.delivery.sender import Sender, system_resolver
from mockback.delivery.transports.base import Transport
from mockback.delivery.transports.http import HttpTransport
from mockback.delivery.transports.kafka import KafkaTransport
from mockback.delivery.transports.rabbitmq import RabbitMQTransport
from mockback.domain.deliveries import CallbackType
from mockback.domain.errors import ConfigurationError, ValidationFailed
from mockback.domain.mocks import StoreScope
from mockback.domain.requests import RequestSnapshot
from mockback.jobs import Cleanup, Jobs
from mockback.logs import get_logger
from mockback.matching import MockIndex
from mockback.metrics import Metrics
from mockback.mockfiles import read_mock_documents
from mockback.namespaces import Namespaces
from mockback.notifications import Notifications
from mockback.request_log import RequestLog
from mockback.schema.limits import Limits
from mockback.serving import MockServer
from mockback.settings import Settings
from mockback.store.base import Store
from mockback.store.memory import MemoryStore
from mockback.store.sqlite import SqliteStore
from mockback.templating import FakeData
from mockback.values import StoreValues
from mockback.web.admin.app import build_admin_app
from mockback.web.app import Dispatcher
from mockback.web.mock_endpoint import MockEndpoint

log = get_logger(__name__)


def build_store(settings: Settings) -> Store:
    """The Store the settings ask for."""
    if settings.ephemeral:
        return MemoryStore()
    if settings.db:
        if settings.db.startswith("sqlite:"):
            return SqliteStore(settings.db.removeprefix("sqlite:").removeprefix("//"))
        raise ConfigurationError(
            "--db postgresql://... is not supported by this build yet; use the default SQLite "
            "store (--data-dir) or --ephemeral"
        )
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"--data-dir {settings.data_dir}: cannot create: {exc.strerror}"
        ) from None
    return SqliteStore(settings.sqlite_path)


@dataclass(slots=True)
class Services:
    """Everything a running server is made of."""

    settings: Settings
    store: Store
    index: MockIndex
    catalog: Catalog
    values: StoreValues
    fake: FakeData
    request_log: RequestLog
    admin: Admin
    server: MockServer
    metrics: Metrics
    transports: dict[CallbackType, Transport]
    sender: Sender
    engine: DeliveryEngine
    notifications: Notifications
    namespaces: Namespaces
    accounts: Accounts
    backups: Backups
    jobs: Jobs
    app: Any = None
    started: bool = False
    generated_admin_password: str | None = None  # shown once at start, then forgotten
    _closers: list[Any] = field(default_factory=list)

    def ready(self) -> bool:
        """Whether the store is open and mocks are loaded."""
        return self.started

    async def start(self) -> None:
        """Open the store, load stored mocks and ``--mocks`` files."""
        try:
            await self.store.open()
        except Exception as exc:
            raise ConfigurationError(f"cannot open the store: {exc}") from None
        await self.notifications.load()
        await self.admin.load()
        await self.namespaces.adopt(set(self.index.namespaces()))
        if self.settings.auth_mode == "token":
            self.generated_admin_password = await self.accounts.bootstrap(
                self.settings.first_admin_login, self.settings.first_admin_password
            )
        await self.load_mock_files()
        await self.engine.start()
        self.jobs.start()
        self.started = True

    def listening(self, host: str, port: int) -> None:
        """The server is bound: callbacks to it are served in process from now on."""

        async def local(
            request: RequestSnapshot,
        ) -> tuple[int, list[tuple[bytes, bytes]], bytes, float]:
            served = await self.server.handle(request)
            return served.status, served.headers, served.body, served.delay

        self.sender.serve_locally(local, host, port)

    async def load_mock_files(self) -> None:
        """Validate every ``--mocks`` document first, then save them (idempotent by id)."""
        if not self.settings.mocks:
            return
        documents = read_mock_documents(list(self.settings.mocks))
        from mockback.schema.mocks import parse_mock

        for where, doc in documents:
            try:
                parse_mock(doc, strict=self.settings.strict, limits=self.admin.limits)
            except ValidationFailed as exc:
                first = exc.details[0] if exc.details else None
                detail = f"{first.field}: {first.problem}" if first else exc.message
                raise ConfigurationError(f"{where}: invalid mock: {detail}") from None
        for where, doc in documents:
            change = await self.admin.save_mock(doc)
            for warning in change.warnings:
                log.warning("Mock file warning", source=where, warning=warning)
        log.info("Loaded mock files", count=len(documents))

    async def stop(self) -> None:
        """Close everything, the store last."""
        self.started = False
        await self.jobs.stop()
        await self.engine.stop()
        for transport in self.transports.values():
            await transport.close()
        for closer in reversed(self._closers):
            await closer()
        await self.store.close()


def _served(index: MockIndex, mock_id: str) -> CompiledMock | None:
    """The compiled mock served under an id now (waiting callbacks render with it)."""
    candidate = index.get(mock_id)
    return candidate.payload if candidate is not None else None


def build_services(settings: Settings) -> Services:
    """Wire the whole server from its settings."""
    store = build_store(settings)
    try:
        policy = OutboundPolicy.from_settings(
            allow_private=settings.allow_private_ips, allowed_hosts=settings.webhook_allowed_hosts
        )
    except ValueError as exc:
        raise ConfigurationError(f"WEBHOOK_ALLOWED_HOSTS: {exc}") from None
    index = MockIndex()
    values = StoreValues(store)
    fake = FakeData(seed=settings.faker_seed)
    contexts = ContextBuilder(values, fake)
    catalog = Catalog(index, compile_callbacks, contexts.for_mock)
    request_log = RequestLog(settings.request_log_size)
    metrics = Metrics()
    transports: dict[CallbackType, Transport] = {
        CallbackType.HTTP: HttpTransport(pool_limit=max(settings.webhook_pool_size, 10)),
        CallbackType.KAFKA: KafkaTransport(address_check=address_check(policy, system_resolver)),
        CallbackType.RABBITMQ: RabbitMQTransport(),
    }
    sender = Sender(
        transports=transports,
        policy=policy,
        environ=settings.environ,
        global_store=lambda ns: values.view(StoreScope.GLOBAL, ns),
    )
    engine = DeliveryEngine(
        store=store,
        sender=sender,
        pool_size=settings.webhook_pool_size,
        metrics=metrics,
        release=DependentRenderer(compiled_for=partial(_served, index), fake=fake),
    )
    planner = Planner(engine=engine)
    notifications = Notifications(store=store, intake=engine, fake=fake)
    namespaces = Namespaces(store=store, notifications=notifications, catalog=catalog)
    admin = Admin(
        store=store,
        catalog=catalog,
        values=values,
        limits=Limits(),
        strict=settings.strict,
        notifications=notifications,
        namespaces=namespaces,
    )
    accounts = Accounts(
        store=store, notifications=notifications, login_ttl=float(settings.login_token_ttl)
    )
    vault: BackupVault = MemoryVault() if settings.ephemeral else FileVault(settings.backups_dir)
    backups = Backups(
        store=store, vault=vault, notifications=notifications, catalog=catalog, values=values
    )
    jobs = Jobs(
        jobs={"cleanup": Cleanup(store=store, retention=timedelta(days=settings.retention_days))},
        store=store,
        notifications=notifications,
        scheduled=("cleanup",),
        interval=float(settings.cleanup_interval),
    )
    server = MockServer(
        index=index,
        values=values,
        fake=fake,
        request_log=request_log,
        max_depth=settings.max_callback_depth,
        planner=planner,
        metrics=metrics,
        contexts=contexts,
    )
    services = Services(
        settings=settings,
        store=store,
        index=index,
        catalog=catalog,
        values=values,
        fake=fake,
        request_log=request_log,
        admin=admin,
        server=server,
        metrics=metrics,
        transports=transports,
        sender=sender,
        engine=engine,
        notifications=notifications,
        namespaces=namespaces,
        accounts=accounts,
        backups=backups,
        jobs=jobs,
    )
    admin_app, patterns = build_admin_app(
        admin=admin,
        request_log=request_log,
        index=index,
        ready=services.ready,
        max_body=settings.max_admin_body,
        store=store,
        engine=engine,
        metrics=metrics,
        auth_mode=settings.auth_mode,
        accounts=accounts,
        namespaces_service=namespaces,
        notifications=notifications,
        backups_service=backups,
        jobs_service=jobs,
    )
    services.app = Dispatcher(
        admin=admin_app,
        admin_paths=patterns,
        mocks=MockEndpoint(server, max_body=settings.max_served_body),
    )
    return services
