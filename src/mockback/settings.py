"""All configuration in one object, read once: command-line flags over environment over defaults.

Nothing else in Mockback reads the environment. Every flag of ``mockback serve`` has a
``MOCKBACK_*`` variable; the variables of the system Mockback is compatible with
(``ALLOW_PROXY_TO_PRIVATE_IPS``, ``WEBHOOK_POOL_SIZE``, ``AUTH_MODE``, ...) are honoured as named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from mockback.domain.errors import ConfigurationError
from mockback.scheduling import MODES

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The server's configuration."""

    host: str = "127.0.0.1"  # listen address
    port: int = 5770  # listen port; 0 picks a free one
    data_dir: Path = Path("mockback-data")  # where the SQLite file lives
    ephemeral: bool = False  # keep everything in memory, write nothing
    db: str | None = None  # a DSN; postgresql:// selects PostgreSQL
    mocks: tuple[Path, ...] = ()  # files or folders of mocks loaded at start
    log_format: str = "console"  # json | console
    log_level: str = "info"  # debug | info | warning | error
    strict: bool = False  # reject unknown mock fields instead of warning
    faker_seed: int | None = None  # reproducible $.fake values
    allow_private_ips: bool = False  # ALLOW_PROXY_TO_PRIVATE_IPS
    webhook_allowed_hosts: str = ""  # WEBHOOK_ALLOWED_HOSTS
    webhook_pool_size: int = 10  # WEBHOOK_POOL_SIZE: deliveries at once
    max_callback_depth: int = 10  # requests this deep fire no callbacks
    request_log_size: int = 1000  # served and unmatched requests kept (each)
    max_admin_body: int = 10 * 1024 * 1024  # bytes
    max_served_body: int = 10 * 1024 * 1024  # bytes
    auth_mode: str = "off"  # AUTH_MODE: off | token
    first_admin_login: str = "admin"  # FIRST_ADMIN_LOGIN
    first_admin_password: str | None = field(default=None, repr=False)  # FIRST_ADMIN_PASSWORD
    login_token_ttl: int = 86_400  # seconds a POST /api/v1/login token stays valid
    retention_days: int = 7  # cleanup purges what ended (or was soft-deleted) longer ago
    cleanup_interval: int = 3600  # seconds between scheduled cleanups; 0: never scheduled
    cpu_scheduling: str = "auto"  # auto | batch | off (see mockback.scheduling)
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    """The environment as read at start: ``env:NAME`` secrets are looked up here."""

    @property
    def backups_dir(self) -> Path:
        """Where backups are written when the data is on disk."""
        return self.data_dir / "backups"

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file used when no DSN is given."""
        return self.data_dir / "mockback.sqlite3"

    def with_overrides(self, **values: Any) -> Settings:
        """A copy with the given (non-None) values."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


# name in Settings -> (environment variables, in order of preference)
_ENV: dict[str, tuple[str, ...]] = {
    "host": ("MOCKBACK_HOST",),
    "port": ("MOCKBACK_PORT",),
    "data_dir": ("MOCKBACK_DATA_DIR",),
    "ephemeral": ("MOCKBACK_EPHEMERAL",),
    "db": ("MOCKBACK_DB",),
    "mocks": ("MOCKBACK_MOCKS",),
    "log_format": ("MOCKBACK_LOG_FORMAT",),
    "log_level": ("MOCKBACK_LOG_LEVEL",),
    "strict": ("MOCKBACK_STRICT",),
    "faker_seed": ("MOCKBACK_FAKER_SEED",),
    "allow_private_ips": ("ALLOW_PROXY_TO_PRIVATE_IPS", "MOCKBACK_ALLOW_PRIVATE_IPS"),
    "webhook_allowed_hosts": ("WEBHOOK_ALLOWED_HOSTS", "MOCKBACK_WEBHOOK_ALLOWED_HOSTS"),
    "webhook_pool_size": ("WEBHOOK_POOL_SIZE", "MOCKBACK_WEBHOOK_POOL_SIZE"),
    "max_callback_depth": ("MOCKBACK_MAX_CALLBACK_DEPTH",),
    "request_log_size": ("MOCKBACK_REQUEST_LOG_SIZE",),
    "max_admin_body": ("MOCKBACK_MAX_ADMIN_BODY",),
    "max_served_body": ("MOCKBACK_MAX_SERVED_BODY",),
    "auth_mode": ("AUTH_MODE", "MOCKBACK_AUTH_MODE"),
    "first_admin_login": ("FIRST_ADMIN_LOGIN",),
    "first_admin_password": ("FIRST_ADMIN_PASSWORD",),
    "login_token_ttl": ("MOCKBACK_LOGIN_TOKEN_TTL",),
    "retention_days": ("MOCKBACK_RETENTION_DAYS",),
    "cleanup_interval": ("MOCKBACK_CLEANUP_INTERVAL",),
    "cpu_scheduling": ("MOCKBACK_CPU_SCHEDULING",),
}


def _convert(name: str, var: str, raw: str, kind: Any) -> Any:
    text = raw.strip()
    try:
        if kind is bool or kind == "bool":
            low = text.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError("expected true or false")
        if kind in (int, "int", "int | None"):
            return int(text)
        if kind in (Path, "Path"):
            return Path(text)
        if kind in ("tuple[Path, ...]",):
            return tuple(Path(p) for p in text.split(",") if p.strip())
    except ValueError as exc:
        raise ConfigurationError(f"{var}={raw!r} is not valid: {exc}") from None
    return text


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """Settings from environment variables (unset ones keep their defaults)."""
    values: dict[str, Any] = {}
    types = {f.name: f.type for f in fields(Settings)}
    for name, variables in _ENV.items():
        for var in variables:
            if var in env:
                values[name] = _convert(name, var, env[var], types[name])
                break
    settings = Settings(**values, environ=dict(env))
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    """Raise ConfigurationError naming the first unusable value."""
    if not 0 <= settings.port <= 65535:
        raise ConfigurationError(f"port {settings.port} is out of range 0-65535")
    if settings.log_format not in {"json", "console"}:
        raise ConfigurationError(f"log format {settings.log_format!r} must be json or console")
    if settings.log_level.lower() not in {"debug", "info", "warning", "error", "critical"}:
        raise ConfigurationError(f"log level {settings.log_level!r} is not a level")
    if settings.webhook_pool_size < 1:
        raise ConfigurationError("WEBHOOK_POOL_SIZE must be at least 1")
    if settings.cpu_scheduling not in MODES:
        raise ConfigurationError(
            f"--cpu-scheduling (MOCKBACK_CPU_SCHEDULING) {settings.cpu_scheduling!r} must be one "
            f"of {', '.join(MODES)}"
        )
    if settings.auth_mode not in {"off", "token"}:
        raise ConfigurationError(f"AUTH_MODE {settings.auth_mode!r} must be off or token")
    if settings.login_token_ttl < 1:
        raise ConfigurationError("MOCKBACK_LOGIN_TOKEN_TTL must be at least 1 (seconds)")
    if settings.retention_days < 0:
        raise ConfigurationError("MOCKBACK_RETENTION_DAYS must be 0 or more")
    if settings.cleanup_interval < 0:
        raise ConfigurationError("MOCKBACK_CLEANUP_INTERVAL must be 0 (off) or more seconds")
    if settings.max_callback_depth < 1:
        raise ConfigurationError("MOCKBACK_MAX_CALLBACK_DEPTH must be at least 1")
    if settings.db and not settings.db.startswith(("postgresql://", "postgres://", "sqlite:")):
        raise ConfigurationError(
            f"--db {settings.db.split('@')[-1]!r} is not a supported DSN (postgresql://... or sqlite:PATH)"
        )
