"""A conversation that keeps its identity across turns, on either protocol generation.

The legacy site keeps no history: each message carries the earlier turns in
``wpaicg_chat_history``.  AIPKit keeps the history itself, under the
visitor's ``session_id`` and the thread's ``conversation_uuid``: a
:class:`Chat` keeps both ids, so each turn sends only the new message and the
site remembers the rest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from stages.models import Conversation, Turn
from stages.payload import new_conversation

from .client import Client, Site
from .trace import Trace


class Chat:
    def __init__(self, client: Client, site: Site, conversation: Conversation | None = None) -> None:
        self.client = client
        self.site = site
        self.conversation = conversation or new_conversation()
        self.turns: list[Turn] = []

    def messages(self, text: str) -> list[dict[str, str]]:
        """The whole conversation as OpenAI-style messages, ending with ``text``."""
        return [{"role": t.role, "content": t.text} for t in self.turns] + [{"role": "user", "content": text}]

    async def send(self, text: str, trace: Trace | None = None) -> AsyncIterator[str]:
        """Send one message; yields the answer as it arrives, then remembers both turns."""
        from pipeline import ask

        answer: list[str] = []
        async for chunk in ask(self.client, self.site, self.messages(text), conversation=self.conversation,
                               trace=trace):
            answer.append(chunk)
            yield chunk
        self.turns += [Turn("user", text), Turn("assistant", "".join(answer))]
        self.conversation = self.conversation.advanced(2)

    async def say(self, text: str, trace: Trace | None = None) -> str:
        """Send one message and return the whole answer."""
        return "".join([chunk async for chunk in self.send(text, trace)])
