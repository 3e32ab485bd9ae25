"""One transfer's guard, inside curl_cffi: byte limit, silence watchdog, abort.

curl_cffi's streaming session queues every piece curl writes, without bound,
and abandons (but keeps running) a transfer whose caller stopped waiting.  So
each request here gets a :class:`Transfer` that curl's own callbacks go
through, set on the curl handle before the request's options are applied:

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

A site gets at most :data:`PER_SITE` transfers of a session at a time (of its
:data:`MAX_TRANSFERS` handles), so one site that never answers cannot hold
every handle while messages to other sites wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable
from typing import Any

from curl_cffi import Curl, CurlError, CurlOpt
from curl_cffi.curl import CURL_WRITEFUNC_ERROR
from curl_cffi.requests import AsyncSession, Response

#: curl handles (concurrent transfers) of one session (made when first needed)
MAX_TRANSFERS = 256
#: concurrent transfers one site (origin) may hold: 64 conversations with one site run at once (a batch, a
#: server in front of it), and a site that never answers still leaves three quarters of the handles to others
PER_SITE = 64
#: the transfer of the request being set up in this task (read when curl_cffi takes a handle)
CURRENT: contextvars.ContextVar[Transfer | None] = contextvars.ContextVar("chatgpt_es_transfer", default=None)


class Transfer:
    """What one request may receive, and how it ended."""

    def __init__(self, limit: int, first_byte: float, silence: float) -> None:
        self.limit = limit
        self.silence = silence
        self.received = 0
        self.buffer = bytearray()
        self.arrived = asyncio.Event()
        #: why this side ended the transfer: ``too_large``, ``silence``, ``abandoned``; None = it was not
        self.failure: str | None = None
        self.done = False
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()
        self._first_byte = first_byte
        self._touched = False
        self._timer: asyncio.TimerHandle | None = None  # started with the transfer (not while it waits a slot)
        self._curl: GuardedCurl | None = None
        self._session: GuardedSession | None = None
        self._on_done: list[Callable[[], None]] = []
        self._started = False

    # -- called by curl (on the event loop, inside curl's socket handling) ---------------

    def writer(self, qput: Callable[[bytes], Any]) -> Callable[[bytes], int]:
        """curl_cffi's body callback, wrapped: its queue only learns that the head is in."""

        def write(chunk: bytes) -> int:
            if self.failure is not None:
                return CURL_WRITEFUNC_ERROR
            self.touched()
            if not self._started:
                self._started = True
                qput(b"")  # curl_cffi's sign that the head is complete
            self.received += len(chunk)
            if self.received > self.limit:
                self.failure = "too_large"
                self.arrived.set()
                return CURL_WRITEFUNC_ERROR
            self.buffer += chunk
            self.arrived.set()
            return len(chunk)

        return write

    def touched(self) -> None:
        self._last = self._loop.time()
        if not self._touched:  # from now on the watchdog counts read_timeout, which may end sooner
            self._touched = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = self._loop.call_at(self._last + self.silence, self._check)

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

    def attach(self, curl: GuardedCurl, session: GuardedSession) -> None:
        self._curl, self._session = curl, session
        self._last = self._loop.time()
        self._timer = self._loop.call_at(self._last + self._first_byte, self._check)

    def when_done(self, callback: Callable[[], None]) -> None:
        if self.done:
            callback()
        else:
            self._on_done.append(callback)

    def released(self) -> None:
        """curl_cffi gave the handle back: nothing more arrives."""
        if self.done:
            return
        self.done = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.arrived.set()
        callbacks, self._on_done = self._on_done, []
        for callback in callbacks:
            callback()

    def abort(self, reason: str = "abandoned") -> None:
        """End the transfer now: the handle leaves curl's multi and its connection is closed."""
        if self.failure is None:
            self.failure = reason
        self.arrived.set()
        curl, session = self._curl, self._session
        if self.done or curl is None or session is None or curl.transfer is not self:
            if curl is None:
                self.released()  # it never got a handle: nothing to give back
            return
        with contextlib.suppress(CurlError):  # (only if curl's multi is gone: then so is the transfer)
            session.acurl.remove_handle(curl)  # its perform task ends, and curl_cffi releases the handle

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


class _HeaderTap:
    """The head's buffer, passed through: each header byte counts as a received byte."""

    def __init__(self, inner: Any, transfer: Transfer) -> None:
        self.inner, self.transfer = inner, transfer

    def write(self, data: bytes) -> int:
        transfer = self.transfer
        if transfer._touched:  # the common case, once per header line: only the time of the last byte
            transfer._last = transfer._loop.time()
        else:
            transfer.touched()
        return int(self.inner.write(data))


_WRITEFUNCTION = int(CurlOpt.WRITEFUNCTION)
_HEADERDATA = int(CurlOpt.HEADERDATA)
_LOW_SPEED = frozenset({int(CurlOpt.LOW_SPEED_LIMIT), int(CurlOpt.LOW_SPEED_TIME)})
#: the options a transfer takes over (looked up as plain ints: about 20 options are set per request)
_GUARDED = frozenset({_WRITEFUNCTION, _HEADERDATA, *_LOW_SPEED})


class GuardedCurl(Curl):
    """A curl handle whose body and head callbacks go through the current :class:`Transfer`."""

    transfer: Transfer | None = None

    def setopt(self, option: CurlOpt, value: Any) -> int:
        transfer = self.transfer
        if transfer is not None and option in _GUARDED:
            if option == _WRITEFUNCTION:
                value = transfer.writer(value)
            elif option == _HEADERDATA:
                value = _HeaderTap(value, transfer)
            else:
                return 0  # LOW_SPEED_*: curl_cffi's stand-in for a read timeout; the watchdog is the real one
        return Curl.setopt(self, option, value)


class GuardedSession(AsyncSession[Response]):
    """curl_cffi's async session with guarded handles and a per-site cap on transfers."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_clients=MAX_TRANSFERS, **kwargs)
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}

    async def pop_curl(self) -> Curl:
        curl = await self.pool.get()
        if not isinstance(curl, GuardedCurl):
            if curl is not None:
                curl.close()
            curl = GuardedCurl(cacert=self.acurl._cacert, debug=self.debug)
            self._attach_share(curl)
        transfer = CURRENT.get()
        curl.transfer = transfer
        if transfer is not None:
            transfer.attach(curl, self)
        return curl

    def release_curl(self, curl: Curl) -> None:
        transfer = getattr(curl, "transfer", None)
        if isinstance(curl, GuardedCurl):
            curl.transfer = None
        super().release_curl(curl)
        if transfer is not None:
            transfer.released()

    async def slot(self, site: str, transfer: Transfer) -> None:
        """Wait for one of the site's :data:`PER_SITE` slots; it is freed when the transfer ends."""
        semaphore = self._slots.setdefault(site, asyncio.Semaphore(PER_SITE))
        self._users[site] = self._users.get(site, 0) + 1
        try:
            await semaphore.acquire()
        except BaseException:
            self._leave(site)
            raise

        def free() -> None:
            semaphore.release()
            self._leave(site)

        transfer.when_done(free)

    def _leave(self, site: str) -> None:
        self._users[site] -= 1
        if not self._users[site]:  # nobody holds or waits for the site: forget it
            del self._users[site], self._slots[site]
