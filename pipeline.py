"""The orchestrator: the seed's flowchart, one stage after another.

    check curl_cffi → format the prompt → open the curl_cffi session →
    get nonce and post_id (fetch + extract) → build the POST data →
    send → parse → yield the text

Each stage is a function in :mod:`stages`; this module only chains them,
records them in a :class:`~chatgpt_es.runtime.trace.Trace`, retries what is
transient, and renews a refused nonce once.  The protocol generation (legacy
``wpaicg`` or AIPKit) is data chosen after extraction, so both run through
the same loop: a protocol whose answer asks for a follow-up request (AIPKit's
cached message → its stream) simply goes round the send/parse loop again.

It is longer than the project's other modules on purpose: the orchestrator, the conversation object
(:class:`Chat`) and the seed's provider (:class:`ChatGptEs`) live together, where the design card puts
them, and every typed error is re-exported here (``pipeline.ChatGptEsError`` and its family) — a quarter
of the file is those names.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import attrs

from chatgpt_es.runtime.choices import CHOICES, with_choices
from chatgpt_es.runtime.client import Client, RetryPolicy, Settings, Site
from chatgpt_es.runtime.held import held_key, turns_of
from chatgpt_es.runtime.logs import get_logger
from chatgpt_es.runtime.options import CLIENT_OPTIONS, settings_from
from chatgpt_es.runtime.resilience import bounded, deadline_in, retrying, within
from chatgpt_es.runtime.trace import StageRecord, Trace
from stages.boxes import choose_box
from stages.errors import (
    AnswerFormatError,
    BadStatusError,
    BotNotFoundError,
    CacheMissError,
    ChatGptEsError,
    CloudflareChallengeError,
    ConsentRequiredError,
    DeadlineExceededError,
    EmbedNotAvailableError,
    EventLoopError,
    ImagesNotSupportedError,
    InvalidArgumentError,
    InvalidImageError,
    InvalidMessagesError,
    InvalidUrlError,
    MissingRequirementsError,
    ModelFailedError,
    NoChatBoxError,
    NonceRejectedError,
    ProviderFailedError,
    QuotaExceededError,
    RateLimitedError,
    ResponseError,
    RestApiDisabledError,
    RestApiError,
    RestBotUnknownError,
    RestMessagesRejectedError,
    ServerError,
    SiteKeyRejectedError,
    SiteRefusedError,
    StreamInterruptedError,
    TokenLimitError,
    TooLargeError,
    TransportError,
    UnknownActionError,
)
from stages.models import ChatBox, Conversation, FollowUp, HttpRequest, Prompt, Text, Turn
from stages.pagefacts import fallback_refused, no_chat_box_error
from stages.parse import parse_answer
from stages.payload import build_payload, new_conversation, new_stamp, protocol_for
from stages.prompt import content_text, format_prompt
from stages.rest import refuse_images
from stages.send import send_request
from stages.transport import require_curl_cffi

__all__ = [
    "AnswerFormatError",
    "BadStatusError",
    "BotNotFoundError",
    "CacheMissError",
    "Chat",
    "ChatGptEs",
    "ChatGptEsError",
    "Client",
    "CloudflareChallengeError",
    "ConsentRequiredError",
    "DeadlineExceededError",
    "EmbedNotAvailableError",
    "EventLoopError",
    "ImagesNotSupportedError",
    "InvalidArgumentError",
    "InvalidImageError",
    "InvalidMessagesError",
    "InvalidUrlError",
    "MissingRequirementsError",
    "ModelFailedError",
    "NoChatBoxError",
    "NonceRejectedError",
    "ProviderFailedError",
    "QuotaExceededError",
    "RateLimitedError",
    "ResponseError",
    "RestApiDisabledError",
    "RestApiError",
    "RestBotUnknownError",
    "RestMessagesRejectedError",
    "RetryPolicy",
    "ServerError",
    "Settings",
    "Site",
    "SiteKeyRejectedError",
    "SiteRefusedError",
    "StageRecord",
    "StreamInterruptedError",
    "TokenLimitError",
    "TooLargeError",
    "Trace",
    "TransportError",
    "UnknownActionError",
    "ask",
    "exchange",
]

log = get_logger()
#: a message's content: text, or OpenAI-style parts (text and ``image_url``)
Content = str | list[dict[str, Any]]
#: shared clients (each with its own session) kept per event loop; the least recently used one is closed
MAX_SHARED_CLIENTS = 8


async def ask(client: Client, site: Site, messages: Any, *, conversation: Conversation | None = None,
              trace: Trace | None = None) -> AsyncIterator[str]:
    """One message through every stage; yields the answer's text as it arrives.

    A failure is sent again only when the retry policy says it can succeed (see :func:`retrying`), and
    never once text reached the caller: the error then carries that text as ``partial_text``.
    """
    trace = trace if trace is not None else Trace(keep=False)  # nobody reads it: it only feeds log lines
    require_curl_cffi()                                                        # Проверка curl_cffi
    prompt = trace.step("prompt", format_prompt, messages, site.system_prompt, site.history)  # Форматирование промпта
    if site.api_key:  # known before any request: the REST API takes no images
        refuse_images(prompt)
    conversation = conversation or new_conversation()
    # Создание сессии curl_cffi: the client opens one session on first use and reuses it (Client.session)
    deadline = deadline_in(client.settings.total_timeout)

    def attempt(delivered: list[str]) -> AsyncIterator[str]:
        return _renewing_nonce(client, site, prompt, conversation, trace, deadline, delivered)

    async for text in retrying(attempt, client.settings.retry, deadline, trace):
        yield text


async def _renewing_nonce(client: Client, site: Site, prompt: Prompt, conversation: Conversation,
                          trace: Trace, deadline: float | None, delivered: list[str]) -> AsyncIterator[str]:
    """:func:`exchange`, sent once more with a fresh nonce when the site refused the cached one.

    When the page had no chat box and the site refused the fallback values, :class:`NoChatBoxError`.
    """
    box = client.cached_box(site, trace)  # a cached box needs no deadline timer
    if box is None:
        box = await bounded(deadline, client.chat_box(site, trace))             # Получение nonce и post_id
    box = _chosen(box, site, trace)                                             # the bot; the REST API
    try:
        async for text in exchange(client, site, box, prompt, conversation, trace, deadline):
            yield text
        return
    except ResponseError as error:
        _if_no_chat_box(client, site, box, error)
        if not isinstance(error, NonceRejectedError) or delivered:
            raise  # after text reached the caller, sending again would repeat it (ask adds it as partial_text)
        rejected = error
        log.info("nonce_rejected", site=site.url, rule=box.nonce.rule, protocol=box.protocol)
    renewed = await bounded(deadline, client.renew_nonce(site, box, trace))
    if renewed.nonce.is_default:
        raise rejected  # the page has no nonce at all: the seed's fallback value would only be refused again
    renewed = _chosen(renewed, site, trace)
    try:
        async for text in exchange(client, site, renewed, prompt, conversation, trace, deadline):
            yield text
    except ResponseError as error:
        _if_no_chat_box(client, site, renewed, error)
        raise


def _if_no_chat_box(client: Client, site: Site, box: ChatBox, error: ResponseError) -> None:
    """:class:`NoChatBoxError` when the page had no chat box and the site refused the fallback values."""
    if fallback_refused(box, error):
        raise no_chat_box_error(site.url, client.page_facts.get(site.url), error) from error


def _chosen(box: ChatBox, site: Site, trace: Trace) -> ChatBox:
    """The box of the bot the caller asked for, on the REST API when they gave its key (a stage when chosen)."""
    if site.bot_id is None and not site.api_key:
        return box
    return trace.step("choose", choose_box, box, site.bot_id, site.api_key)


async def exchange(client: Client, site: Site, box: ChatBox, prompt: Prompt, conversation: Conversation,
                   trace: Trace, deadline: float | None = None) -> AsyncIterator[str]:
    """Payload → send → parse, as often as the protocol asks (AIPKit: twice)."""
    protocol = protocol_for(box)
    endpoint = client.endpoint(site, box, trace)  # the endpoint policy (stages.endpoint), in the trace
    settings = client.settings.transport
    request: HttpRequest | None = trace.step(                                         # Подготовка данных
        "payload", build_payload, prompt, box, conversation, endpoint, new_stamp(), client.page_url(site))
    while request is not None:
        answer = await bounded(deadline, trace.astep(                                   # Отправка запроса
            "send", send_request, client.session, request, client.page_url(site), settings, new_stamp()))
        follow: FollowUp | None = None
        outcomes = parse_answer(protocol, request.purpose, answer.head, answer.chunks(), settings.max_answer_bytes)
        try:
            async for outcome in within(deadline, trace.parse(outcomes)):              # Обработка ответа
                if isinstance(outcome, Text):
                    yield outcome.text                                                   # Выдача результата
                elif isinstance(outcome, FollowUp):
                    follow = outcome
        finally:  # (also when the reader never started: a deadline already past, a caller gone)
            await answer.aclose()
        request = None
        if follow is not None and protocol.follow_up is not None:                      # AIPKit: read the stream
            request = trace.step("payload", protocol.follow_up, follow, box, conversation, endpoint, new_stamp())



class Chat:
    """A conversation that keeps its identity across turns, on either protocol generation.

    The legacy site keeps no history: each message carries the earlier turns (in ``wpaicg_chat_history``
    or inline in the message: ``Site.history``).  AIPKit keeps the history itself, under the visitor's
    ``session_id`` and the thread's ``conversation_uuid``: a chat keeps both ids, so each
    turn sends only the new message and the site remembers the rest.
    """

    def __init__(self, client: Client, site: Site, conversation: Conversation | None = None,
                 **choices: Any) -> None:
        """``choices``: ``bot_id``, ``api_key`` (the site owner's REST key), ``history`` (legacy strategy)."""
        self.client = client
        self.site = with_choices(site, **choices)
        self.conversation = conversation or new_conversation()
        self.turns: list[Turn] = []
        #: what the last answer said besides its text (AIPKit): its sources, the site's warnings, its response id
        self.citations: tuple[dict[str, Any], ...] = ()
        self.warnings: tuple[str, ...] = ()
        self.response_id: str | None = None

    def messages(self, text: Content) -> list[dict[str, Any]]:
        """The whole conversation as OpenAI-style messages, ending with ``text`` (a string, or parts with images)."""
        return [{"role": t.role, "content": t.text} for t in self.turns] + [{"role": "user", "content": text}]

    async def send(self, text: Content, trace: Trace | None = None) -> AsyncIterator[str]:
        """Send one message; yields the answer as it arrives, then remembers both turns."""
        answer: list[str] = []
        trace = trace if trace is not None else Trace()
        since = len(trace.records)
        async for chunk in ask(self.client, self.site, self.messages(text), conversation=self.conversation,
                               trace=trace):
            answer.append(chunk)
            yield chunk
        self.turns += [Turn("user", content_text(text, "message")), Turn("assistant", "".join(answer))]
        extras = trace.answer_extras(since)
        self.citations = extras.citations if extras else ()
        self.warnings = extras.warnings if extras else ()
        self.response_id = extras.response_id if extras else None
        self.conversation = attrs.evolve(self.conversation.advanced(2), previous_response_id=self.response_id)

    async def say(self, text: Content, trace: Trace | None = None) -> str:
        """Send one message and return the whole answer."""
        return "".join([chunk async for chunk in self.send(text, trace)])


# -- the provider ---------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _site(url: str, api_endpoint: str | None, system_prompt: str) -> Site:
    """A provider class's :class:`Site` (frozen): the same few per process, checked once."""
    return Site(url=url, api_endpoint=api_endpoint, system_prompt=system_prompt)


DEFAULT_URL = "https://chatgpt.es"
DEFAULT_API_ENDPOINT = "https://chatgpt.es/wp-admin/admin-ajax.php"


class ChatGptEs:
    """The seed's provider: ``ChatGptEs.create_async_generator(model, messages, proxy=None, **kwargs)``.

    Subclass and override ``url`` (or assign ``ChatGptEs.url = …``) to talk to
    another site running the plugin; the endpoint then comes from that page,
    unless ``api_endpoint`` is set too (see :meth:`_endpoint_is_explicit`).
    """

    url: ClassVar[str] = DEFAULT_URL
    api_endpoint: ClassVar[str] = DEFAULT_API_ENDPOINT
    working: ClassVar[bool] = True
    supports_stream: ClassVar[bool] = True
    supports_system_message: ClassVar[bool] = True
    supports_message_history: ClassVar[bool] = True
    default_model: ClassVar[str] = "gpt-4o"
    models: ClassVar[list[str]] = ["gpt-4", "gpt-4o", "gpt-4o-mini"]
    SYSTEM_PROMPT: ClassVar[str] = (
        "Your default language is English. Always respond in English unless the user's message is in a "
        "different language. If the user's message is not in English, respond in the language of the user's "
        "message. Maintain this language behavior throughout the conversation unless explicitly instructed "
        "otherwise. User input:"
    )

    _clients: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, OrderedDict[Any, Client]]] = (
        weakref.WeakKeyDictionary()
    )

    @classmethod
    def get_model(cls, model: str | None) -> str:
        """``model`` if this provider knows it, else the default model."""
        return model if model and model in cls.models else cls.default_model

    @classmethod
    def site(cls, system_prompt: str | None = None) -> Site:
        """Where this class talks, with the endpoint rule of the seed's attributes applied."""
        endpoint = cls.api_endpoint if cls._endpoint_is_explicit() else None
        prompt = cls.SYSTEM_PROMPT if system_prompt is None else system_prompt
        if all(isinstance(value, str | None) for value in (cls.url, endpoint, prompt)):
            return _site(cls.url, endpoint, prompt)
        return Site(url=cls.url, api_endpoint=endpoint, system_prompt=prompt)  # fails as it should, or later

    @classmethod
    def _endpoint_is_explicit(cls) -> bool:
        """True when the user set ``api_endpoint`` for this ``url``: the endpoint then stays fixed, else the
        endpoint is the one the page names (never chatgpt.es's for another site's nonce).

        Set by the user means both: its value is not this library's default (unless ``url`` is still the
        default, chatgpt.es, whose endpoint it is) — so assigning ``ChatGptEs.url = …``, the habit of g4f
        users, moves the endpoint along — and it is set on the class that sets ``url`` or on a subclass of
        it — so a subclass that only changes ``url`` does not inherit its parent's endpoint.
        """
        def owner(name: str) -> int:
            return next(i for i, klass in enumerate(cls.__mro__) if name in vars(klass))
        users = cls.api_endpoint != DEFAULT_API_ENDPOINT or cls.url.rstrip("/") == DEFAULT_URL
        return users and owner("api_endpoint") <= owner("url")

    @classmethod
    def client(cls, proxy: str | None = None, **options: Any) -> Client:
        """The shared client of the running event loop for these options.

        ``options``: ``timeout`` (seconds for a whole message), ``retries`` (attempts for transient
        failures), ``token_ttl`` (seconds a page's nonce is reused), and any
        :class:`~stages.transport.TransportOptions` field (``verify``, ``impersonate``,
        ``connect_timeout``, ``read_timeout``, …).
        """
        clients = cls._clients.setdefault(asyncio.get_running_loop(), OrderedDict())
        key = (proxy, tuple(sorted((name, repr(value)) for name, value in options.items())))
        if key not in clients:
            clients[key] = Client(settings_from(proxy, options))
        clients.move_to_end(key)
        while len(clients) > MAX_SHARED_CLIENTS:  # varying options or a rotating proxy: a few sessions, not one each
            clients.popitem(last=False)[1].retire()
        return clients[key]

    @classmethod
    async def aclose(cls) -> None:
        """Close the sessions this event loop's shared clients hold (they reopen on next use)."""
        for client in cls._clients.pop(asyncio.get_running_loop(), {}).values():
            await client.aclose()

    @classmethod
    def chat(cls, proxy: str | None = None, *, system_prompt: str | None = None, **options: Any) -> Chat:
        """A :class:`Chat` with this site that keeps its identity across turns.

        ``options``: the client's (see :meth:`client`), and ``bot_id``, ``api_key``, ``history``.
        """
        choices = {k: options.pop(k) for k in CHOICES & set(options)}
        return Chat(cls.client(proxy, **options), cls.site(system_prompt), **choices)

    @classmethod
    async def create_async_generator(cls, model: str, messages: Any, proxy: str | None = None,
                                     **kwargs: Any) -> AsyncIterator[str]:
        """An async generator of the answer's text chunks.

        ``kwargs``: ``system_prompt`` (instead of ``SYSTEM_PROMPT``), ``trace``
        (a :class:`Trace` to fill), ``client`` (a :class:`Client` to use), and
        any :class:`~stages.transport.TransportOptions` field.  Options of other
        providers (``stream``, ``temperature``…) cannot be honoured by this
        site: they are ignored, with a warning naming them.
        """
        require_curl_cffi()
        cls.get_model(model)  # as in the seed, the name is only normalised: the site's own settings pick its model
        trace: Trace | None = kwargs.pop("trace", None)
        system_prompt: str | None = kwargs.pop("system_prompt", None)
        client: Client | None = kwargs.pop("client", None)
        choices = {k: kwargs.pop(k) for k in CHOICES & set(kwargs)}  # bot_id, api_key (REST API), history
        ignored = sorted(set(kwargs) - CLIENT_OPTIONS)
        if ignored:
            log.warning("options_ignored", options=ignored, reason="the site decides these itself")
        if client is None:
            client = cls.client(proxy, **{k: v for k, v in kwargs.items() if k in CLIENT_OPTIONS})
        if not isinstance(messages, list):
            raise InvalidMessagesError(f"messages must be a list of {{role, content}} objects, "
                                       f"not {type(messages).__name__}")
        site = with_choices(cls.site(system_prompt), **choices)
        turns = turns_of(messages)
        conversation = client.take(held_key(site, turns[:-1])) if len(turns) > 1 else None
        conversation = conversation or new_conversation()
        answer: list[str] = []
        async with client.in_use():  # a retired client closes its session when its last message ends
            async for text in ask(client, site, messages, conversation=conversation, trace=trace):
                answer.append(text)
                yield text
        turns.append(("assistant", "".join(answer)))
        client.hold(held_key(site, turns), conversation.advanced(2))
