"""A local server (the local site, ``serve``) in the foreground until stopped, or on an event loop of its own.

Tests and benchmarks drive the client from their own loop or from plain code; the server they talk to runs
beside it, so that neither blocks the other.  ``with`` enters the server's async context manager on that
loop and gives what it yields; leaving the block stops it and joins the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")


async def until_stopped() -> None:
    """Return when the process gets SIGINT or SIGTERM (a foreground server's ``stop``)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


class InThread(Generic[T]):
    """Subclasses say what to run (:meth:`open`) and what the thread is called (``name``)."""

    name = "chatgpt-es-server"

    def __init__(self, start_timeout: float = 15.0) -> None:
        self.start_timeout = start_timeout
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._value: T | None = None
        self._error: BaseException | None = None

    def open(self) -> AbstractAsyncContextManager[T]:
        raise NotImplementedError

    def __enter__(self) -> T:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        if not self._ready.wait(self.start_timeout):
            raise RuntimeError(f"{self.name} did not start in {self.start_timeout} s")
        if self._error is not None or self._value is None:
            raise RuntimeError(f"{self.name} failed to start") from self._error
        return self._value

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10.0)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported to the thread that called __enter__
            self._error = error
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self.open() as value:
            self._value = value
            self._ready.set()
            await self._stop.wait()
