"""What outlives one message: the session, the token cache, held conversations.

* One curl_cffi async session per client, reused across messages
  (connection reuse; never blocks the event loop).
* The page's chat box (nonce, post id, container fields) is cached per site
  and reused until it expires — WordPress nonces live 12–24 h, the default
  here is 6 h — so a message costs its own round trips only.  Concurrent
  cold requests for the same site share one page fetch (single flight).
* A refused nonce is renewed once, in the protocol's own way: the legacy
  protocol fetches the page again, AIPKit asks its nonce endpoint.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import attrs

from stages import checks
from stages.boxes import extract_page
from stages.endpoint import EndpointDecision, checked_endpoint, decide_endpoint
from stages.errors import AnswerFormatError, EventLoopError
from stages.fetch import fetch_page
from stages.models import ChatBox, Conversation, HttpRequest, NewNonce
from stages.pagefacts import PageFacts, describe_page, lacks_chat_box
from stages.parse import parse_answer
from stages.payload import PROTOCOLS, new_stamp
from stages.redact import redact_url
from stages.rest import chat_url
from stages.send import send_request
from stages.transport import TransportOptions, open_session

from .logs import get_logger
from .trace import Trace

if TYPE_CHECKING:
    from stages.session import CurlSession

DEFAULT_TOKEN_TTL = 6 * 3600.0
log = get_logger()
#: sessions being closed in the background (kept referenced until done)
_closing: set[asyncio.Task[None]] = set()


@attrs.frozen
class Site:
    """Where to talk: the chat page, and the AJAX endpoint when it is fixed."""

    url: str = attrs.field(validator=checks.url_field)
    #: an explicitly chosen endpoint; None = the page's own (``wpaicgParams.ajax_url`` / data-config ``ajaxUrl``)
    api_endpoint: str | None = attrs.field(default=None, validator=checks.url_field)
    system_prompt: str = ""
    #: the bot to talk to (None: the page's first chat box)
    bot_id: str | None = None
    #: the site owner's REST API key: with it, messages go through the REST API (never shown)
    api_key: str | None = attrs.field(default=None, repr=False)
    #: legacy sites: how earlier turns travel, ``auto``, ``structured`` or ``inline`` (see README)
    history: str = "auto"

    def endpoint_decision(self, box: ChatBox, page_url: str | None = None,
                          allowed_hosts: tuple[str, ...] = ()) -> EndpointDecision:
        """Where messages go, and why (:mod:`stages.endpoint`): resolved against the page's final URL.

        The REST API's chat route is checked too: the page advertised its root, and the site key goes there.
        """
        if box.protocol == "rest":
            return decide_endpoint(page_url or self.url, chat_url(box, page_url or self.url),
                                   allowed_hosts=allowed_hosts)
        if self.api_endpoint:
            return decide_endpoint(self.url, self.api_endpoint, explicit=True)
        # "relative URL" plugins print a path; no ajax_url at all: WordPress's own endpoint
        return decide_endpoint(page_url or self.url, box.ajax_url or None, allowed_hosts=allowed_hosts)

    def endpoint_for(self, box: ChatBox, page_url: str | None = None, allowed_hosts: tuple[str, ...] = ()) -> str:
        """The endpoint the policy allows, or :class:`~stages.errors.EndpointRefusedError`."""
        return checked_endpoint(self.endpoint_decision(box, page_url, allowed_hosts))


@attrs.frozen
class RetryPolicy:
    """Retries of transient failures (exponential backoff with jitter; ``attempts`` counts every send)."""

    attempts: int = attrs.field(default=4, validator=checks.count)
    timeout: float = attrs.field(default=60.0, validator=checks.seconds)
    wait_initial: float = attrs.field(default=0.2, validator=checks.seconds)
    wait_max: float = attrs.field(default=5.0, validator=checks.seconds)
    wait_jitter: float = attrs.field(default=0.5, validator=checks.seconds)


@attrs.frozen
class Settings:
    transport: TransportOptions = attrs.field(default=TransportOptions(),
                                              validator=attrs.validators.instance_of(TransportOptions))
    token_ttl: float = attrs.field(default=DEFAULT_TOKEN_TTL, validator=checks.seconds)
    retry: RetryPolicy = attrs.field(default=RetryPolicy(), validator=attrs.validators.instance_of(RetryPolicy))
    #: the deadline for one whole message (all its requests and retries); None = none
    total_timeout: float | None = attrs.field(default=180.0, validator=checks.seconds_or_none)
    held_conversations: int = attrs.field(default=1024, validator=checks.count)


@attrs.frozen
class CachedBox:
    box: ChatBox
    expires: float


class InUse:
    """A message under way on a client (a class, not a generator: it runs for every message)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def __aenter__(self) -> Client:
        self.client._users += 1
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        closing = self.client._release()
        if closing is not None:  # a retired client closes its session when its last message ends
            await closing


class Client:
    """Owns the session and the caches; safe to share between concurrent tasks of one event loop."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._session: CurlSession | None = None
        self._users = 0
        self._retired = False
        self._boxes: dict[str, CachedBox] = {}
        self._inflight: dict[str, asyncio.Future[ChatBox]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        #: what a page without a chat box held instead, by site URL (for the error when the fallback is refused)
        self.page_facts: dict[str, PageFacts] = {}
        #: each site's page URL after its redirects: relative endpoints resolve against it, as in a browser
        self._page_urls: dict[str, str] = {}
        #: conversations held for ``create_async_generator``, by (site URL, digest of the turns so far)
        self.held: OrderedDict[tuple[str, str], Conversation] = OrderedDict()

    @property
    def session(self) -> CurlSession:
        self._check_loop()
        if self._session is None:
            self._session = open_session(self.settings.transport)
        return self._session

    def _check_loop(self) -> None:
        """One client per event loop: its session, fetches under way and caches' futures live in one loop."""
        loop = asyncio.get_running_loop()
        if self._loop is None or (self._session is None and not self._inflight):
            self._loop = loop
        elif self._loop is not loop:
            raise EventLoopError(
                "this Client was opened in another event loop (e.g. an earlier asyncio.run): make one Client per "
                "event loop, or `await client.aclose()` (or `async with Client(...)`) before using it in a new one")

    async def aclose(self) -> None:
        if self._session is not None:
            self._check_loop()
            session, self._session = self._session, None
            await session.close()

    def in_use(self) -> InUse:
        """``async with client.in_use():`` marks the client busy for a message (see :meth:`retire`)."""
        return InUse(self)

    def _release(self) -> Awaitable[None] | None:
        self._users -= 1
        return self.aclose() if self._retired and not self._users else None

    def retire(self) -> None:
        """The client left a shared cache: close its session now, or when its last message ends."""
        self._retired = True
        if not self._users and self._session is not None:
            task = asyncio.get_running_loop().create_task(self.aclose())
            _closing.add(task)
            task.add_done_callback(_closing.discard)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- fetch + extract, cached -------------------------------------------------

    async def chat_box(self, site: Site, trace: Trace) -> ChatBox:
        """The site's chat box: from the cache, from a fetch under way, or fetched now."""
        box = self.cached_box(site, trace)
        return box if box is not None else await self._shared(site, trace, lambda: self._fetch(site, trace))

    def cached_box(self, site: Site, trace: Trace) -> ChatBox | None:
        """The site's chat box if the cache holds a live one (recorded in the trace), else None."""
        self._check_loop()
        cached = self._boxes.get(site.url)
        if cached is not None and cached.expires > time.monotonic():
            trace.note("fetch", {"url": site.url, "cached": True}, "page tokens from the cache")
            return cached.box
        return None

    async def renew_nonce(self, site: Site, rejected: ChatBox, trace: Trace) -> ChatBox:
        """A chat box with a fresh nonce after ``rejected`` was refused (shared by concurrent callers)."""
        cached = self._boxes.get(site.url)
        if cached is not None and cached.box.nonce.value != rejected.nonce.value:
            trace.note("fetch", {"url": site.url, "renewed": True}, "another task already renewed the nonce")
            return cached.box
        refresh = PROTOCOLS[rejected.protocol].refresh_nonce
        if refresh is None:
            self.forget(site)
            return await self._shared(site, trace, lambda: self._fetch(site, trace))
        return await self._shared(site, trace, lambda: self._ask_nonce(site, rejected, refresh, trace))

    async def _shared(self, site: Site, trace: Trace, work: Callable[[], Awaitable[ChatBox]]) -> ChatBox:
        """Join the site's fetch under way, if any; else run ``work`` as the one fetch others will join."""
        while (pending := self._inflight.get(site.url)) is not None:
            trace.note("fetch", {"url": site.url, "shared": True}, "joined a page fetch already under way")
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                # the task doing that fetch was cancelled, not this one: join the next, or fetch anew
        return await self._single_flight(site, work)

    async def _single_flight(self, site: Site, work: Callable[[], Awaitable[ChatBox]]) -> ChatBox:
        """Run ``work`` as the one fetch for the site; concurrent callers share its result or its error."""
        future: asyncio.Future[ChatBox] = asyncio.get_running_loop().create_future()
        self._inflight[site.url] = future
        try:
            box = await work()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else has to
            raise
        else:
            self.remember(site, box)
            future.set_result(box)
            return box
        finally:
            if self._inflight.get(site.url) is future:
                del self._inflight[site.url]

    async def _fetch(self, site: Site, trace: Trace) -> ChatBox:
        page = await trace.astep("fetch", fetch_page, self.session, site.url, self.settings.transport)
        self._page_urls[site.url] = page.url
        box = trace.step("extract", extract_page, page)
        if lacks_chat_box(box) and not site.api_key:  # the REST API needs no chat box
            self.page_facts[site.url] = facts = describe_page(page, box)
            log.warning("no_chat_box", page=redact_url(site.url), held=facts.held,
                        detail="trying the seed's fallback values; the site will most likely refuse them")
        else:
            self.page_facts.pop(site.url, None)
        return box

    def page_url(self, site: Site) -> str:
        """The site's page as last fetched, after its redirects (what Referer and Origin name)."""
        return self._page_urls.get(site.url, site.url)

    def endpoint(self, site: Site, box: ChatBox, trace: Trace) -> str:
        """The endpoint for ``box``'s messages, the policy's decision kept in the trace."""
        decision = trace.step("endpoint", site.endpoint_decision, box, self.page_url(site),
                              self.settings.transport.allow_endpoint_hosts)
        return checked_endpoint(decision)

    async def _ask_nonce(self, site: Site, rejected: ChatBox, refresh: Callable[[ChatBox, str], HttpRequest],
                         trace: Trace) -> ChatBox:
        """AIPKit: ask the nonce endpoint, as the site's own script does after a nonce failure."""
        protocol = PROTOCOLS[rejected.protocol]
        request = trace.step("payload", refresh, rejected, self.endpoint(site, rejected, trace))
        answer = await trace.astep("send", send_request, self.session, request, self.page_url(site),
                                   self.settings.transport, new_stamp())
        nonce = ""
        outcomes = parse_answer(protocol, request.purpose, answer.head, answer.chunks(),
                                self.settings.transport.max_answer_bytes)
        try:
            async for outcome in trace.parse(outcomes):
                if isinstance(outcome, NewNonce):
                    nonce = outcome.nonce
        finally:
            await answer.aclose()
        if not nonce:
            raise AnswerFormatError("the nonce endpoint answered no nonce", status=answer.head.status)
        return attrs.evolve(rejected, nonce=attrs.evolve(rejected.nonce, value=nonce, rule="nonce_refresh"))

    def remember(self, site: Site, box: ChatBox, page_url: str | None = None) -> None:
        """Cache ``box`` for ``site``; ``page_url``: where its page ended up after redirects (endpoint, Referer)."""
        self._boxes[site.url] = CachedBox(box, time.monotonic() + self.settings.token_ttl)
        if page_url is not None:
            self._page_urls[site.url] = page_url

    def forget(self, site: Site) -> None:
        self._boxes.pop(site.url, None)

    # -- conversations held for create_async_generator ------------------------------

    def hold(self, key: tuple[str, str], conversation: Conversation) -> None:
        self.held[key] = conversation
        self.held.move_to_end(key)
        while len(self.held) > self.settings.held_conversations:
            self.held.popitem(last=False)

    def take(self, key: tuple[str, str]) -> Conversation | None:
        return self.held.pop(key, None)
