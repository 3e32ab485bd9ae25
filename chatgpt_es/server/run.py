"""Ways to run the server: as a coroutine context, in a thread (tests, benchmarks), or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import TracebackType

from aiohttp import web

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
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    async with running_server(config, host, port) as url:
        on_ready(url)
        await stop.wait()


class ServerThread:
    """The server on its own event loop in a daemon thread; ``with`` yields its base URL."""

    def __init__(self, config: ServerConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config, self.host, self.port = config, host, port
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._url: str | None = None
        self._error: BaseException | None = None

    def __enter__(self) -> str:
        self._thread = threading.Thread(target=self._run, name="chatgpt-es-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(15.0) or self._url is None:
            raise RuntimeError("the server did not start") from self._error
        return self._url

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10.0)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported to the thread that called __enter__
            self._error = error
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with running_server(self.config, self.host, self.port) as url:
            self._url = url
            self._ready.set()
            await self._stop.wait()
