"""The HTTP engine under :mod:`stages.transport`: curl handles driven on curl_cffi's async multi.

Why not curl_cffi's ``AsyncSession``: for every request it rebuilds every
option of the handle (the impersonation, about twenty options, header merging,
a Python cookie jar copied in and out), and for a streamed answer it adds a
task and an unbounded queue.  That was half of this client's CPU per message
(``python -m bench.floor``).  Here a handle is prepared once (impersonation,
TLS, proxy, protocols, curl's cookie engine shared by the session's handles)
and a request sets only what changes: URL, method, body, headers, redirects.
The fingerprint is curl_cffi's, set by the same call (``Curl.impersonate``).

Each request is a :class:`Transfer`, fed by curl's own callbacks:

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

A session has at most :data:`MAX_TRANSFERS` transfers at a time, and a site at
most :data:`PER_SITE` of them, so one site that never answers cannot hold
every handle while messages to other sites wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from curl_cffi import Curl, CurlError, CurlInfo, CurlOpt
from curl_cffi.aio import AsyncCurl
from curl_cffi.const import CurlLockData
from curl_cffi.curl import CURL_WRITEFUNC_ERROR, CurlShare

#: curl handles (concurrent transfers) of one session (made when first needed)
MAX_TRANSFERS = 256
#: concurrent transfers one site (origin) may hold: 64 conversations with one site run at once (a batch, a
#: server in front of it), and a site that never answers still leaves three quarters of the handles to others
PER_SITE = 64
#: what curl_cffi's session sends unless the impersonation sets its own (it does: the browser's list)
ACCEPT_ENCODING = b"gzip, deflate, br"


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


class Handle(Curl):
    """A prepared curl handle, and what the last request left set on it."""

    follows: bool | None = None


class CurlSession:
    """Prepared curl handles on one curl multi, a cookie jar they share, and caps on transfers."""

    def __init__(self, *, impersonate: str, headers: dict[str, str], proxy: str | None, verify: bool | str,
                 connect_timeout: float, max_redirects: int, options: dict[CurlOpt, object]) -> None:
        self._impersonate = impersonate
        self._proxy = proxy
        self._verify = verify
        self._connect_ms = int(connect_timeout * 1000)
        self._max_redirects = max_redirects
        self._options = options
        #: the session's own headers, by lower-case name; a request's headers of the same name replace them
        self._headers = {name.lower(): f"{name}: {value}".encode() for name, value in headers.items()}
        self._acurl: AsyncCurl | None = None
        self._share: CurlShare | None = None
        self._idle: list[Handle] = []
        self._made: list[Handle] = []
        self._live: set[Transfer] = set()
        self._handles: asyncio.Semaphore | None = None
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}
        self.closed = False

    @property
    def handles(self) -> int:
        """curl handles made so far (each prepared once, then reused)."""
        return len(self._made)

    async def request(self, transfer: Transfer, site: str, method: str, url: str, headers: dict[str, str],
                      body: bytes | None, follow_redirects: bool) -> None:
        """Start ``transfer`` and return when its head is in (or it ended): see ``transfer.error``."""
        if self.closed:
            transfer.failure = "closed"
            raise CurlError("the session is closed")
        await self._slot(site, transfer)
        if self._handles is None:
            self._handles = asyncio.Semaphore(MAX_TRANSFERS)
        await self._handles.acquire()
        transfer.when_done(self._handles.release)
        if self.closed:  # closed while this request waited
            transfer.failure = "closed"
            raise CurlError("the session is closed")
        curl = self._idle.pop() if self._idle else self._new_handle()
        try:
            self._prepare(curl, transfer, method, url, headers, body, follow_redirects)
            future = self._multi().add_handle(curl)
        except BaseException:
            curl.clean_handles_and_buffers()
            self._idle.append(curl)
            raise
        self._live.add(transfer)
        transfer.attach(curl, self, future)
        future.add_done_callback(lambda _: self.finished(curl, transfer))
        await transfer.head_ready

    def remove(self, curl: Handle) -> None:
        """Take a handle out of curl's multi mid-transfer (its connection is closed)."""
        if self._acurl is not None:
            with contextlib.suppress(CurlError):  # (only if curl's multi is gone: then so is the transfer)
                self._acurl.remove_handle(curl)

    async def close(self) -> None:
        """Abort what is under way, then free every handle, the multi and the shared jar."""
        if self.closed:
            return
        self.closed = True
        try:
            for transfer in list(self._live):
                transfer.abort("closed")
            if self._acurl is not None:
                await self._acurl.close()  # type: ignore[no-untyped-call]
        finally:
            for transfer in list(self._live):  # (their futures' callbacks have not run yet)
                transfer.released()
            self._live.clear()
            self._idle.clear()
            made, self._made = self._made, []
            for curl in made:
                curl.close()
            if self._share is not None:
                self._share.close()

    # -- handles -------------------------------------------------------------------------

    def _multi(self) -> AsyncCurl:
        if self._acurl is None:
            self._acurl = AsyncCurl()
        return self._acurl

    def _set_up(self, curl: Handle) -> None:
        """Everything that does not change between requests."""
        assert self._share is not None
        # attached as curl_cffi's own session attaches a share: the handle keeps the share alive (a handle
        # collected after its share would call into freed locks)
        curl.setopt(CurlOpt.SHARE, self._share._curl_share)
        curl._share = self._share
        curl.setopt(CurlOpt.COOKIEFILE, b"")  # curl's cookie engine on, no file
        curl.setopt(CurlOpt.ACCEPT_ENCODING, ACCEPT_ENCODING)
        if curl.impersonate(self._impersonate, default_headers=True) != 0:
            raise CurlError(f"curl_cffi cannot impersonate {self._impersonate}")
        curl.setopt(CurlOpt.CONNECTTIMEOUT_MS, self._connect_ms)
        curl.setopt(CurlOpt.MAXREDIRS, self._max_redirects)
        for option, value in self._options.items():
            curl.setopt(option, value)
        if self._proxy:
            curl.setopt(CurlOpt.PROXY_CREDENTIAL_NO_REUSE, 1)
            curl.setopt(CurlOpt.PROXY, self._proxy)
        if self._verify is False:
            curl.setopt(CurlOpt.SSL_VERIFYPEER, 0)
            curl.setopt(CurlOpt.SSL_VERIFYHOST, 0)
        elif isinstance(self._verify, str):
            curl.setopt(CurlOpt.CAINFO, self._verify)
            curl.setopt(CurlOpt.PROXY_CAINFO, self._verify)

    def _new_handle(self) -> Handle:
        """A prepared handle, counted only once it is whole (a failed one is freed, not kept)."""
        if self._share is None:
            self._share = CurlShare(dns=False, ssl_session=True)  # (the multi already shares its DNS cache)
            self._share.share(CurlLockData.COOKIE)  # one cookie jar for the session, as in a browser
        curl = Handle(cacert=self._multi()._cacert)
        try:
            self._set_up(curl)
        except BaseException:
            curl.close()
            raise
        self._made.append(curl)
        return curl

    def _prepare(self, curl: Handle, transfer: Transfer, method: str, url: str, headers: dict[str, str],
                 body: bytes | None, follow_redirects: bool) -> None:
        """What one request sets on a prepared handle."""
        curl.setopt(CurlOpt.URL, url.encode())
        if method == "POST":
            data = body or b""
            curl.setopt(CurlOpt.POSTFIELDS, data)  # (which makes it a POST)
            curl.setopt(CurlOpt.POSTFIELDSIZE, len(data))
        elif method == "GET":
            curl.setopt(CurlOpt.HTTPGET, 1)
        else:
            raise ValueError(f"unsupported method {method!r}: only GET and POST are made")
        curl.setopt(CurlOpt.HTTPHEADER, self._header_lines(headers, body))
        if curl.follows is not follow_redirects:
            curl.setopt(CurlOpt.FOLLOWLOCATION, int(follow_redirects))
            curl.follows = follow_redirects
        if self._proxy:  # a tunnel for TLS (curl_cffi's rule: not through a SOCKS proxy)
            tunnel = url[:8].lower() == "https://" and not self._proxy.lower().startswith("socks")
            curl.setopt(CurlOpt.HTTPPROXYTUNNEL, int(tunnel))
        curl.setopt(CurlOpt.WRITEFUNCTION, transfer.write)
        curl.setopt(CurlOpt.HEADERFUNCTION, transfer.header)

    def _header_lines(self, headers: dict[str, str], body: bytes | None) -> list[bytes]:
        own = {name.lower(): name for name in headers}
        lines = [line for name, line in self._headers.items() if name not in own]
        lines += [f"{name}: {value}".encode() if value else f"{name};".encode() for name, value in headers.items()]
        if body and "content-type" not in own:
            lines.append(b"Content-Type: application/octet-stream")
        lines.append(b"Expect:")  # never ``Expect: 100-continue`` (a round trip more)
        return lines

    def finished(self, curl: Handle, transfer: Transfer) -> None:
        """curl is done with the transfer (complete, failed or removed): the handle goes back to the pool.

        Called by curl's future, or sooner by the reader that saw the end (so that the next request of a
        sequence finds the handle idle); the second call does nothing.
        """
        if transfer.done:
            return
        curl.clean_handles_and_buffers()  # the request's header list and callbacks
        self._live.discard(transfer)
        if not self.closed:
            self._idle.append(curl)
        transfer.released()

    # -- per-site slots ------------------------------------------------------------------

    async def _slot(self, site: str, transfer: Transfer) -> None:
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

