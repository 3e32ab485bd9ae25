"""The two implementations under test, pointed at the local site and driven the same way.

* ``Ours``: a subclass of :class:`pipeline.ChatGptEs` whose ``url`` is the local site, with a fresh
  :class:`pipeline.Client` for each scenario (``reset``), so a cold token cache is measured where it matters.
* ``Seed``: a subclass of ``g4f==0.5.2.0``'s ``g4f.Provider.ChatGptEs`` with ``url`` and ``api_endpoint`` on
  the local site.

Both get the same system prompt (none: ours ``system_prompt=""``, the seed ``SYSTEM_PROMPT = ""``), so both
send the same ``message`` field and get the same answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar, Protocol, cast

import pipeline

MODEL = "gpt-4o"


def messages(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


class Contender(Protocol):
    name: str

    async def reset(self) -> None:
        """Forget everything cached (ours: a new client); the seed caches nothing."""

    async def close(self) -> None: ...

    def stream(self, text: str) -> AsyncIterator[str]:
        """The answer to a one-message conversation, as the provider yields it."""
        ...


class Ours:
    name = "ours"

    def __init__(self, base: str) -> None:
        class Local(pipeline.ChatGptEs):
            url: ClassVar[str] = base + "/"

        self.provider = Local
        self.client = pipeline.Client()

    async def reset(self) -> None:
        await self.client.aclose()
        self.client = pipeline.Client()

    async def close(self) -> None:
        await self.client.aclose()

    def stream(self, text: str) -> AsyncIterator[str]:
        return self.provider.create_async_generator(MODEL, messages(text), system_prompt="", client=self.client)


class Seed:
    name = "g4f"

    def __init__(self, base: str) -> None:
        from g4f.Provider import ChatGptEs

        class Local(ChatGptEs):  # type: ignore[misc]  # g4f ships no type information
            url = base + "/"
            api_endpoint = base + "/wp-admin/admin-ajax.php"
            SYSTEM_PROMPT = ""

        self.provider: Any = Local

    async def reset(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def stream(self, text: str) -> AsyncIterator[str]:
        return cast(AsyncIterator[str], self.provider.create_async_generator(MODEL, messages(text)))


def seed_version() -> str:
    from importlib.metadata import version

    return version("g4f")


def check_answer(contender: Contender, text: str, answer: str) -> None:
    """The site echoes the message: ``Echo: <message>`` (the seed's also counts its own history turn)."""
    if not (answer.startswith("Echo:") and text in answer):
        raise AssertionError(f"{contender.name}: unexpected answer {answer[:120]!r} to {text[:60]!r}")
