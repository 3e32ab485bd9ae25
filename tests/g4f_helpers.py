"""Helpers of tests/test_g4f_provider.py: g4f's own clients asking a provider, the way g4f users do.

Imported only by that module, after it has set up g4f's environment and made sure g4f is importable.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from g4f.client import AsyncClient, Client

from chatgpt_es.emulator import Emulator
from chatgpt_es.g4f import ChatGptEs


def local(emu: Emulator, system_prompt: str = "") -> type[ChatGptEs]:
    """The seed's way to reach another site: a subclass with its ``url`` (and no system prompt, for exact echoes)."""
    return type("Local", (ChatGptEs,), {"url": emu.base_url + "/", "SYSTEM_PROMPT": system_prompt})


def async_answer(provider: Any, messages: list[dict[str, str]], **kwargs: Any) -> str:
    async def body() -> str:
        completion = await AsyncClient(provider=provider).chat.completions.create(messages=messages, **kwargs)
        return str(completion.choices[0].message.content)

    return asyncio.run(body())


def async_chunks(provider: Any, messages: list[dict[str, str]], **kwargs: Any) -> list[tuple[float, str]]:
    """Each streamed piece with the time it reached the caller."""
    async def body() -> list[tuple[float, str]]:
        start, pieces = time.perf_counter(), []
        async for chunk in AsyncClient(provider=provider).chat.completions.create(messages=messages, stream=True,
                                                                                  **kwargs):
            if chunk.choices[0].delta.content:
                pieces.append((time.perf_counter() - start, chunk.choices[0].delta.content))
        return pieces

    return asyncio.run(body())


def sync_answer(provider: Any, messages: list[dict[str, str]], *, stream: bool = False, **kwargs: Any) -> list[str]:
    completions = Client(provider=provider).chat.completions
    if stream:
        return [c.choices[0].delta.content for c in completions.create(messages=messages, stream=True, **kwargs)
                if c.choices[0].delta.content]
    return [str(completions.create(messages=messages, **kwargs).choices[0].message.content)]


def ticks_while(provider: Any, messages: list[dict[str, str]]) -> tuple[str, int]:
    """The answer (or the ValueError raised) and how often a task ticking every 10 ms ran meanwhile."""
    async def body() -> tuple[str, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        try:
            completion = await AsyncClient(provider=provider).chat.completions.create(messages=messages)
        except ValueError as error:
            return f"{type(error).__name__}: {error}", ticks
        finally:
            task.cancel()
        return str(completion.choices[0].message.content), ticks

    return asyncio.run(body())
