"""Small shared helpers of the end-to-end tests (test_e2e_legacy, test_e2e_aipkit, test_cli).

The emulator runs on its own thread and event loop; each test body runs its client on a fresh loop with
``asyncio.run``, so the two never share a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from aiohttp import web

import pipeline
from chatgpt_es.emulator import Emulator
from stages.errors import ChatGptEsError
from stages.transport import TransportOptions

T = TypeVar("T")
AJAX = "/wp-admin/admin-ajax.php"
#: fast but real retries: the policy still backs off, just briefly
FAST_RETRY = pipeline.RetryPolicy(attempts=3, wait_initial=0.01, wait_max=0.05, wait_jitter=0.01)
NO_RETRY = pipeline.RetryPolicy(attempts=1)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one test body on a fresh event loop (no pytest-asyncio)."""
    return asyncio.run(coroutine)


def settings(emu: Emulator | None = None, *, retry: pipeline.RetryPolicy = NO_RETRY,
             verify: bool | str | None = None, total_timeout: float | None = 30.0) -> pipeline.Settings:
    """Settings for a test client; an HTTPS emulator is verified against its own test CA."""
    if verify is None:
        verify = str(emu.ca_file) if emu is not None and emu.ca_file is not None else True
    transport = TransportOptions(verify=verify, connect_timeout=5.0, read_timeout=10.0)
    return pipeline.Settings(transport=transport, retry=retry, total_timeout=total_timeout)


def new_client(emu: Emulator | None = None, **options: Any) -> pipeline.Client:
    return pipeline.Client(settings(emu, **options))


def site_of(emu: Emulator, **options: Any) -> pipeline.Site:
    return pipeline.Site(url=emu.base_url + "/", system_prompt="", **options)


def provider_for(emu: Emulator) -> type[pipeline.ChatGptEs]:
    """The seed's way to talk to another site running the plugin: subclass and override ``url``."""

    class Local(pipeline.ChatGptEs):
        url = emu.base_url + "/"

    return Local


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def collect(chunks: AsyncIterator[str]) -> list[str]:
    return [chunk async for chunk in chunks]


async def timed(chunks: AsyncIterator[str]) -> list[tuple[float, str]]:
    """Each chunk with the time it reached the caller (seconds since the first ``anext``)."""
    start = time.perf_counter()
    return [(time.perf_counter() - start, chunk) async for chunk in chunks]


async def ask_text(client: pipeline.Client, site: pipeline.Site, messages: Any,
                   trace: pipeline.Trace | None = None) -> str:
    return "".join(await collect(pipeline.ask(client, site, messages, trace=trace if trace is not None
                                              else pipeline.Trace())))


async def generate(provider: type[pipeline.ChatGptEs], client: pipeline.Client, messages: Any,
                   received: list[str] | None = None) -> str:
    """``create_async_generator`` as the seed's callers use it; ``received`` keeps what arrived before an error."""
    into = received if received is not None else []
    async for chunk in provider.create_async_generator("gpt-4o", messages, system_prompt="", client=client):
        into.append(chunk)
    return "".join(into)


@contextlib.contextmanager
def serve_app(app: web.Application) -> Iterator[str]:
    """Serve an aiohttp app on 127.0.0.1 (OS-chosen port) in a daemon thread; yields its base URL."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        box["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}"
        box["stop"] = stop = asyncio.Event()
        box["loop"] = asyncio.get_running_loop()
        ready.set()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    def target() -> None:
        try:
            asyncio.run(main())
        finally:
            ready.set()

    thread = threading.Thread(target=target, name="e2e-test-site", daemon=True)
    thread.start()
    if not ready.wait(10.0) or "url" not in box:
        raise RuntimeError("the test site did not start")
    try:
        yield str(box["url"])
    finally:
        loop: asyncio.AbstractEventLoop = box["loop"]
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(box["stop"].set)
        thread.join(timeout=10.0)


def answer_of(emu: Emulator, messages: Any, **client_options: Any) -> str:
    """One message through ``create_async_generator`` with a fresh client."""

    async def body() -> str:
        async with new_client(emu, **client_options) as client:
            return await generate(provider_for(emu), client, messages)

    return run(body())


def error_of(emu: Emulator, messages: Any, **client_options: Any) -> ChatGptEsError:
    with pytest.raises(ChatGptEsError) as caught:
        answer_of(emu, messages, **client_options)
    return caught.value
