"""Make g4f's provider name ``"ChatGptEs"`` mean :class:`chatgpt_es.g4f.ChatGptEs`, without editing g4f.

g4f resolves a provider given by name (``provider="ChatGptEs"`` in its clients, ``g4f.Provider.ChatGptEs``)
differently in its two lines:

* 0.5.2.0: ``g4f.Provider`` is a plain module that imported every provider, the old ``ChatGptEs`` among
  them; ``ProviderUtils.convert`` (the same dict as ``g4f.Provider.__map__``) maps names to classes and
  ``convert_to_provider`` reads it on each call.  :func:`register` replaces the entry, the module attribute
  and the class in ``__providers__``.
* 8.x: ``g4f.Provider`` is a lazy module; ``ProviderUtils.convert`` is a view whose lookups go through
  ``ProviderLoader.from_name``, which answers from ``ProviderLoader.loaded`` (keyed by the name and its
  lower-case form without ``-``/``_``) before importing anything.  :func:`register` fills both keys, adds
  the name to ``ProviderLoader.names`` (so listings show it) and sets the module attribute, which the lazy
  module's ``__getattr__`` prefers.

Model routing (which provider serves ``model="gpt-4o"`` when none is named) is left alone in both.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from typing import Any

import g4f.Provider  # noqa: F401  (loads the module register() edits)

_undo: list[Callable[[], None]] = []  # newest last


def register(provider: type) -> type:
    """Make ``"ChatGptEs"`` resolve to ``provider`` in g4f (:func:`chatgpt_es.g4f.register` passes its own)."""
    namespace = vars(sys.modules["g4f.Provider"])
    name = "ChatGptEs"
    old = namespace.get(name)
    _put(namespace, name, provider)
    loader = namespace.get("ProviderLoader")
    if loader is not None:  # 8.x
        _put(loader.loaded, name, provider)
        _put(loader.loaded, name.lower(), provider)
        for listing in (loader.names, namespace.get("__all__", [])):
            if name not in listing:
                listing.append(name)
                _undo.append(partial(listing.remove, name))
    else:  # 0.5.2.0
        _put(namespace["ProviderUtils"].convert, name, provider)
        providers: list[Any] = namespace.get("__providers__", [])
        if old in providers:
            index = providers.index(old)
            providers[index] = provider
            _undo.append(partial(providers.__setitem__, index, old))
    return provider


def unregister() -> None:
    """Undo every :func:`register` (0.5.2.0: its own ``ChatGptEs`` is back; 8.x: the name is unknown again)."""
    while _undo:
        _undo.pop()()


def _put(mapping: dict[str, Any], key: str, value: Any) -> None:
    """``mapping[key] = value``, remembering how to undo it."""
    if key in mapping:
        previous = mapping[key]
        _undo.append(partial(mapping.__setitem__, key, previous))
    else:
        _undo.append(partial(mapping.pop, key, None))
    mapping[key] = value
