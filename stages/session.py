"""The HTTP engine under :mod:`stages.transport`: curl handles driven on curl_cffi's async multi.

Why not curl_cffi's ``AsyncSession``: for every request it rebuilds every
option of the handle (the impersonation, about twenty options, header merging,
a Python cookie jar copied in and out), and for a streamed answer it adds a
task and an unbounded queue.  That was half of this client's CPU per message
(``python -m bench.floor``).  Here a handle is prepared once (impersonation,
TLS, proxy, protocols, curl's cookie engine shared by the session's handles)
and a request sets only what changes: URL, method, body, headers, redirects.
The fingerprint is curl_cffi's, set by the same call (``Curl.impersonate``).
Each request is a :class:`~stages.transfer.Transfer`.

A session has at most :data:`MAX_TRANSFERS` transfers at a time, and a site at
most :data:`PER_SITE` of them, so one site that never answers cannot hold
every handle while messages to other sites wait.
"""

from __future__ import annotations

import asyncio
import contextlib

from curl_cffi import Curl, CurlError, CurlOpt
from curl_cffi.aio import AsyncCurl
from curl_cffi.const import CurlLockData
from curl_cffi.curl import CurlShare

from .transfer import Transfer

#: curl handles (concurrent transfers) of one session (made when first needed)
MAX_TRANSFERS = 256
#: concurrent transfers one site (origin) may hold: 64 conversations with one site run at once (a batch, a
#: server in front of it), and a site that never answers still leaves three quarters of the handles to others
PER_SITE = 64
#: what curl_cffi's session sends unless the impersonation sets its own (it does: the browser's list)
ACCEPT_ENCODING = b"gzip, deflate, br"



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
        self._refuse_if_closed(transfer)
        await self._slot(site, transfer)
        if self._handles is None:
            self._handles = asyncio.Semaphore(MAX_TRANSFERS)
        await self._handles.acquire()
        transfer.when_done(self._handles.release)
        self._refuse_if_closed(transfer)  # (also when it closed while this request waited)
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

    def _refuse_if_closed(self, transfer: Transfer) -> None:
        if self.closed:
            transfer.failure = "closed"  # a final error (stages.curl_errors), not one to retry
            raise CurlError("the session is closed")

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
