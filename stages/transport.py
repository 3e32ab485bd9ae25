"""The HTTP layer under the fetch and send stages: sessions, requests, answers.

curl_cffi impersonates a real browser's TLS and HTTP/2 fingerprint, which is
what gets a client past Cloudflare's bot checks where a plain Python client is
stopped.  The user-agent is left to the impersonation profile so that header
and fingerprint name the same browser.  The session is the project's own engine
on curl_cffi's handles, and each transfer is guarded (byte limit on decoded
bytes, silence watchdog, abort at once): see :mod:`stages.transfer`.
"""

from __future__ import annotations

import functools
import os
import urllib.parse
import warnings
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import attrs

from . import checks
from .curl_errors import failure_error, transport_error
from .endpoint import check_url
from .errors import InvalidArgumentError, MissingRequirementsError, StreamInterruptedError, TooLargeError
from .models import AnswerHead
from .redact import proxy_secrets, redact, redact_headers

if TYPE_CHECKING:
    from .session import CurlSession
    from .transfer import Transfer

INSTALL_HINT = 'Install or update "curl_cffi" package | pip install -U curl_cffi'
DEFAULT_IMPERSONATE = "chrome"
#: a timeout longer than a year is a mistake (and inf overflows curl's milliseconds)
MAX_SECONDS = 365 * 86_400.0
#: redirects a page fetch follows (a browser stops at 20; WordPress needs one or two)
MAX_PAGE_REDIRECTS = 10
#: only these protocols, also after a redirect (curl would otherwise speak file:, dict:, ftp:…)
PROTOCOLS = "http,https"
DEFAULT_PORTS = {"http": 80, "https": 443}
#: bytes curl takes from the socket per read: one event-loop step then runs a bounded number of callbacks
#: (a site sending one-byte chunks would otherwise make one step run tens of thousands of them)
RECV_BUFFER = 8192


class InsecureTransportWarning(UserWarning):
    """TLS verification was turned off."""


def require_curl_cffi() -> None:
    """The seed's first step: fail clearly when curl_cffi cannot be imported."""
    try:
        import curl_cffi.requests  # noqa: F401
    except ImportError as error:
        raise MissingRequirementsError(INSTALL_HINT) from error


def _finite_seconds(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < MAX_SECONDS:
        raise InvalidArgumentError(f"{attribute.name} must be a finite number of seconds > 0, not {value!r}")


def _header_value(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{attribute.name} must be a string, not {type(value).__name__}")
    if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in value):
        raise InvalidArgumentError(f"{attribute.name} must not contain control characters (CR, LF…): "
                                   f"it is sent as a header")


def _verify(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool):
        return
    if not isinstance(value, str) or not value or not os.path.isfile(value):
        raise InvalidArgumentError(f"verify must be True, False or the path of an existing CA bundle file, "
                                   f"not {value!r}")


def _impersonate(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"impersonate must be a string, not {type(value).__name__}")
    try:
        from curl_cffi.requests.impersonate import resolve_latest_browser_type
        from curl_cffi.requests.utils import NATIVE_TARGET_NAMES
    except ImportError:  # the seed's first step reports a missing curl_cffi
        return
    if resolve_latest_browser_type(value) not in NATIVE_TARGET_NAMES:  # type: ignore[no-untyped-call]
        raise InvalidArgumentError(f"impersonate {value!r} is not a browser profile curl_cffi knows; e.g. "
                                   f"chrome, edge, safari, firefox, chrome_android, safari_ios")


def _hosts(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, list | tuple | set | frozenset) or not all(isinstance(h, str) for h in value):
        raise InvalidArgumentError(f"allow_endpoint_hosts must be host names, not {value!r}")
    return tuple(sorted(h.strip().lower() for h in value if h.strip()))


@attrs.frozen
class TransportOptions:
    """How requests are made.  Checked when made: a wrong type or value fails here, not mid-request."""

    impersonate: str = attrs.field(default=DEFAULT_IMPERSONATE, validator=_impersonate)
    proxy: str | None = attrs.field(default=None, repr=False, validator=attrs.validators.optional(checks.text))
    #: True, False, or the path of a CA bundle (PEM) to verify against
    verify: bool | str = attrs.field(default=True, validator=_verify)
    connect_timeout: float = attrs.field(default=10.0, validator=_finite_seconds)
    #: the longest silence between two received bytes (the first byte: connect_timeout + read_timeout)
    read_timeout: float = attrs.field(default=60.0, validator=_finite_seconds)
    user_agent: str | None = attrs.field(default=None, validator=_header_value)
    accept_language: str = attrs.field(default="en-US,en;q=0.9", validator=_header_value)
    max_page_bytes: int = attrs.field(default=8 * 1024 * 1024, validator=checks.count)
    max_answer_bytes: int = attrs.field(default=8 * 1024 * 1024, validator=checks.count)
    #: hosts a page may name as its endpoint although they are not the page's site (see stages.endpoint)
    allow_endpoint_hosts: tuple[str, ...] = attrs.field(default=(), converter=_hosts)

    @property
    def secrets(self) -> tuple[str, ...]:
        return proxy_secrets(self.proxy)


def open_session(options: TransportOptions) -> CurlSession:
    """A browser-impersonating session, reused across requests (keep-alive, one cookie jar)."""
    require_curl_cffi()
    from curl_cffi import CurlOpt
    from curl_cffi.requests.impersonate import resolve_latest_browser_type

    from .session import CurlSession

    if options.verify is False:
        warnings.warn("TLS certificate verification is OFF: anyone on the network path can read and change "
                      "this chat. Pass a CA bundle path as `verify` instead.", InsecureTransportWarning, stacklevel=3)
    headers = {"accept-language": options.accept_language}
    if options.user_agent:
        headers["user-agent"] = options.user_agent
    return CurlSession(
        impersonate=resolve_latest_browser_type(options.impersonate),  # type: ignore[no-untyped-call]
        headers=headers,
        proxy=options.proxy,
        verify=options.verify,
        connect_timeout=options.connect_timeout,
        max_redirects=MAX_PAGE_REDIRECTS,
        options={CurlOpt.PROTOCOLS_STR: PROTOCOLS, CurlOpt.REDIR_PROTOCOLS_STR: PROTOCOLS,
                 CurlOpt.BUFFERSIZE: RECV_BUFFER},
    )


@attrs.define
class Answer:
    """A response whose head has arrived; its body is read with :meth:`chunks`."""

    head: AnswerHead
    transfer: Transfer
    options: TransportOptions

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives: each read takes all the bytes received since the last one."""
        transfer = self.transfer
        try:
            while True:
                if transfer.buffer:
                    yield transfer.take()
                    continue
                if transfer.ended or transfer.failure is not None:
                    break
                transfer.arrived.clear()
                await transfer.arrived.wait()
            if transfer.failure is not None:
                raise failure_error(transfer, "reading the answer", self.options, status=self.head.status)
            if transfer.error is not None:
                text = redact(str(transfer.error), self.options.secrets)
                raise StreamInterruptedError(f"the connection broke mid-answer: {text}", status=self.head.status)
        finally:
            await self.aclose()

    async def read(self, limit: int) -> bytes:
        """The whole body, or :class:`TooLargeError` past ``limit`` bytes."""
        parts: list[bytes] = []
        size = 0
        async for chunk in self.chunks():
            size += len(chunk)
            if size > limit:
                raise TooLargeError(f"the body exceeded {limit} bytes", status=self.head.status)
            parts.append(chunk)
        return b"".join(parts)

    async def aclose(self) -> None:
        """Release the connection now; a transfer still under way (an answer given up early) is aborted."""
        self.transfer.abort()  # (nothing to do once curl finished it)


def _site_of(url: str) -> str:
    return _origin_key(url.partition("?")[0].partition("#")[0])


@functools.lru_cache(maxsize=256)
def _origin_key(url: str) -> str:
    """The per-site slot's key (a request URL checked by check_url, without its query: the same few per site)."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return f"{scheme}://{(parts.hostname or '').lower()}:{parts.port or DEFAULT_PORTS.get(scheme, '')}"


@functools.lru_cache(maxsize=256)
def _on_the_wire(url: str) -> str:
    """The URL as curl_cffi's session sent it: fully and consistently %-quoted (curl sends a query as given)."""
    from curl_cffi.requests.utils import requote_uri

    return str(requote_uri(url))


def _what(method: str, url: str, options: TransportOptions) -> str:
    """The request as an error names it (credentials masked): built only when there is an error."""
    return f"{method} {redact(url, options.secrets)}"


async def open_answer(session: CurlSession, method: str, url: str, options: TransportOptions,
                      *, headers: dict[str, str], content: bytes | None = None, limit: int | None = None,
                      follow_redirects: bool = True) -> Answer:
    """Send a request and return as soon as the answer's head has arrived (the body streams).

    Whatever ends the wait — an error, a deadline, a cancellation — ends the transfer with it.
    """
    from .transfer import Transfer

    check_url(url, "the request URL")  # curl would also speak schemes and ports no site should name
    transfer = Transfer(limit or options.max_answer_bytes, options.connect_timeout + options.read_timeout,
                        options.read_timeout)
    try:
        await session.request(transfer, _site_of(url), method, _on_the_wire(url), headers, content,
                              follow_redirects)
        if transfer.error is not None and transfer.failure is None and not transfer.received:
            raise transfer.error  # it ended before any of its body: no answer to read
    except BaseException as error:
        transfer.abort()
        if isinstance(error, Exception):
            raise transport_error(error, _what(method, url, options), options, transfer) from None
        raise
    if transfer.failure is not None:
        transfer.abort()
        raise failure_error(transfer, _what(method, url, options), options, status=transfer.status or None)
    # cookies stay in curl's jar; what the stages see (and traces keep) never holds them
    head = AnswerHead(url=transfer.url, status=transfer.status, headers=redact_headers(transfer.headers()))
    return Answer(head, transfer, options)
