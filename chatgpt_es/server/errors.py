"""Errors in OpenAI's shape: which library error becomes which HTTP status, ``type`` and ``code``.

One table, :data:`ERROR_TABLE`, read along the error's class hierarchy (the most specific class listed wins);
the README's table of statuses is this one.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from stages.errors import (
    ChatGptEsError,
    CloudflareChallengeError,
    DeadlineExceededError,
    EndpointRefusedError,
    EventLoopError,
    InvalidArgumentError,
    MissingRequirementsError,
    ModelFailedError,
    NoChatBoxError,
    QuotaExceededError,
    RateLimitedError,
    ResponseError,
    SiteRefusedError,
    TlsVerificationError,
    TokenLimitError,
    TransportError,
)

#: what Retry-After says when a rate-limited site named no wait of its own
DEFAULT_RETRY_AFTER = 1


@attrs.frozen
class Mapped:
    status: int
    type: str
    code: str


#: library error class → what a client of the OpenAI API sees
ERROR_TABLE: dict[type[BaseException], Mapped] = {
    InvalidArgumentError: Mapped(400, "invalid_request_error", "invalid_request"),
    RateLimitedError: Mapped(429, "rate_limit_error", "rate_limit_exceeded"),
    TokenLimitError: Mapped(429, "insufficient_quota", "site_token_limit"),
    QuotaExceededError: Mapped(429, "insufficient_quota", "site_quota_exceeded"),
    NoChatBoxError: Mapped(502, "api_error", "site_has_no_chat_box"),
    ModelFailedError: Mapped(502, "api_error", "site_model_failed"),
    TlsVerificationError: Mapped(502, "api_error", "site_tls_unverified"),
    EndpointRefusedError: Mapped(502, "api_error", "site_endpoint_refused"),
    EventLoopError: Mapped(500, "api_error", "internal_error"),
    CloudflareChallengeError: Mapped(503, "api_error", "cloudflare_challenge"),
    DeadlineExceededError: Mapped(504, "api_error", "deadline_exceeded"),
    TransportError: Mapped(502, "api_error", "site_unreachable"),
    SiteRefusedError: Mapped(502, "api_error", "site_refused"),
    ResponseError: Mapped(502, "api_error", "bad_site_answer"),
    MissingRequirementsError: Mapped(500, "api_error", "missing_requirements"),
    ChatGptEsError: Mapped(502, "api_error", "site_error"),
}
INTERNAL = Mapped(500, "api_error", "internal_error")


class ApiError(Exception):
    """An error the server itself answers (bad request, bad key, unknown model), in OpenAI's shape."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad_request(message: str, param: str | None = None, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


def mapped(error: BaseException) -> Mapped:
    for klass in type(error).__mro__:
        if klass in ERROR_TABLE:
            return ERROR_TABLE[klass]
    return INTERNAL


def api_error(error: BaseException) -> ApiError:
    """The OpenAI-shaped error for any exception (an unexpected one shows no detail: hostile input may be in it)."""
    if isinstance(error, ApiError):
        return error
    where = mapped(error)
    message = f"{type(error).__name__}: {error}" if isinstance(error, ChatGptEsError) else "internal server error"
    headers: dict[str, str] = {}
    if isinstance(error, RateLimitedError):
        wait = error.retry_after
        headers["Retry-After"] = str(max(1, math.ceil(wait)) if wait is not None else DEFAULT_RETRY_AFTER)
    return ApiError(where.status, message, type=where.type, code=where.code, headers=headers)
