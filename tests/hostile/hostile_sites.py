"""Hostile and broken sites for the hostile-site suite: raw asyncio servers on 127.0.0.1.

Each :class:`Server` runs on its own thread and event loop, on an OS-picked
port, counts the connections it accepted (a canary: a server nothing may
reach asserts it saw none) and how many are still open, and stops when its
``with`` block ends.  A handler gets the parsed request and the raw writer, so
it can answer as no well-behaved server would: drip bytes, never finish the
head, compress a gigabyte, keep the stream open after the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import attrs

import pipeline
from stages.transport import TransportOptions


@attrs.frozen
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Request, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = [*lines[0].split(" "), "", ""][:3]
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
    return Request(method, target, headers, body)


class Server:
    """``with Server(handler) as server:`` — ``server.url``, ``server.connections``, ``server.open``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.open = 0
        self.requests: list[Request] = []
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.port = 0
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        try:
            while (request := await read_request(reader)) is not None:
                self.requests.append(request)
                await self.handler(request, writer)
                if writer.is_closing():
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.open -= 1
            writer.close()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()
            server.close()
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()

    def __enter__(self) -> Server:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def wait_until(self, test: Callable[[Server], bool], seconds: float = 10.0) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if test(self):
                return True
            time.sleep(0.02)
        return test(self)


def head(status: int = 200, content_type: str = "text/html; charset=UTF-8", **extra: str) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in extra.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def whole(body: bytes, status: int = 200, content_type: str = "text/html; charset=UTF-8", **extra: str) -> bytes:
    return head(status, content_type, content_length=str(len(body)), **extra) + body


def chat_page(ajax_url: str | None) -> bytes:
    """A legacy (wpaicg) chat page naming ``ajax_url`` as its endpoint."""
    script = "" if ajax_url is None else f'<script>var wpaicgParams = {{"ajax_url":"{ajax_url}"}};</script>'
    return (f'<html><body><div class="wpaicg-chat-shortcode" data-nonce="1111111111" data-post-id="1"></div>'
            f"{script}</body></html>").encode()


def answer_json(text: str) -> bytes:
    import json

    return json.dumps({"status": "success", "data": text}).encode()


def legacy_site(answer: Callable[[Request, asyncio.StreamWriter], Awaitable[None]],
                ajax_url: str | None = None) -> Handler:
    """GET → the chat page; POST → ``answer``."""

    async def handle(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.method == "GET" and not request.target.startswith("/wp-admin"):
            writer.write(whole(chat_page(ajax_url)))
            await writer.drain()
        else:
            await answer(request, writer)

    return handle


async def json_answer(request: Request, writer: asyncio.StreamWriter, text: str = "Hola") -> None:
    writer.write(whole(answer_json(text), content_type="application/json"))
    await writer.drain()


def client(**transport: Any) -> pipeline.Client:
    """A client with short timeouts and no retries (``transport``: TransportOptions fields)."""
    options = {"connect_timeout": 5.0, "read_timeout": 10.0, **transport}
    total = options.pop("total_timeout", 30.0)
    return pipeline.Client(pipeline.Settings(transport=TransportOptions(**options), total_timeout=total,
                                             retry=pipeline.RetryPolicy(attempts=1)))


def site(url: str, **extra: Any) -> pipeline.Site:
    return pipeline.Site(url=url + "/", system_prompt="", **extra)


async def ask(c: pipeline.Client, s: pipeline.Site, text: str = "Hi",
              trace: pipeline.Trace | None = None) -> str:
    return "".join([chunk async for chunk in pipeline.ask(c, s, [{"role": "user", "content": text}],
                                                          trace=trace)])


@contextlib.contextmanager
def servers(*handlers: Handler) -> Iterator[list[Server]]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(Server(h)) for h in handlers]
