"""One request's transfer, fed by curl's own callbacks (the session that runs it: :mod:`stages.session`).

* the body callback counts the bytes *after* curl decoded them (gzip, deflate,
  br, zstd: curl inflates in steps of 16 KiB, calling back after each) and
  aborts the transfer the moment the limit is passed, so memory stays within
  the limit plus curl's buffers, and the browser's ``Accept-Encoding`` (part of
  the fingerprint) is sent unchanged;
* the bytes are gathered in one buffer that the reader takes whole, so a site
  that sends one byte per chunk costs one parse step per read, not per byte;
* every received byte (head or body) restarts a watchdog: ``read_timeout`` is
  the longest silence between two received bytes (the first byte may take
  ``connect_timeout + read_timeout``);
* :meth:`Transfer.abort` removes the handle from curl's multi at once (the
  connection is closed and the handle goes back to the pool), whatever state
  the transfer is in: waiting for the head, streaming, or stalled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from curl_cffi import CurlInfo
from curl_cffi.curl import CURL_WRITEFUNC_ERROR

if TYPE_CHECKING:
    from .session import CurlSession, Handle

class Transfer:
    """What one request may receive, what it received, and how it ended."""

    def __init__(self, limit: int, first_byte: float, silence: float) -> None:
        self.limit = limit
        self.silence = silence
        self.received = 0
        self.buffer = bytearray()
        self.arrived = asyncio.Event()
        #: the header lines of the latest response (a redirect or ``100 Continue`` is followed by another)
        self.head_lines: list[bytes] = []
        #: why this side ended the transfer: ``too_large``, ``silence``, ``closed``, ``abandoned``; None = it was not
        self.failure: str | None = None
        self.done = False
        #: the latest response's status (0: none) and the URL that answered it (after redirects)
        self.status = 0
        self.url = ""
        self._loop = asyncio.get_running_loop()
        #: resolved by the first body byte, or by the end (a body-less answer, an error)
        self.head_ready: asyncio.Future[None] = self._loop.create_future()
        self._last = self._loop.time()
        self._first_byte = first_byte
        self._touched = False
        self._timer: asyncio.TimerHandle | None = None  # started with the transfer (not while it waits a slot)
        self._curl: Handle | None = None
        self._session: CurlSession | None = None
        self._ended: asyncio.Future[None] | None = None  # curl's: done when curl finished with the transfer
        self._on_done: list[Callable[[], None]] = []

    # -- called by curl (on the event loop, inside curl's socket handling) ---------------

    def write(self, chunk: bytes) -> int:
        """curl's body callback."""
        if self.failure is not None:
            return CURL_WRITEFUNC_ERROR
        self._last = self._loop.time()  # a received byte: the watchdog counts silence from here
        self._touched = True
        if not self.head_ready.done():
            self.head_in()
        self.received += len(chunk)
        if self.received > self.limit:
            self.failure = "too_large"
            self.arrived.set()
            return CURL_WRITEFUNC_ERROR
        self.buffer += chunk
        self.arrived.set()
        return len(chunk)

    def header(self, line: bytes) -> int:
        """curl's head callback, once per header line of every response (redirects, 1xx, a proxy's CONNECT)."""
        self._last = self._loop.time()  # a received byte: the watchdog counts silence from here
        self._touched = True
        if self.head_ready.done():
            return len(line)  # a trailer after the body began: not part of the head the stages saw
        if line[:5] == b"HTTP/":  # a new response: only the last one's fields count
            self.head_lines = []
        else:
            self.head_lines.append(line)
        return len(line)

    def head_in(self) -> None:
        """The latest response's head is complete: note its status and URL while the handle is ours."""
        if self._curl is not None:
            status = self._curl.getinfo(CurlInfo.RESPONSE_CODE)
            url = self._curl.getinfo(CurlInfo.EFFECTIVE_URL)
            self.status = status if isinstance(status, int) else 0
            self.url = url.decode(errors="replace") if isinstance(url, bytes) else str(url)
        self.head_ready.set_result(None)

    # -- what arrived ------------------------------------------------------------------

    def headers(self) -> tuple[tuple[str, str], ...]:
        """The latest response's header fields (a folded line continues the field before it)."""
        fields: list[list[str]] = []
        for raw in self.head_lines:
            try:
                line = raw.decode()
            except UnicodeDecodeError:  # that line only: one odd byte does not garble the others
                line = raw.decode("latin-1")
            if line[:1] in (" ", "\t") and fields:
                fields[-1][1] = f"{fields[-1][1]} {line.strip()}".rstrip()
                continue
            name, colon, value = line.partition(":")
            if colon:
                fields.append([name.strip(), value.strip()])
        return tuple((name, value) for name, value in fields)

    @property
    def ended(self) -> bool:
        """Nothing more arrives: curl finished (the handle may not be back in the pool yet)."""
        return self.done or (self._ended is not None and self._ended.done())

    @property
    def error(self) -> BaseException | None:
        """curl's error, when the transfer failed on curl's side (refused, reset, TLS…)."""
        ended = self._ended
        if ended is None or not ended.done() or ended.cancelled():
            return None
        return ended.exception()

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    # -- the watchdog and the end --------------------------------------------------------

    def _check(self) -> None:
        self._timer = None
        if self.done:
            return
        deadline = self._last + (self.silence if self._touched else self._first_byte)
        if self._loop.time() >= deadline:
            self.abort("silence")
        else:
            self._timer = self._loop.call_at(deadline, self._check)

    def attach(self, curl: Handle, session: CurlSession, ended: asyncio.Future[None]) -> None:
        self._curl, self._session, self._ended = curl, session, ended
        self._last = self._loop.time()
        # first at the earlier of the two deadlines a transfer can have (no byte yet: connect + read; a byte:
        # read, counted from it, so never before start + read): the first byte then needs no new timer
        self._timer = self._loop.call_at(self._last + min(self._first_byte, self.silence), self._check)

    def when_done(self, callback: Callable[[], None]) -> None:
        if self.done:
            callback()
        else:
            self._on_done.append(callback)

    def released(self) -> None:
        """The handle went back to the session: nothing more arrives."""
        if self.done:
            return
        if not self.head_ready.done():
            self.head_in()
        self.done = True
        self._curl = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.arrived.set()
        callbacks, self._on_done = self._on_done, []
        for callback in callbacks:
            callback()

    def abort(self, reason: str = "abandoned") -> None:
        """End the transfer now: the handle leaves curl's multi and its connection is closed."""
        if self.ended:  # curl already finished it: nothing to stop; the handle goes back now
            if not self.done and self._curl is not None and self._session is not None:
                self._session.finished(self._curl, self)
            return
        if self.failure is None:
            self.failure = reason
        self.arrived.set()
        if self._curl is None or self._session is None:
            self.released()  # it never got a handle: nothing to give back
            return
        self._session.remove(self._curl)  # its future is cancelled, and the session takes the handle back
