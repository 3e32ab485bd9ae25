"""Ways to run the server: as a coroutine context, in a thread (tests, benchmarks), or in the foreground (CLI)."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from aiohttp import web

from chatgpt_es.background import InThread, until_stopped

from .app import ServerConfig, build_app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url(host: str, port: int) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


@asynccontextmanager
async def running_server(config: ServerConfig, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve on the current event loop until the context exits; yields the base URL (port 0: the OS picks)."""
    # handler_cancellation: a client that disconnects cancels its handler, and so the site request, at once
    runner = web.AppRunner(build_app(config), access_log=None, shutdown_timeout=1.0, handler_cancellation=True)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        yield base_url(host, runner.addresses[0][1])
    finally:
        await runner.cleanup()


async def serve(config: ServerConfig, host: str, port: int, on_ready: Callable[[str], None]) -> None:
    """Serve until SIGINT/SIGTERM; ``on_ready`` gets the base URL once the port is bound."""
    async with running_server(config, host, port) as url:
        on_ready(url)
        await until_stopped()


class ServerThread(InThread[str]):
    """The server on its own event loop in a daemon thread; ``with`` yields its base URL."""

    name = "chatgpt-es-server"

    def __init__(self, config: ServerConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__()
        self.config, self.host, self.port = config, host, port

    def open(self) -> AbstractAsyncContextManager[str]:
        return running_server(self.config, self.host, self.port)
