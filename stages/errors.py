"""One hierarchy of typed errors, rooted at :class:`ChatGptEsError`.

Every error that describes a bad answer from the site is also a
:class:`ValueError`: the seed's contract ("ValueError if the status is not 200
or the answer has an unexpected format") keeps working for callers that catch
``ValueError``.  Messages say what came back, with a short excerpt of the body,
and never carry secrets (see :func:`stages.redact.redact`).
"""

from __future__ import annotations

EXCERPT_CHARS = 200


def excerpt(body: bytes | str, limit: int = EXCERPT_CHARS) -> str:
    """A short, single-line, printable excerpt of a body for error messages."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class ChatGptEsError(Exception):
    """Base of every error this library raises on purpose."""

    #: True when sending the same message again may succeed (used by retries).
    transient: bool = False


class MissingRequirementsError(ChatGptEsError, ImportError):
    """A required package (curl_cffi) cannot be imported."""


class InvalidArgumentError(ChatGptEsError, ValueError):
    """An argument the caller gave is malformed (caught before any request)."""


class InvalidMessagesError(InvalidArgumentError):
    """The caller's ``messages`` is malformed: says which item and what is wrong."""


class TransportError(ChatGptEsError):
    """The connection failed: refused, reset, TLS, DNS, proxy."""

    transient = True


class DeadlineExceededError(TransportError):
    """A connect, read or total deadline ran out."""


class ResponseError(ChatGptEsError, ValueError):
    """The site answered, but not with what a chat answer should be."""

    def __init__(self, message: str, *, status: int | None = None, body: bytes | str = b"") -> None:
        self.status = status
        self.excerpt = excerpt(body)
        detail = f" (HTTP {status})" if status is not None else ""
        shown = f": {self.excerpt!r}" if self.excerpt else ""
        super().__init__(f"{message}{detail}{shown}")


class BadStatusError(ResponseError):
    """An HTTP status other than 200."""


class ServerError(BadStatusError):
    """A 5xx answer: the site or something in front of it failed."""

    transient = True


class CloudflareChallengeError(BadStatusError):
    """Cloudflare answered with its "Just a moment..." challenge page."""


class RateLimitedError(BadStatusError):
    """429: the site asks to slow down; ``retry_after`` is its wait in seconds."""

    transient = True

    def __init__(self, message: str, *, status: int | None = 429, body: bytes | str = b"",
                 retry_after: float | None = None) -> None:
        super().__init__(message, status=status, body=body)
        self.retry_after = retry_after


class UnknownActionError(BadStatusError):
    """WordPress answered ``400 0``: the AJAX action is not registered on this site."""


class NonceRejectedError(ResponseError):
    """The site refused the nonce (expired, wrong or missing)."""


class AnswerFormatError(ResponseError):
    """The body is not in any format the protocol allows (e.g. truncated JSON)."""

    transient = True


class SiteRefusedError(ResponseError):
    """The plugin answered with an error of its own (``status: error``, an ``error`` event)."""


class ConsentRequiredError(SiteRefusedError):
    """The site wants a consent checkbox ticked ("Du musst das Kästchen anklicken!")."""


class TokenLimitError(SiteRefusedError):
    """The site's token limit for this visitor is reached."""


class EmbedNotAvailableError(SiteRefusedError):
    """AIPKit refuses requests whose Origin is another host: send the site's own origin."""


class CacheMissError(SiteRefusedError):
    """AIPKit's cached message was missing, unknown, used or expired (60 s, single use)."""

    transient = True


class StreamInterruptedError(ResponseError):
    """The answer stopped before its end; ``partial_text`` is what had arrived."""

    transient = True

    def __init__(self, message: str, *, status: int | None = None, body: bytes | str = b"",
                 partial_text: str = "") -> None:
        super().__init__(message, status=status, body=body)
        self.partial_text = partial_text


class ProviderFailedError(StreamInterruptedError):
    """The site's upstream model failed after the answer had started."""

    transient = False


class TooLargeError(ResponseError):
    """A page or answer exceeded the configured size limit."""


# -- issue 11: hostile and broken sites ------------------------------------------------


class TlsVerificationError(TransportError):
    """The site's TLS certificate could not be verified (wrong host, unknown CA, expired, bad CA file)."""

    transient = False


class TooManyRedirectsError(TransportError):
    """The site redirected more often than a browser would follow."""

    transient = False


class InvalidUrlError(InvalidArgumentError):
    """A URL with a scheme other than http/https, no host, or a bad port (also curl's malformed-URL errors)."""


class EndpointRefusedError(ChatGptEsError, ValueError):
    """The page named an endpoint the endpoint policy refuses (see :mod:`stages.endpoint`)."""

    def __init__(self, endpoint: str, rule: str, reason: str) -> None:
        self.endpoint = endpoint
        self.rule = rule
        self.reason = reason
        super().__init__(f"refused endpoint {endpoint!r} ({rule}): {reason}")
