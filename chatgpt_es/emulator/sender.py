"""Puts a :class:`~chatgpt_es.emulator.wire.Reply` on the wire, optionally mutilated by a fault.

``drop`` starts a genuine 200 answer and then closes the connection mid-body (JSON: after half the body,
with a Content-Length promising all of it; SSE: after one or two content events).  ``truncate`` ends the
answer cleanly but early (JSON: the first half of the body with a matching Content-Length; SSE: the first
half of the events, so no end marker arrives).
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from multidict import CIMultiDict

from chatgpt_es.emulator.wire import AnyReply, Reply, SseReply


def _close(request: web.BaseRequest) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()  # close() flushes what was written, then ends the connection


async def _send_plain(request: web.BaseRequest, reply: Reply, mutilation: str | None) -> web.StreamResponse:
    body = reply.body
    if mutilation == "truncate":
        body = body[: len(body) // 2]
    if mutilation != "drop":
        return web.Response(status=reply.status, headers=CIMultiDict(reply.headers), body=body)
    resp = web.StreamResponse(status=reply.status, headers=CIMultiDict(reply.headers))
    resp.content_length = len(body)
    await resp.prepare(request)
    await resp.write(body[: len(body) // 2])
    _close(request)
    return resp


def _events_to_send(reply: SseReply, mutilation: str | None) -> int:
    events = reply.events
    if mutilation == "truncate":
        return max(1, len(events) // 2)
    if mutilation == "drop":
        content_positions = [i for i, event in enumerate(events) if event.content]
        if not content_positions:
            return 1
        return content_positions[min(1, len(content_positions) - 1)] + 1
    return len(events)


async def _send_sse(
    request: web.BaseRequest, reply: SseReply, mutilation: str | None, chunk_delay: float
) -> web.StreamResponse:
    resp = web.StreamResponse(status=reply.status, headers=CIMultiDict(reply.headers))
    await resp.prepare(request)
    count = _events_to_send(reply, mutilation)
    try:
        for index, event in enumerate(reply.events[:count]):
            if index and chunk_delay:
                await asyncio.sleep(chunk_delay)
            await resp.write(event.data)
    except ConnectionError:
        return resp  # the client went away; nothing more to do
    if mutilation == "drop":
        _close(request)
    return resp


async def send_reply(
    request: web.BaseRequest, reply: AnyReply, *, mutilation: str | None = None, chunk_delay: float = 0.0
) -> web.StreamResponse:
    if isinstance(reply, SseReply):
        return await _send_sse(request, reply, mutilation, chunk_delay)
    return await _send_plain(request, reply, mutilation)
