"""The local site (``chatgpt-es emulate``) in a subprocess of its own, and its counters over HTTP."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from typing import Any

#: runs the project's CLI with this interpreter (no reliance on a ``chatgpt-es`` script on PATH)
_CLI = "from chatgpt_es.cli import main; main()"


class LocalSite:
    """A running emulator: ``base`` is its URL (``http://127.0.0.1:PORT``)."""

    def __init__(self, base: str, process: subprocess.Popen[str]) -> None:
        self.base = base
        self.process = process

    def counters(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.base + "/__emulator__/counters", timeout=10) as response:
            data: dict[str, Any] = json.load(response)
        return data

    def reset(self) -> None:
        request = urllib.request.Request(self.base + "/__emulator__/reset", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


@contextlib.contextmanager
def local_site(*, latency: float = 0.0, chunk_delay: float = 0.0, stream: bool = False,
               aipkit: bool = False) -> Iterator[LocalSite]:
    """Start ``chatgpt-es emulate`` on 127.0.0.1, port 0; stop it (SIGTERM, then SIGKILL) on exit."""
    args = [sys.executable, "-c", _CLI, "emulate", "--host", "127.0.0.1", "--port", "0",
            "--latency", str(latency), "--chunk-delay", str(chunk_delay)]
    if stream:
        args.append("--stream")
    if aipkit:
        args.append("--aipkit")
    with tempfile.TemporaryFile(mode="w+") as errors:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
                                   text=True)
        try:
            assert process.stdout is not None
            base = process.stdout.readline().strip()
            if not base.startswith("http://127.0.0.1:"):
                process.wait(timeout=10)
                errors.seek(0)
                raise RuntimeError(f"the emulator did not start ({base!r}): {errors.read()[-2000:]}")
            yield LocalSite(base, process)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
