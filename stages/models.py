"""The small frozen value classes that flow between the stages.

Each stage takes some of these and returns one of them; none holds a
connection, a clock or a random generator.  That is what lets every stage be
replayed from saved fixtures and property-tested.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from .redact import redact_headers, redact_url

Role = Literal["user", "assistant"]


def _shown_url(url: str) -> str:
    """How a URL appears in a repr: its credentials, if any, masked (the value itself is kept whole)."""
    return repr(redact_url(url))

Headers = tuple[tuple[str, str], ...]


def header(headers: Headers, name: str, default: str = "") -> str:
    """The first value of a header, case-insensitively (``default`` when absent)."""
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return default


@attrs.frozen
class Turn:
    """One earlier turn of the conversation."""

    role: Role
    text: str


@attrs.frozen
class Prompt:
    """Output of the prompt stage: what the caller said, in the site's terms."""

    system: str
    #: earlier turns, oldest first (the last user message is not among them)
    turns: tuple[Turn, ...]
    #: the last user message, as the caller wrote it
    message: str
    #: what goes in the ``message`` field: the system prompt, a space, the message (as the seed does)
    text: str
    #: the whole conversation in one text, as the seed formats a prompt ("User: …\\nAssistant: …")
    inline_text: str
    #: earlier turns in the legacy site's history format ("Human: …" / "AI: …"), made safe for its decoder
    history_lines: tuple[str, ...]
    #: how many characters of the history had to be replaced to survive the site's decoder
    replaced_chars: int
    #: legacy: how the earlier turns travel, ``structured`` (``wpaicg_chat_history``) or ``inline`` (in the message)
    history: Literal["structured", "inline"] = "structured"
    #: images of the last user message (AIPKit ``image_inputs``)
    images: tuple[Image, ...] = ()


@attrs.frozen
class Image:
    """An image of the caller's last message, checked: its declared type and its base64 bytes."""

    mime_type: str
    base64_data: str = attrs.field(repr=lambda data: f"<{len(data)} base64 chars>")


@attrs.frozen
class Page:
    """Output of the fetch stage."""

    url: str = attrs.field(repr=_shown_url)
    status: int
    headers: Headers
    text: str

    @property
    def content_type(self) -> str:
        return header(self.headers, "content-type")


@attrs.frozen
class Extracted:
    """One value read from the page, with the rule that found it and where."""

    value: str
    #: rule name, e.g. ``wpaicg_container``, ``seed_any_nonce``; ``default`` when nothing matched
    rule: str
    #: character offset in the page where the value was found (None for ``default``)
    position: int | None = None

    @property
    def is_default(self) -> bool:
        return self.rule == "default"


Protocol = Literal["legacy", "aipkit", "unknown", "rest"]


@attrs.frozen
class ChatBox:
    """Output of the extract stage: everything the page says about its chat box."""

    protocol: Protocol
    #: which markup matched: the container's class (or None when the page has no chat box)
    markup: str | None
    nonce: Extracted
    post_id: Extracted
    page_url: str | None = None
    bot_id: str | None = None
    box_type: str | None = None
    stream: bool | None = None
    ajax_url: str | None = None
    containers: int = 0
    #: the box's title (AIPKit ``headerName``; legacy: none)
    name: str | None = None
    #: AIPKit ``enableOpenAIConversationState``: the page's script sends ``previous_openai_response_id``
    conversation_state: bool = False
    #: every chat box of the page, in document order (each with ``boxes=()``); this one is among them
    boxes: tuple[ChatBox, ...] = ()
    #: the page's REST API root (``Link: <…>; rel="https://api.w.org/"``), when it advertises one
    rest_root: str | None = None
    #: the site owner's REST API key: set only on a box chosen for the REST protocol, never shown
    api_key: str | None = attrs.field(default=None, repr=False)

    @property
    def used_defaults(self) -> bool:
        return self.nonce.is_default or self.post_id.is_default

    @property
    def bot_number(self) -> str:
        """The bot id to send: the page's, when it is a number; else ``0`` (the site-wide bot)."""
        return self.bot_id if self.bot_id and self.bot_id.isdigit() else "0"


@attrs.frozen
class Conversation:
    """Who is talking: the ids a browser keeps across the turns of one chat.

    ``client_id`` is the legacy plugin's ``wpaicg_chat_client_id``;
    ``session_id`` and ``conversation_uuid`` are AIPKit's guest UUID and thread
    UUID, under which the AIPKit server keeps the history itself.
    """

    client_id: str
    session_id: str
    conversation_uuid: str
    #: how many turns the site already holds for this conversation (AIPKit keeps them server-side)
    server_turns: int = 0
    #: AIPKit Responses mode with conversation state: the id of the previous answer, sent with the next message
    previous_response_id: str | None = None

    def advanced(self, turns: int) -> Conversation:
        """The same conversation after the site stored ``turns`` more turns."""
        return Conversation(self.client_id, self.session_id, self.conversation_uuid, self.server_turns + turns,
                            self.previous_response_id)


@attrs.frozen
class Stamp:
    """The time and randomness a request needs, passed in so that payload building stays pure."""

    now_ms: int
    token: str  # a few random base36 characters


@attrs.frozen
class HttpRequest:
    """Output of the payload stage: one HTTP request to make."""

    method: Literal["GET", "POST"]
    url: str = attrs.field(repr=_shown_url)
    #: ``message`` (legacy chat POST), ``cache`` / ``stream`` (AIPKit), ``nonce`` (AIPKit nonce refresh)
    purpose: str
    form: tuple[tuple[str, str], ...] = ()
    query: tuple[tuple[str, str], ...] = ()
    encoding: Literal["urlencoded", "multipart", "json"] = "urlencoded"
    #: headers of this request (an Authorization value never shows in a repr)
    headers: Headers = attrs.field(default=(), repr=lambda h: repr(redact_headers(h)))
    #: the body of a ``json`` request, as text
    json_body: str = ""

    def field(self, name: str) -> str | None:
        for key, value in self.form + self.query:
            if key == name:
                return value
        return None


@attrs.frozen
class AnswerHead:
    """Status line and headers of an answer; the body arrives separately, in chunks."""

    url: str = attrs.field(repr=_shown_url)
    status: int
    headers: Headers

    @property
    def content_type(self) -> str:
        return header(self.headers, "content-type").lower()


@attrs.frozen
class Text:
    """Parse outcome: a piece of the answer's text, to hand to the caller."""

    text: str


@attrs.frozen
class FollowUp:
    """Parse outcome: the protocol needs another request (AIPKit: read the cached message's stream)."""

    cache_key: str


@attrs.frozen
class NewNonce:
    """Parse outcome: the site handed out a fresh nonce (AIPKit's nonce endpoint)."""

    nonce: str


@attrs.frozen
class Notice:
    """Parse outcome: something worth logging that is not text (a warning, a named event)."""

    kind: str
    detail: str


@attrs.frozen
class Citations:
    """Parse outcome: the sources an answer cites (AIPKit ``citations``), as the site sent them."""

    items: tuple[dict[str, Any], ...]
    #: the ``done`` event's merged list, which replaces what the ``citations`` events said
    final: bool = False


@attrs.frozen
class ResponseId:
    """Parse outcome: the id of the answer in the site's model (AIPKit ``openai_response_id``)."""

    id: str


Outcome = Text | FollowUp | NewNonce | Notice | Citations | ResponseId
