"""The HTTP layer under the fetch and send stages: a curl_cffi async session.

curl_cffi impersonates a real browser's TLS and HTTP/2 fingerprint, which is
what gets a client past Cloudflare's bot checks where a plain Python client is
stopped.  The user-agent is left to the impersonation profile so that header
and fingerprint name the same browser.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import attrs

from . import checks
from .errors import (
    DeadlineExceededError,
    MissingRequirementsError,
    StreamInterruptedError,
    TooLargeError,
    TransportError,
)
from .models import AnswerHead
from .redact import proxy_secrets, redact, redact_headers

if TYPE_CHECKING:
    from curl_cffi.requests import AsyncSession, Response

INSTALL_HINT = 'Install or update "curl_cffi" package | pip install -U curl_cffi'
DEFAULT_IMPERSONATE = "chrome"
#: how long an aborted transfer may take to notice before its task is cancelled, seconds
ABORT_GRACE = 1.0


class InsecureTransportWarning(UserWarning):
    """TLS verification was turned off."""


def require_curl_cffi() -> None:
    """The seed's first step: fail clearly when curl_cffi cannot be imported."""
    try:
        import curl_cffi.requests  # noqa: F401
    except ImportError as error:
        raise MissingRequirementsError(INSTALL_HINT) from error


@attrs.frozen
class TransportOptions:
    """How requests are made.  Checked when made: a wrong type or value fails here, not mid-request."""

    impersonate: str = attrs.field(default=DEFAULT_IMPERSONATE, validator=checks.text)
    proxy: str | None = attrs.field(default=None, repr=False, validator=attrs.validators.optional(checks.text))
    #: True, False, or the path of a CA bundle (PEM) to verify against
    verify: bool | str = attrs.field(default=True, validator=attrs.validators.instance_of((bool, str)))
    connect_timeout: float = attrs.field(default=10.0, validator=checks.seconds)
    read_timeout: float = attrs.field(default=60.0, validator=checks.seconds)
    user_agent: str | None = attrs.field(default=None, validator=attrs.validators.optional(checks.text))
    accept_language: str = attrs.field(default="en-US,en;q=0.9", validator=checks.text)
    max_page_bytes: int = attrs.field(default=8 * 1024 * 1024, validator=checks.count)
    max_answer_bytes: int = attrs.field(default=8 * 1024 * 1024, validator=checks.count)

    @property
    def secrets(self) -> tuple[str, ...]:
        return proxy_secrets(self.proxy)


def open_session(options: TransportOptions) -> AsyncSession[Response]:
    """A browser-impersonating async session, reused across requests (keep-alive)."""
    require_curl_cffi()
    from curl_cffi.requests import AsyncSession

    if options.verify is False:
        warnings.warn("TLS certificate verification is OFF: anyone on the network path can read and change "
                      "this chat. Pass a CA bundle path as `verify` instead.", InsecureTransportWarning, stacklevel=3)
    headers = {"accept-language": options.accept_language}
    if options.user_agent:
        headers["user-agent"] = options.user_agent
    return AsyncSession(
        impersonate=options.impersonate,
        headers=headers,
        proxy=options.proxy,
        verify=options.verify,  # type: ignore[arg-type]  # a CA bundle path works too; curl_cffi's hints say bool
        timeout=(options.connect_timeout, options.read_timeout),
        allow_redirects=True,
        max_clients=64,
    )


def transport_error(error: BaseException, what: str, options: TransportOptions) -> TransportError:
    """A curl_cffi exception as one of ours, its text free of proxy credentials."""
    from curl_cffi.requests import exceptions

    text = redact(str(error), options.secrets)
    if isinstance(error, exceptions.Timeout):
        return DeadlineExceededError(f"{what} timed out: {text}")
    return TransportError(f"{what} failed: {text}")


@attrs.define
class Answer:
    """A response whose head has arrived; its body is read with :meth:`chunks`."""

    head: AnswerHead
    response: Any
    options: TransportOptions

    async def chunks(self) -> AsyncIterator[bytes]:
        from curl_cffi.requests import exceptions

        try:
            async for chunk in self.response.aiter_content():
                yield chunk
        except exceptions.RequestException as error:
            text = redact(str(error), self.options.secrets)
            raise StreamInterruptedError(f"the connection broke mid-answer: {text}",
                                         status=self.head.status) from None
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
        """Release the connection; a transfer still under way (an answer given up early) is aborted.

        curl_cffi's own ``aclose`` waits for the whole transfer, which a keep-alive stream never ends.
        """
        task = getattr(self.response, "astream_task", None)
        if task is None:
            return
        task.add_done_callback(_consume_outcome)
        if task.done():
            return
        quit_now = getattr(self.response, "quit_now", None)
        if quit_now is not None:
            quit_now.set()  # curl stops at the next bytes that arrive
        done, _ = await asyncio.wait({task}, timeout=ABORT_GRACE)
        if not done:
            task.cancel()  # nothing arrives to stop on: drop the transfer


def _consume_outcome(task: asyncio.Future[Any]) -> None:
    """An aborted transfer ends in an error nobody waits for: take it, so asyncio does not report it."""
    if not task.cancelled():
        task.exception()


async def open_answer(session: AsyncSession[Response], method: str, url: str, options: TransportOptions,
                      *, headers: dict[str, str], content: bytes | None = None) -> Answer:
    """Send a request and return as soon as the answer's head has arrived (the body streams)."""
    from curl_cffi.requests import exceptions

    try:
        response = await session.request(method, url, headers=headers, data=content,  # type: ignore[arg-type]
                                         stream=True)  # (the hints reject raw bytes as data; curl_cffi sends them)
    except exceptions.RequestException as error:
        raise transport_error(error, f"{method} {redact(url, options.secrets)}", options) from None
    head = AnswerHead(
        url=str(response.url),
        status=int(response.status_code),
        # cookies stay in curl's jar; what the stages see (and traces keep) never holds them
        headers=redact_headers(tuple((str(k), str(v)) for k, v in response.headers.multi_items())),
    )
    return Answer(head, response, options)
