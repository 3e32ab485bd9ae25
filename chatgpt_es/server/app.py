"""The aiohttp application: ``/health``, ``/v1/models`` and ``/v1/chat/completions`` over the pipeline.

Every request shares one :class:`~pipeline.Client` (one session, the token cache, single flight).  A message
goes through the seed's provider bound to its site (``create_async_generator`` with ``client=``), so a
continued conversation reaches the same server-kept conversation on AIPKit sites.  A semaphore per site
bounds the concurrent site requests; the rest queue.  The application runs with handler cancellation: a
client that goes away cancels its handler, and with it the site request, at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import cast

import attrs
from aiohttp import web

from chatgpt_es.runtime.choices import choices_of
from chatgpt_es.runtime.logs import get_logger
from pipeline import ChatGptEs, ChatGptEsError, Client, Settings

from .errors import ApiError, api_error
from .request import ChatRequest, parse_request
from .sites import DEFAULT_NAME, SiteEntry, provider_for
from .sse import Completion, EventStream
from .usage import estimated_usage

log = get_logger()
MAX_BODY = 8 * 1024 * 1024
#: with a sites file, names a client may send by default still reach the default site
OPENAI_STYLE = ("gpt-", "chatgpt-", "o1", "o3", "o4")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.frozen
class ServerConfig:
    default: SiteEntry
    #: the sites of a ``--sites`` file, by model id
    sites: dict[str, SiteEntry] = attrs.field(factory=dict)
    api_key: str | None = None
    settings: Settings = attrs.field(factory=Settings)


class Api:
    """The server's state: the shared client, a provider and a semaphore per site, the ignored parameters."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.client = Client(config.settings)
        self.entries = {DEFAULT_NAME: config.default, **config.sites}
        self.providers = {name: provider_for(entry.site) for name, entry in self.entries.items()}
        self.limits = {name: asyncio.Semaphore(entry.concurrency) for name, entry in self.entries.items()}
        self.active = dict.fromkeys(self.entries, 0)
        self.queued = dict.fromkeys(self.entries, 0)
        self.ignored: set[str] = set()

    def route(self, model: str) -> str:
        """The name of the site a model id picks (see the module's docstring of ``sites``)."""
        if model in self.config.sites:
            return model
        if (not self.config.sites or not model or model in ChatGptEs.models
                or model.startswith(OPENAI_STYLE) or model == DEFAULT_NAME):
            return DEFAULT_NAME
        raise ApiError(404, f"the model {model!r} does not exist; this server has {self.model_ids()}",
                       param="model", code="model_not_found")

    def model_ids(self) -> list[str]:
        return [*ChatGptEs.models, *self.config.sites]

    def note_ignored(self, names: tuple[str, ...]) -> None:
        new = sorted(set(names) - self.ignored)
        if new:
            self.ignored.update(new)
            log.warning("parameters_ignored", parameters=new, reason="the site decides these itself (logged once)")

    async def answer(self, name: str, chat: ChatRequest) -> AsyncGenerator[str, None]:
        """The answer's text chunks, once the site has a free slot."""
        self.queued[name] += 1
        try:
            await self.limits[name].acquire()
        finally:
            self.queued[name] -= 1
        self.active[name] += 1
        try:
            entry = self.entries[name]
            # (an async generator function, typed as an iterator)
            chunks = cast(AsyncGenerator[str, None], self.providers[name].create_async_generator(
                chat.model, [dict(message) for message in chat.messages], client=self.client,
                system_prompt=entry.site.system_prompt, **choices_of(entry.site)))
            async with contextlib.aclosing(chunks):
                async for text in chunks:
                    yield text
        finally:
            self.active[name] -= 1
            self.limits[name].release()

    # -- handlers ----------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        """Open to all; the per-site figures only to those who may use the API."""
        if self.key_problem(request) is not None:
            return web.json_response({"status": "ok"})
        sites = {name: {"active": self.active[name], "queued": self.queued[name],
                        "concurrency": entry.concurrency} for name, entry in self.entries.items()}
        return web.json_response({"status": "ok", "sites": sites})

    async def models(self, request: web.Request) -> web.Response:
        data = [{"id": model, "object": "model", "created": 0, "owned_by": "chatgpt-es"} for model in self.model_ids()]
        return web.json_response({"object": "list", "data": data})

    async def completions(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json(loads=json.loads)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "the request body is not valid JSON", code="invalid_json") from None
        chat = parse_request(body)
        self.note_ignored(chat.ignored)
        name = self.route(chat.model)
        completion = Completion(model=chat.model or ChatGptEs.default_model)
        answer = self.answer(name, chat)
        if chat.stream:
            return await stream(request, chat, completion, answer)
        async with contextlib.aclosing(answer):
            text = "".join([chunk async for chunk in answer])
        return web.json_response(completion.message(text, estimated_usage(chat.messages, text)))

    # -- the boundary ------------------------------------------------------------

    @web.middleware
    async def boundary(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The key check, and every error in OpenAI's shape."""
        try:
            if request.path.startswith("/v1/"):
                self.check_key(request)
            return await handler(request)
        except web.HTTPException as error:
            if error.status < 400:
                raise
            return error_response(ApiError(error.status, error.reason, code=error.reason.lower().replace(" ", "_")))
        except Exception as error:
            if not isinstance(error, ApiError | ChatGptEsError):
                log.exception("server_error", path=request.path)
            return error_response(api_error(error))

    def check_key(self, request: web.Request) -> None:
        problem = self.key_problem(request)
        if problem is not None:
            raise ApiError(401, problem, code="invalid_api_key")

    def key_problem(self, request: web.Request) -> str | None:
        """Why the request may not use the API (None: it may); the key is compared in constant time."""
        key = self.config.api_key
        if not key:
            return None
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return "an API key is required: send Authorization: Bearer <key>"
        if not hmac.compare_digest(given.strip().encode(), key.encode()):
            return "the API key is wrong"
        return None

    async def close(self, app: web.Application) -> None:
        await self.client.aclose()


API = web.AppKey("api", Api)


async def stream(request: web.Request, chat: ChatRequest, completion: Completion,
                 answer: AsyncGenerator[str, None]) -> web.StreamResponse:
    """Chunks as the site's text arrives.  An error before the first text is a plain HTTP error; after it,
    one ``data: {"error": …}`` event, then the stream ends."""
    events = EventStream(request)
    async with contextlib.aclosing(answer):
        first = await anext(answer, None)
        await events.start()
        parts = [first] if first is not None else []
        try:
            await events.send(completion.chunk({"role": "assistant", "content": ""}))
            if first is not None:
                await events.send(completion.chunk({"content": first}))
            async for text in answer:
                parts.append(text)
                await events.send(completion.chunk({"content": text}))
        except ConnectionError:
            return events.response  # the client went away: closing the answer cancels the site request
        except Exception as error:
            if not isinstance(error, ChatGptEsError):
                log.exception("server_error", path=request.path)
            with contextlib.suppress(ConnectionError):
                await events.send(api_error(error).body())
                await events.response.write_eof()
            return events.response
        await events.send(completion.chunk({}, "stop"))
        if chat.include_usage:
            await events.send(completion.usage_chunk(estimated_usage(chat.messages, "".join(parts))))
        await events.done()
    return events.response


def error_response(error: ApiError) -> web.Response:
    return web.json_response(error.body(), status=error.status, headers=error.headers)


def build_app(config: ServerConfig) -> web.Application:
    api = Api(config)
    app = web.Application(client_max_size=MAX_BODY, middlewares=[api.boundary])
    app.router.add_get("/health", api.health)
    app.router.add_get("/v1/models", api.models)
    app.router.add_post("/v1/chat/completions", api.completions)
    app.on_cleanup.append(api.close)
    app[API] = api
    return app
