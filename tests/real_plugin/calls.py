"""How the tests talk to the stand: the public API (a ``pipeline.ChatGptEs`` subclass with ``url``,
``pipeline.Chat``, ``pipeline.Client``) and the ``chatgpt-es`` command line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs

import pipeline

T = TypeVar("T")
_SCRIPT = Path(sys.executable).with_name("chatgpt-es")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-c", "from chatgpt_es.cli import main; main()"]


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def provider_for(page_url: str) -> type[pipeline.ChatGptEs]:
    """The seed's way to another site running the plugin: subclass and override ``url``."""

    class OnStand(pipeline.ChatGptEs):
        url = page_url

    return OnStand


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def timed_answer(page_url: str, messages: list[dict[str, str]],
                       trace: pipeline.Trace | None = None) -> list[tuple[float, str]]:
    """Each chunk of ``create_async_generator`` with the wall-clock time it reached the caller."""
    async with pipeline.Client() as client:
        return [(time.time(), chunk) async for chunk in provider_for(page_url).create_async_generator(
            "gpt-4o", messages, system_prompt="", client=client, trace=trace)]


async def answer(page_url: str, text: str, trace: pipeline.Trace | None = None) -> str:
    return "".join(chunk for _, chunk in await timed_answer(page_url, user(text), trace))


async def converse(page_url: str, turns: Sequence[str], style: str, history: str = "auto") -> list[str]:
    """The answers to ``turns``, said one after the other in one conversation with one client.

    ``chat``: :class:`pipeline.Chat`; ``provider``: ``create_async_generator`` with the whole history each time.
    ``history``: the legacy strategy (``auto``, ``structured``, ``inline``).
    """
    provider = provider_for(page_url)
    answers: list[str] = []
    async with pipeline.Client() as client:
        chat = pipeline.Chat(client, attrs.evolve(provider.site(system_prompt=""), history=history))
        messages: list[dict[str, str]] = []
        for turn in turns:
            if style == "chat":
                answers.append(await chat.say(turn))
                continue
            messages.append({"role": "user", "content": turn})
            chunks = [c async for c in provider.create_async_generator("gpt-4o", messages, system_prompt="",
                                                                        client=client, history=history)]
            answers.append("".join(chunks))
            messages.append({"role": "assistant", "content": answers[-1]})
    return answers


def detected_protocol(trace: pipeline.Trace) -> str:
    """The protocol generation the extract stage reported (``legacy``, ``aipkit`` or ``unknown``)."""
    return str(next(record.output.protocol for record in trace.records if record.stage == "extract"))


def failures(trace: pipeline.Trace) -> list[str]:
    """The error type of every stage that failed, in order."""
    return [type(record.error).__name__ for record in trace.records if record.error is not None]


def cli(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CHATGPT_ES_LOG"}
    env.update(NO_COLOR="1", PYTHONIOENCODING="utf-8")
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, encoding="utf-8", env=env,
                          timeout=timeout, check=False)
