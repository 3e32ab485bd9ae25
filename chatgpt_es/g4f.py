"""The seed's provider as g4f knows it: ``chatgpt_es.g4f.ChatGptEs`` (``pip install 'chatgpt-es[g4f]'``).

A subclass of g4f's ``AsyncGeneratorProvider`` and ``ProviderModelMixin`` with every attribute of the seed;
its ``create_async_generator`` runs this project's pipeline (:class:`pipeline.ChatGptEs`: async, streaming,
nonce cache, both plugin generations), so it works wherever g4f takes a provider::

    from g4f.client import AsyncClient
    from chatgpt_es.g4f import ChatGptEs
    client = AsyncClient(provider=ChatGptEs)

Two g4f lines are supported (both tested, ``.ci/g4f-check``): 0.5.2.0, the seed's, which reaches a provider
through ``get_create_function``/``get_async_create_function`` (inherited) and whose ``get_model`` raises for
an unknown model (overridden here: unknown → the default, as in the seed); and today's 8.x, which dispatches
through ``get_async_provider_method`` and reads ``use_stream_timeout``, ``live``, ``get_dict()`` and
``get_parent()`` (inherited or set here).  :func:`register` makes the name ``"ChatGptEs"`` resolve to this
class in either (:mod:`chatgpt_es.g4f_registry`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pipeline
from chatgpt_es.runtime.options import CLIENT_OPTIONS
from stages.models import Conversation

try:
    from g4f.providers.base_provider import AsyncGeneratorProvider, ProviderModelMixin
except ImportError as error:  # g4f is an optional extra
    raise pipeline.MissingRequirementsError(
        f"chatgpt_es.g4f needs g4f ({error}); install it with: pip install 'chatgpt-es[g4f]'") from error

from chatgpt_es import g4f_registry
from chatgpt_es.g4f_registry import unregister

__all__ = ["ChatGptEs", "register", "unregister"]

#: g4f's own keyword arguments, dropped quietly: g4f itself honours them (``stream`` decides whether its
#: client concatenates; ``stream_timeout`` bounds each chunk; ``max_tokens``/``stop`` cut the text
#: client-side) or adds them on every call (``provider``, ``base_url``, ``ignore_stream``).  ``api_key``, g4f's
#: name for a provider's key, is the site owner's REST API key here (issue 13): passed on when given.
#: Anything else a caller adds that this site cannot honour (``media``, ``temperature``, ``conversation``…)
#: reaches :meth:`pipeline.ChatGptEs.create_async_generator`, which ignores it with a logged warning.
G4F_HANDLED = frozenset({"stream", "stream_timeout", "max_tokens", "stop", "provider", "base_url", "ignore_stream"})
#: conversations of every event loop, by (site URL, digest of the turns): g4f's sync ``Client`` runs each
#: call on a new loop, and the pipeline's clients are per loop, so they share this store instead
_HELD: OrderedDict[tuple[str, str], Conversation] = OrderedDict()


class ChatGptEs(AsyncGeneratorProvider, ProviderModelMixin):  # type: ignore[misc]  # g4f has no type hints
    """chatgpt.es (or, in a subclass with another ``url``, any AI Power site) through g4f.

    The endpoint rule is :class:`pipeline.ChatGptEs`'s: ``api_endpoint`` is used when it is set on the class
    that sets ``url`` (or below it); a subclass that only changes ``url`` posts where that site's page says.
    """

    url: ClassVar[str] = pipeline.ChatGptEs.url
    api_endpoint: ClassVar[str] = pipeline.ChatGptEs.api_endpoint
    working: ClassVar[bool] = True
    supports_stream: ClassVar[bool] = True
    supports_system_message: ClassVar[bool] = True
    supports_message_history: ClassVar[bool] = True
    default_model: ClassVar[str] = pipeline.ChatGptEs.default_model
    models: ClassVar[list[str]] = list(pipeline.ChatGptEs.models)
    SYSTEM_PROMPT: ClassVar[str] = pipeline.ChatGptEs.SYSTEM_PROMPT
    label: ClassVar[str] = "ChatGptEs (chatgpt-es: AI Power sites, legacy and AIPKit)"
    #: 8.x: ``stream_timeout`` bounds each chunk (g4f), ``timeout`` the whole message (this pipeline)
    use_stream_timeout: ClassVar[bool] = True
    live: ClassVar[int] = 0  # 8.x counts answers here; 0.5.2.0 has no such attribute

    _pipelines: ClassVar[dict[tuple[str, str | None, str], type[pipeline.ChatGptEs]]] = {}

    @classmethod
    def get_model(cls, model: str | None, **kwargs: Any) -> str:
        """``model`` if this provider knows it, else the default (g4f 0.5.2.0's mixin would raise)."""
        chosen = model if model and model in cls.models else cls.default_model
        cls.last_model = chosen
        return chosen

    @classmethod
    def pipeline_class(cls) -> type[pipeline.ChatGptEs]:
        """The :class:`pipeline.ChatGptEs` subclass that talks where this class says (one per site)."""
        endpoint = cls.api_endpoint if _owner(cls, "api_endpoint") <= _owner(cls, "url") else None
        key = (cls.url, endpoint, cls.SYSTEM_PROMPT)
        if key not in cls._pipelines:
            attributes: dict[str, Any] = {"url": cls.url, "SYSTEM_PROMPT": cls.SYSTEM_PROMPT}
            if endpoint is not None:
                attributes["api_endpoint"] = endpoint
            cls._pipelines[key] = type(f"{cls.__name__}Pipeline", (pipeline.ChatGptEs,), attributes)
        return cls._pipelines[key]

    @classmethod
    async def create_async_generator(cls, model: str, messages: Any, proxy: str | None = None,
                                     **kwargs: Any) -> AsyncIterator[str]:
        """The answer's text as it arrives; ``timeout`` (seconds) bounds the whole message.

        Also takes the pipeline's options (``system_prompt``, ``retries``, ``verify``, ``impersonate``,
        ``connect_timeout``, ``read_timeout``, …; see :meth:`pipeline.ChatGptEs.client`).  Errors are this
        project's typed errors, :class:`ValueError`\\ s for what the site answered, as g4f expects.
        """
        model = cls.get_model(model)  # recorded as g4f's last_model; the site's own settings pick its model
        options = {name: value for name, value in kwargs.items() if name not in G4F_HANDLED}
        if options.get("timeout") is None:
            options.pop("timeout", None)  # g4f's "no timeout given": the pipeline's default applies
        if not options.get("api_key"):
            options.pop("api_key", None)  # g4f passes api_key=None (or "") when the caller gave none
        provider = cls.pipeline_class()
        if "client" not in options:
            client_options = {name: options.pop(name) for name in list(options) if name in CLIENT_OPTIONS}
            client = provider.client(proxy, **client_options)
            client.held = _HELD  # conversations outlive the event loop (g4f's sync Client: one loop per call)
            options["client"] = client
        async for text in provider.create_async_generator(model, messages, proxy, **options):
            yield text


def _owner(cls: type, name: str) -> int:
    """How far up ``cls``'s MRO the class that sets ``name`` is (0: ``cls`` itself)."""
    return next(index for index, klass in enumerate(cls.__mro__) if name in vars(klass))


def register(provider: type | None = None) -> type:
    """Make g4f's name ``"ChatGptEs"`` resolve to ``provider`` (default: :class:`ChatGptEs`); see
    :mod:`chatgpt_es.g4f_registry` for how, in each g4f line."""
    return g4f_registry.register(provider or ChatGptEs)
