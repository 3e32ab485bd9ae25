"""OpenAI's chat completion objects and the server-sent event stream that carries them."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import attrs
from aiohttp import web

SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache",
               "X-Accel-Buffering": "no"}


@attrs.frozen
class Completion:
    """What every object of one answer shares: its id, creation time and model name."""

    model: str
    id: str = attrs.field(factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = attrs.field(factory=lambda: int(time.time()))

    def message(self, text: str, usage: dict[str, Any]) -> dict[str, Any]:
        """The ``chat.completion`` object of a whole answer."""
        choice = {"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                  "logprobs": None, "finish_reason": "stop"}
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
                "choices": [choice], "usage": usage, "system_fingerprint": None}

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        """A ``chat.completion.chunk`` with one choice."""
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [choice], "system_fingerprint": None}

    def usage_chunk(self, usage: dict[str, Any]) -> dict[str, Any]:
        """The last chunk of ``stream_options.include_usage``: no choices, the usage."""
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [], "usage": usage, "system_fingerprint": None}


class EventStream:
    """Writes ``data: <json>`` events as they come; each write reaches the client at once."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.response = web.StreamResponse(status=200, headers=SSE_HEADERS)
        self.started = False

    async def start(self) -> None:
        await self.response.prepare(self.request)
        self.started = True

    async def send(self, data: dict[str, Any]) -> None:
        await self.response.write(b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n")

    async def done(self) -> None:
        await self.response.write(b"data: [DONE]\n\n")
        await self.response.write_eof()
