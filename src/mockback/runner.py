"""Running the server: start services, listen with granian, stop cleanly on SIGTERM/SIGINT.

Granian runs embedded in our own event loop (one process), so the store, the delivery queue
and the served mocks share memory, and its Rust I/O threads still use more than one core.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import socket
import sys
from typing import Any

from mockback import logs
from mockback.logs import get_logger
from mockback.scheduling import apply as apply_scheduling
from mockback.services import build_services
from mockback.settings import Settings

log = get_logger(__name__)


def free_port(host: str) -> int:
    """A port the system reports free on ``host``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def serve(settings: Settings) -> None:
    """Serve until a termination signal; raises ConfigurationError before listening."""
    from granian.constants import Interfaces, Loops  # noqa: F401 - imported late: slow import
    from granian.server.embed import Server

    # First, before any thread starts: the threads started below inherit the policy.
    scheduling = apply_scheduling(settings.cpu_scheduling)
    services = build_services(settings)
    await services.start()
    # What exists now (modules, the admin app, loaded mocks) lives as long as the process: keep
    # it out of the collector's sight, so a full collection walks only what requests made. On a
    # busy server this turns 30-60 ms pauses into ~1 ms ones (see bench/README.md).
    gc.collect()
    gc.freeze()
    # Requests and deliveries make no reference cycles, yet with the default threshold (700)
    # the young generation was collected every ~25 requests of a webhook-firing mock: the
    # objects of the requests and deliveries under way come and go by the hundred, and each
    # collection promoted them. Collected cycles under load: none; collection time: ~8 us per
    # request (4% of it). At 10,000 the collector still runs, seldom (bench/README.md).
    gc.set_threshold(10_000, 10, 10)
    if services.generated_admin_password is not None:
        # The only time this password exists in clear: one line on stderr, then forgotten.
        log.warning(
            "First admin created with a generated password; it is shown only this once",
            login=settings.first_admin_login,
            password=services.generated_admin_password,
        )
        services.generated_admin_password = None
    port = settings.port or free_port(settings.host)
    server: Any = Server(
        services.app,
        address=settings.host,
        port=port,
        interface=Interfaces.ASGINL,
        log_enabled=False,
        backlog=2048,
    )

    services.listening(settings.host, port)

    def announce() -> None:
        sys.stdout.write(f"Mockback listening on http://{_url_host(settings.host)}:{port}\n")
        sys.stdout.flush()
        if settings.host not in {"127.0.0.1", "localhost", "::1"} and settings.auth_mode == "off":
            log.warning(
                "The admin API is open (AUTH_MODE=off) on a non-loopback address",
                host=settings.host,
            )
        if scheduling == "batch":
            log.info("Threads scheduled as batch work (SCHED_BATCH)", mode=settings.cpu_scheduling)

    server.on_startup(announce)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.stop)
    try:
        await server.serve()
    finally:
        log.info("Shutting down")
        await services.stop()
        await asyncio.sleep(0)
        logs.flush()
