"""Every way curl_cffi can fail, as one of our typed errors.

curl_cffi raises its ``RequestException`` family, but also a bare
``CurlError`` (e.g. a URL curl cannot parse), ``ValueError`` / ``TypeError``
from its option handling (``ftp://``), and ``OverflowError`` (an infinite
timeout): all of them end here, by curl's error code where there is one,
their text free of proxy credentials.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import (
    ChatGptEsError,
    DeadlineExceededError,
    InvalidArgumentError,
    InvalidUrlError,
    TlsVerificationError,
    TooLargeError,
    TooManyRedirectsError,
    TransportError,
)
from .redact import redact

if TYPE_CHECKING:
    from .transfer import Transfer
    from .transport import TransportOptions

#: how much of curl's message an error repeats
SHOWN_CHARS = 300
# curl's error codes (https://curl.se/libcurl/c/libcurl-errors.html)
UNSUPPORTED_PROTOCOL, URL_MALFORMAT, OPERATION_TIMEDOUT, TOO_MANY_REDIRECTS = 1, 3, 28, 47
TLS_CODES = frozenset({
    35,  # SSL_CONNECT_ERROR (handshake failed: also a certificate the server's TLS refused)
    51,  # PEER_FAILED_VERIFICATION (older curl)
    53, 54, 58, 59, 64, 66,  # engine, cipher, certificate and CRL problems
    60,  # PEER_FAILED_VERIFICATION: unknown CA, wrong host, expired
    77,  # SSL_CACERT_BADFILE
    80, 82, 83, 90, 91, 98,  # shutdown, CRL, issuer, pinned key, cert status, client cert
})


def _text(error: BaseException, options: TransportOptions) -> str:
    text = redact(" ".join(str(error).split()), options.secrets)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def failure_error(transfer: Transfer, what: str, options: TransportOptions,
                  status: int | None = None) -> ChatGptEsError:
    """The error for a transfer this side ended (too large, silent too long, closed, abandoned)."""
    if transfer.failure == "too_large":
        return TooLargeError(f"{what}: the body exceeded {transfer.limit} bytes (counted after decompression)",
                             status=status)
    if transfer.failure == "silence":
        return DeadlineExceededError(f"{what}: nothing arrived for {options.read_timeout:g} s (read_timeout)")
    if transfer.failure == "closed":  # final: a retry would open a new session behind the caller's back
        closed = TransportError(f"{what}: the client was closed while the request was under way")
        closed.transient = False
        return closed
    return DeadlineExceededError(f"{what}: the transfer was abandoned")


def transport_error(error: BaseException, what: str, options: TransportOptions,
                    transfer: Transfer | None = None) -> ChatGptEsError:
    """Any exception out of a curl_cffi request as one of ours."""
    if isinstance(error, ChatGptEsError):
        return error
    if transfer is not None and transfer.failure is not None and transfer.failure != "abandoned":
        return failure_error(transfer, what, options)
    text = _text(error, options)
    code = int(getattr(error, "code", 0) or 0)
    if code in (UNSUPPORTED_PROTOCOL, URL_MALFORMAT):
        return InvalidUrlError(f"{what}: not a URL that can be requested: {text}")
    if code == OPERATION_TIMEDOUT:
        return DeadlineExceededError(f"{what} timed out: {text}")
    if code == TOO_MANY_REDIRECTS:
        return TooManyRedirectsError(f"{what}: too many redirects: {text}")
    if code in TLS_CODES:
        return TlsVerificationError(f"{what}: TLS verification failed: {text}")
    if isinstance(error, OverflowError | TypeError) or (isinstance(error, ValueError) and not code):
        if "url" in text.lower() or "scheme" in text.lower() or "protocol" in text.lower():
            return InvalidUrlError(f"{what}: not a URL that can be requested: {text}")
        return InvalidArgumentError(f"{what}: curl_cffi refused the request: {text}")
    return TransportError(f"{what} failed: {text}")
