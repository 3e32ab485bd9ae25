"""The provider's keyword options (``timeout=``, ``retries=``, ``verify=``…) as client :class:`Settings`."""

from __future__ import annotations

from typing import Any

import attrs

from stages.errors import InvalidArgumentError
from stages.transport import TransportOptions

from .client import RetryPolicy, Settings

TRANSPORT_FIELDS = frozenset(field.name for field in attrs.fields(TransportOptions)) - {"proxy"}
#: every keyword a provider call may pass to its client
CLIENT_OPTIONS = TRANSPORT_FIELDS | {"timeout", "retries", "token_ttl"}


def settings_from(proxy: str | None, options: dict[str, Any]) -> Settings:
    """Settings for ``options``; an unknown or malformed option is an :class:`InvalidArgumentError`."""
    unknown = sorted(set(options) - CLIENT_OPTIONS)
    if unknown:
        raise InvalidArgumentError(f"unknown client options {unknown}; known: {sorted(CLIENT_OPTIONS)}")
    retries = options.get("retries", 1)
    if not isinstance(retries, bool) and isinstance(retries, int) and retries < 1:
        raise InvalidArgumentError("bad client option: retries counts attempts (1 sends once, no retry), "
                                   f"so it must be >= 1, not {retries}")
    default = Settings()
    try:
        transport = TransportOptions(proxy=proxy, **{k: v for k, v in options.items() if k in TRANSPORT_FIELDS})
        return Settings(transport=transport, total_timeout=options.get("timeout", default.total_timeout),
                        token_ttl=options.get("token_ttl", default.token_ttl),
                        retry=RetryPolicy(attempts=options.get("retries", default.retry.attempts)))
    except (TypeError, ValueError) as error:
        raise InvalidArgumentError(f"bad client option: {error}") from None
