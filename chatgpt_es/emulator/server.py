"""App assembly and the ways to run it: as a coroutine context, in a thread, or as a foreground server."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from aiohttp import web

from chatgpt_es.background import InThread, until_stopped
from chatgpt_es.emulator.aipkit import handle_aipkit
from chatgpt_es.emulator.config import EmulatorConfig
from chatgpt_es.emulator.faults import MUTILATING, REPLACING, fault_reply
from chatgpt_es.emulator.legacy import handle_legacy
from chatgpt_es.emulator.pages import challenge_reply
from chatgpt_es.emulator.php import form_data
from chatgpt_es.emulator.rest import handle_rest, rest_path
from chatgpt_es.emulator.sender import send_reply
from chatgpt_es.emulator.state import Clock, Emulator
from chatgpt_es.emulator.tls import make_server_context
from chatgpt_es.emulator.wire import AjaxRequest, AnyReply

AJAX_PATH = "/wp-admin/admin-ajax.php"
CONTROL_PREFIX = "/__emulator__/"
POST_MAX_SIZE = 8 * 1024 * 1024  # PHP's default post_max_size


async def _ajax_request(request: web.Request) -> AjaxRequest:
    """PHP's view of the request; a body PHP could not parse simply yields no ``$_POST`` fields."""
    form: dict[str, str] = {}
    if request.content_type == "multipart/form-data":
        form = form_data(await request.read(), request.headers.get("Content-Type", "")) or {}
    else:
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            for name, value in (await request.post()).items():
                if isinstance(value, str):
                    form[name] = value
    return AjaxRequest(
        method=request.method,
        path=request.path_qs,
        query=dict(request.query.items()),
        form=form,
        referer=request.headers.get("Referer"),
        origin=request.headers.get("Origin"),
    )


class _Site:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await self._control(request)
        emu, config = self.emu, self.emu.config
        emu.counters.request(request.method)
        if config.latency:
            await asyncio.sleep(config.latency)
        if config.cloudflare:
            return await self._send(request, challenge_reply(emu.base_url))
        route = rest_path(request, config.plain_permalinks) if config.generation == "aipkit" else None
        if route is not None:
            return await self._send(request, await handle_rest(emu, request, route))
        if request.path != AJAX_PATH:
            emu.counters.page()
            return await self._send(request, emu.pages.render(emu.base_url, emu.current_nonce()))
        ajax = await _ajax_request(request)
        emu.counters.action(ajax.fields.get("action", ""))
        fault = emu.faults.draw()
        reply: AnyReply
        if fault in REPLACING:
            reply = fault_reply(fault, config.retry_after)
        elif config.generation == "legacy":
            reply = handle_legacy(emu, ajax, nonce_fault=fault == "nonce")
        else:
            reply = handle_aipkit(emu, ajax, nonce_fault=fault == "nonce")
        outcome = reply.outcome
        if (fault == "nonce" and outcome == "nonce_rejected") or fault in MUTILATING:
            outcome = f"fault_{fault}"
        mutilation = fault if fault in MUTILATING else None
        return await self._send(request, reply, outcome=outcome, mutilation=mutilation)

    async def _send(
        self,
        request: web.Request,
        reply: AnyReply,
        *,
        outcome: str | None = None,
        mutilation: str | None = None,
    ) -> web.StreamResponse:
        self.emu.counters.outcome(outcome or reply.outcome)
        delay = self.emu.config.chunk_delay
        return await send_reply(request, reply, mutilation=mutilation, chunk_delay=delay)

    async def _control(self, request: web.Request) -> web.StreamResponse:
        name = request.path[len(CONTROL_PREFIX) :]
        if name == "counters" and request.method == "GET":
            return web.json_response(self.emu.counters.snapshot())
        if name == "reset" and request.method == "POST":
            self.emu.counters.reset()
            return web.json_response({"reset": True})
        return web.json_response({"error": "unknown emulator control"}, status=404)


def build_app(emu: Emulator) -> web.Application:
    app = web.Application(client_max_size=POST_MAX_SIZE)
    app.router.add_route("*", "/{tail:.*}", _Site(emu).handle)
    return app


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@asynccontextmanager
async def running_emulator(config: EmulatorConfig, *, clock: Clock | None = None) -> AsyncIterator[Emulator]:
    """Serve the emulated site on the current event loop until the context exits."""
    emu = Emulator(config, clock)
    runner = web.AppRunner(build_app(emu), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        with tempfile.TemporaryDirectory(prefix="chatgpt-es-emulator-") as tmp:
            ssl_context = None
            if config.tls:
                ssl_context, emu.ca_file = make_server_context(Path(tmp))
            site = web.TCPSite(runner, config.host, config.port, ssl_context=ssl_context)
            await site.start()
            port = runner.addresses[0][1]
            emu.base_url = f"{'https' if config.tls else 'http'}://{_url_host(config.host)}:{port}"
            yield emu
    finally:
        await runner.cleanup()


class EmulatorThread(InThread[Emulator]):
    """Runs the emulator on its own event loop in a daemon thread; ``with`` yields the :class:`Emulator`."""

    name = "chatgpt-es-emulator"

    def __init__(
        self, config: EmulatorConfig | None = None, *, clock: Clock | None = None, start_timeout: float = 15.0
    ) -> None:
        super().__init__(start_timeout)
        self.config = config if config is not None else EmulatorConfig()
        self.clock = clock

    def open(self) -> AbstractAsyncContextManager[Emulator]:
        return running_emulator(self.config, clock=self.clock)


async def _serve(config: EmulatorConfig) -> None:
    async with running_emulator(config) as emu:
        print(emu.base_url, flush=True)
        if emu.ca_file is not None:
            print(f"ca-file: {emu.ca_file}", flush=True)
        await until_stopped()


def serve_forever(config: EmulatorConfig) -> None:
    """For the CLI: print the base URL (then ``ca-file: <path>`` with TLS), serve until SIGINT/SIGTERM."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(config))
