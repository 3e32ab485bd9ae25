"""One hierarchy of typed errors, rooted at :class:`ChatGptEsError`.

Every error that describes a bad answer from the site is also a
:class:`ValueError`: the seed's contract ("ValueError if the status is not 200
or the answer has an unexpected format") keeps working for callers that catch
``ValueError``.  Messages say what came back, with a short excerpt of the body,
and never carry secrets (see :func:`stages.redact.redact`).
"""

from __future__ import annotations

import html

EXCERPT_CHARS = 200


def excerpt(body: bytes | str, limit: int = EXCERPT_CHARS) -> str:
    """A short, single-line, printable excerpt of a body for error messages (HTML entities as plain text)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    flat = " ".join(html.unescape(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class ChatGptEsError(Exception):
    """Base of every error this library raises on purpose."""

    #: True when sending the same message again may succeed (used by retries).
    transient: bool = False
    #: at most this many sends of one message when this error keeps coming back (None: the policy's attempts)
    max_sends: int | None = None
    #: the answer's text that had reached the caller before the error (never sent again once non-empty)
    partial_text: str = ""


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
        super().__init__(f"{html.unescape(message)}{detail}{shown}")  # sites escape their messages for HTML


class BadStatusError(ResponseError):
    """An HTTP status other than 200."""


class ServerError(BadStatusError):
    """A 5xx answer: the site or something in front of it failed.

    501 Not Implemented is permanent (the server does not do POST/this method at all, e.g. a static file
    server at a wrong URL): sending again cannot help.
    """

    transient = True

    def __init__(self, message: str, *, status: int | None = None, body: bytes | str = b"") -> None:
        super().__init__(message, status=status, body=body)
        self.transient = status != 501


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


# -- issue 13: the owner's REST API, the right bot, quotas, images ---------------------------------------------


class BotNotFoundError(InvalidArgumentError):
    """The bot asked for has no chat box on the page; ``available`` lists the bot ids that do."""

    def __init__(self, message: str, *, available: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.available = available


class QuotaExceededError(SiteRefusedError):
    """The site's quota for this visitor is used up, or guests may not chat at all (not retried).

    ``quota_message`` is the site's own text; ``actions`` the links it offers (``label``, ``url``, ``variant``).
    """

    def __init__(self, message: str, *, status: int | None = None, body: bytes | str = b"",
                 quota_message: str = "", actions: tuple[dict[str, str], ...] = ()) -> None:
        super().__init__(message, status=status, body=body)
        self.quota_message = quota_message
        self.actions = actions


class RestApiError(SiteRefusedError):
    """The site's REST API (``aipkit/v1``) refused the request; ``code`` is WordPress's error code."""

    def __init__(self, message: str, *, status: int | None = None, body: bytes | str = b"", code: str = "") -> None:
        super().__init__(message, status=status, body=body)
        self.code = code


class SiteKeyRejectedError(RestApiError):
    """401 ``rest_aipkit_invalid_api_key``: the site key is wrong or missing."""


class RestApiDisabledError(RestApiError):
    """403 ``rest_aipkit_api_access_disabled`` (or no key configured): the owner has not turned the API on."""


class RestMessagesRejectedError(RestApiError):
    """400: the REST API refused the messages (``rest_aipkit_invalid_messages``, ``rest_invalid_param``, …)."""


class RestBotUnknownError(RestApiError):
    """500 "critical error" from the REST chat route: the plugin's answer for a bot id that is no chatbot."""


class ImagesNotSupportedError(InvalidArgumentError):
    """The message has images, and this site's protocol (legacy, the REST API) cannot carry them."""


class InvalidImageError(InvalidMessagesError):
    """An image part the site would refuse: not a data URL, wrong type, too many, too large, or no text with it."""


# -- issue 12: errors a person can act on ---------------------------------------------


class NoChatBoxError(SiteRefusedError):
    """The page has no AI Power chat box, and the site refused the seed's fallback values.

    ``page`` is the page's URL, ``held`` what the page held instead (a login form, another plugin's
    nonce, …), ``advice`` what to try.
    """

    def __init__(self, message: str, *, status: int | None = None, page: str = "", held: str = "",
                 advice: str = "") -> None:
        super().__init__(message)  # the message says it all: no status or excerpt appended
        self.status = status
        self.page = page
        self.held = held
        self.advice = advice


class ModelFailedError(SiteRefusedError):
    """A streamed answer ended empty, with no error event: the site's model failed (its key, quota or
    upstream).  Tried once more, as a dropped connection looks the same; never more: each send may cost
    the site owner a model call."""

    transient = True
    max_sends = 2


class EventLoopError(ChatGptEsError, RuntimeError):
    """A :class:`Client` was used from another event loop than the one its session lives in."""


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
