"""Fixtures that start the local AI Power emulator (chatgpt_es.emulator) and talk to it over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from hypothesis import settings

from chatgpt_es.emulator import Emulator, EmulatorConfig, EmulatorThread

# Property tests: no per-example deadline (a shared 2-core machine is noisy); in CI the examples are
# derandomized, so a run is reproducible, while local runs keep exploring new ones.
settings.register_profile("default", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LEGACY_CAPTURES = FIXTURES / "real"
AIPKIT_CAPTURES = FIXTURES / "real-aipkit"
AJAX = "/wp-admin/admin-ajax.php"


class FakeClock:
    """A settable clock for nonce ticks and cache expiry (read from the emulator's thread)."""

    def __init__(self, now: float = 1_795_480_540.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@attrs.frozen
class Answer:
    """One HTTP exchange as the client saw it, including partial bodies of broken answers."""

    status: int
    headers: Mapping[str, str]
    header_list: tuple[tuple[str, str], ...]
    body: bytes
    arrivals: tuple[tuple[float, bytes], ...]  # (seconds since the request was sent, bytes read)
    error: str | None  # client-side exception name when the body could not be read completely

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)


def multipart(fields: list[tuple[str, str]], boundary: str = "----WebKitFormBoundaryLocalTest0001") -> bytes:
    """A body the way Chrome's FormData serialises it."""
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields
    ]
    return ("".join(parts) + f"--{boundary}--\r\n").encode()


MULTIPART_TYPE = "multipart/form-data; boundary=----WebKitFormBoundaryLocalTest0001"


async def _exchange(
    method: str, url: str, body: bytes | None, headers: dict[str, str], ssl: Any
) -> Answer:
    arrivals: list[tuple[float, bytes]] = []
    error: str | None = None
    start = time.perf_counter()
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.request(method, url, data=body, headers=headers, ssl=ssl) as resp,
    ):
        try:
            async for chunk in resp.content.iter_any():
                arrivals.append((time.perf_counter() - start, chunk))
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
            error = type(exc).__name__
        return Answer(
            status=resp.status,
            headers=dict(resp.headers),
            header_list=tuple(resp.headers.items()),
            body=b"".join(chunk for _, chunk in arrivals),
            arrivals=tuple(arrivals),
            error=error,
        )


def http(
    method: str,
    url: str,
    *,
    form: list[tuple[str, str]] | dict[str, str] | None = None,
    as_multipart: bool = False,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    ssl: Any = None,
) -> Answer:
    """A blocking request from the test thread (its own event loop; the emulator runs on another)."""
    sent_headers = dict(headers or {})
    if form is not None:
        fields = list(form.items()) if isinstance(form, dict) else list(form)
        if as_multipart:
            body = multipart(fields)
            sent_headers.setdefault("Content-Type", MULTIPART_TYPE)
        else:
            from urllib.parse import urlencode

            body = urlencode(fields).encode()
            sent_headers.setdefault("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
    return asyncio.run(_exchange(method, url, body, sent_headers, ssl))


@attrs.frozen
class SseMessage:
    event: str | None
    id: str | None
    data: str


def parse_sse(body: bytes) -> list[SseMessage]:
    """Splits an SSE body into events; comment-only blocks (the AIPKit preamble) are skipped."""
    messages = []
    for block in body.decode("utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if line.startswith(":") or not line:
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "data" in fields:
            messages.append(SseMessage(fields.get("event"), fields.get("id"), fields["data"]))
    return messages


def as_served(text: str, emu: Emulator, capture_nonce: str, capture_origin: str) -> str:
    """A capture's text as an emulated site would serve it: its nonce, its origin in every spelling."""
    from urllib.parse import quote

    text = text.replace(capture_nonce, emu.current_nonce())
    for old, new in (
        (capture_origin, emu.base_url),
        (capture_origin.replace("/", "\\/"), emu.base_url.replace("/", "\\/")),
        (quote(capture_origin, safe=""), quote(emu.base_url, safe="")),
    ):
        text = text.replace(old, new)
    return text


def mask_error_ids(body: bytes) -> bytes:
    return re.sub(rb"id: err-\d+\n", b"id: err-T\n", body)


def load_exchange(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def chat_form(emu: Emulator, message: str, history: str = "[]", **extra: str) -> dict[str, str]:
    """A legacy (wpaicg) chat message form as the shortcode's page posts it; ``extra`` overrides fields."""
    return {
        "_wpnonce": emu.current_nonce(), "post_id": "4", "url": emu.base_url,
        "action": "wpaicg_chat_shortcode_message", "message": message, "bot_id": "0",
        "chatbot_identity": "shortcode", "wpaicg_chat_history": history,
        "wpaicg_chat_client_id": "Lc9xQ2vT7k", **extra,
    }


StartEmulator = Callable[..., Emulator]


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def start_emulator() -> Iterator[StartEmulator]:
    """``start_emulator(clock=None, **EmulatorConfig fields)`` -> a running Emulator, stopped at teardown."""
    with contextlib.ExitStack() as stack:

        def start(clock: Callable[[], float] | None = None, **config: Any) -> Emulator:
            return stack.enter_context(EmulatorThread(EmulatorConfig(**config), clock=clock))

        yield start


@pytest.fixture
def legacy_site(start_emulator: StartEmulator) -> Emulator:
    return start_emulator()


@pytest.fixture
def aipkit_site(start_emulator: StartEmulator, fake_clock: FakeClock) -> Emulator:
    return start_emulator(clock=fake_clock, generation="aipkit")
