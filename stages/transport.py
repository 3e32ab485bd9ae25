"""The HTTP layer under the fetch and send stages: a curl_cffi async session.

curl_cffi impersonates a real browser's TLS and HTTP/2 fingerprint, which is
what gets a client past Cloudflare's bot checks where a plain Python client is
stopped.  The user-agent is left to the impersonation profile so that header
and fingerprint name the same browser.  Each transfer is guarded (byte limit
on decoded bytes, silence watchdog, abort at once): see :mod:`stages.transfer`.
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
    from curl_cffi.requests import AsyncSession, Response

    from .transfer import Transfer

INSTALL_HINT = 'Install or update "curl_cffi" package | pip install -U curl_cffi'
DEFAULT_IMPERSONATE = "chrome"
#: a timeout longer than a year is a mistake (and inf overflows curl's milliseconds)
MAX_SECONDS = 365 * 86_400.0
#: redirects a page fetch follows (a browser stops at 20; WordPress needs one or two)
MAX_PAGE_REDIRECTS = 10
#: only these protocols, also after a redirect (curl would otherwise speak file:, dict:, ftp:…)
PROTOCOLS = "http,https"
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


def open_session(options: TransportOptions) -> AsyncSession[Response]:
    """A browser-impersonating async session, reused across requests (keep-alive)."""
    require_curl_cffi()
    from curl_cffi import CurlOpt

    from .transfer import GuardedSession

    if options.verify is False:
        warnings.warn("TLS certificate verification is OFF: anyone on the network path can read and change "
                      "this chat. Pass a CA bundle path as `verify` instead.", InsecureTransportWarning, stacklevel=3)
    headers = {"accept-language": options.accept_language}
    if options.user_agent:
        headers["user-agent"] = options.user_agent
    return GuardedSession(
        impersonate=options.impersonate,  # checked against curl_cffi's list
        headers=headers,
        proxy=options.proxy,
        verify=options.verify,
        allow_redirects=True,
        max_redirects=MAX_PAGE_REDIRECTS,
        curl_options={CurlOpt.PROTOCOLS_STR: PROTOCOLS, CurlOpt.REDIR_PROTOCOLS_STR: PROTOCOLS,
                      CurlOpt.BUFFERSIZE: RECV_BUFFER},
    )


@attrs.define
class Answer:
    """A response whose head has arrived; its body is read with :meth:`chunks`."""

    head: AnswerHead
    response: Any
    options: TransportOptions
    transfer: Transfer | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives: each read takes all the bytes received since the last one."""
        transfer = self.transfer
        try:
            if transfer is None:  # a session that is not ours (tests may pass one): curl_cffi's own reader
                async for chunk in self.response.aiter_content():
                    yield chunk
                return
            while True:
                if transfer.buffer:
                    yield transfer.take()
                    continue
                if transfer.done or transfer.failure is not None:
                    break
                transfer.arrived.clear()
                await transfer.arrived.wait()
            self._raise_if_failed(transfer)
        except ImportError:
            raise
        except Exception as error:
            if getattr(error, "__module__", "").startswith("curl_cffi"):
                text = redact(str(error), self.options.secrets)
                raise StreamInterruptedError(f"the connection broke mid-answer: {text}",
                                             status=self.head.status) from None
            raise
        finally:
            await self.aclose()

    def _raise_if_failed(self, transfer: Transfer) -> None:
        if transfer.failure is not None:
            raise failure_error(transfer, "reading the answer", self.options, status=self.head.status)
        queue = getattr(self.response, "queue", None)
        while queue is not None and not queue.empty():
            item = queue.get_nowait()
            if isinstance(item, Exception):
                text = redact(str(item), self.options.secrets)
                raise StreamInterruptedError(f"the connection broke mid-answer: {text}", status=self.head.status)

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
        if self.transfer is not None:
            if not self.transfer.done:
                self.transfer.abort()
            return
        task = getattr(self.response, "astream_task", None)
        if task is not None and not task.done():
            task.cancel()


def _site_of(url: str) -> str:
    return _origin_key(url.partition("?")[0].partition("#")[0])


@functools.lru_cache(maxsize=256)
def _origin_key(url: str) -> str:
    """The per-site slot's key (a request URL checked by check_url, without its query: the same few per site)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{parts.port or ''}"


def _what(method: str, url: str, options: TransportOptions) -> str:
    """The request as an error names it (credentials masked): built only when there is an error."""
    return f"{method} {redact(url, options.secrets)}"


async def open_answer(session: AsyncSession[Response], method: str, url: str, options: TransportOptions,
                      *, headers: dict[str, str], content: bytes | None = None, limit: int | None = None,
                      follow_redirects: bool = True) -> Answer:
    """Send a request and return as soon as the answer's head has arrived (the body streams).

    Whatever ends the wait — an error, a deadline, a cancellation — ends the transfer with it.
    """
    from .transfer import CURRENT, GuardedSession, Transfer

    check_url(url, "the request URL")  # curl_cffi fails on some (javascript:, data:, bad ports) in a stray task
    transfer = Transfer(limit or options.max_answer_bytes, options.connect_timeout + options.read_timeout,
                        options.read_timeout)
    token = CURRENT.set(transfer)
    try:
        if isinstance(session, GuardedSession):
            await session.slot(_site_of(url), transfer)
        response = await session.request(method, url, headers=headers, data=content,  # type: ignore[arg-type]
                                         stream=True, timeout=options.connect_timeout,
                                         allow_redirects=follow_redirects)
    except BaseException as error:
        transfer.abort()
        if isinstance(error, Exception):
            raise transport_error(error, _what(method, url, options), options, transfer) from None
        raise
    finally:
        CURRENT.reset(token)
    if transfer.failure is not None:
        transfer.abort()
        raise failure_error(transfer, _what(method, url, options), options, status=int(response.status_code))
    head = AnswerHead(
        url=str(response.url),
        status=int(response.status_code),
        # cookies stay in curl's jar; what the stages see (and traces keep) never holds them
        headers=redact_headers(tuple((str(k), str(v)) for k, v in response.headers.multi_items())),
    )
    return Answer(head, response, options, transfer if isinstance(session, GuardedSession) else None)
