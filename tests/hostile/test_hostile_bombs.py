"""Item 2: compressed bodies are inflated only up to the byte limit, whatever the encoding.

The client runs in a subprocess so that its peak RSS is its own; the servers (and the bombs, made once
per encoding) stay in this process.
"""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
import sys
import zlib
from collections.abc import Callable

import brotli
import pytest
import zstandard
from hostile_sites import Request, Server, answer_json, chat_page, whole

#: what a bomb inflates to; the client's limits stay at their 8 MiB default
BOMB_BYTES = 256 * 1024 * 1024
BLOCK = b"\0" * (1024 * 1024)


def _deflate(wbits: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return b"".join(packer.compress(BLOCK) for _ in range(BOMB_BYTES // len(BLOCK))) + packer.flush()


def _brotli() -> bytes:
    packer = brotli.Compressor(quality=5)
    return bytes(b"".join(packer.process(BLOCK) for _ in range(BOMB_BYTES // len(BLOCK))) + packer.finish())


def _zstd() -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(b"\0" * BOMB_BYTES)


MAKERS: dict[str, Callable[[], bytes]] = {
    "gzip": lambda: _deflate(31), "deflate": lambda: _deflate(15), "br": _brotli, "zstd": _zstd,
}


@functools.cache
def bomb(encoding: str) -> bytes:
    return MAKERS[encoding]()


CLIENT = r"""
import asyncio, json, resource, sys
import pipeline
from stages.fetch import fetch_page

async def main(url, what):
    settings = pipeline.Settings(retry=pipeline.RetryPolicy(attempts=1), total_timeout=60.0)
    async with pipeline.Client(settings) as client:
        await fetch_page(client.session, url + "/small", client.settings.transport)  # warm: curl, TLS, caches
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            if what == "page":
                await fetch_page(client.session, url + "/bomb", client.settings.transport)
            else:
                site = pipeline.Site(url=url + "/", system_prompt="")
                async for _ in pipeline.ask(client, site, [{"role": "user", "content": "Hi"}]):
                    pass
            error = None
        except Exception as caught:
            error = [type(caught).__name__, str(caught)]
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"error": error, "grew_kib": after - before, "seconds": loop.time() - start}))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def bomb_site(encoding: str, where: str) -> Callable[[Request, asyncio.StreamWriter], object]:
    payload = bomb(encoding)

    async def handle(request: Request, writer: asyncio.StreamWriter) -> None:
        small = request.target == "/small" or (where == "answer" and request.method == "GET")
        if small:
            writer.write(whole(chat_page(None)))
        elif where == "page" or request.method == "POST":
            kind = "text/html" if where == "page" else "application/json"
            writer.write(whole(payload, content_type=kind, content_encoding=encoding))
        else:
            writer.write(whole(answer_json("x")))
        await writer.drain()

    return handle


def run_client(url: str, what: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", CLIENT, url, what], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(("encoding", "where"), [("gzip", "page"), ("deflate", "page"), ("br", "answer"),
                                                 ("zstd", "answer"), ("gzip", "answer")])
def test_a_bomb_stops_at_the_limit_within_bounded_memory(encoding: str, where: str) -> None:
    assert len(bomb(encoding)) < BOMB_BYTES // 200  # it really is a bomb
    with Server(bomb_site(encoding, where)) as server:  # type: ignore[arg-type]
        result = run_client(server.url, where)
    error = result["error"]
    assert isinstance(error, list) and error[0] == "TooLargeError", result
    assert "after decompression" in error[1]
    grew_mib = int(result["grew_kib"]) / 1024  # type: ignore[call-overload]
    assert grew_mib < 8 + 48, result  # the 8 MiB limit plus a small constant; unbounded it is 256 MiB and more
    assert float(result["seconds"]) < 20, result  # type: ignore[arg-type]


def test_the_browser_accept_encoding_is_sent_unchanged() -> None:
    """The limit is enforced on curl's decoded bytes, so the request still says what Chrome says."""
    from hostile_sites import ask, client, json_answer, legacy_site, site

    with Server(legacy_site(json_answer)) as server:
        assert asyncio.run(ask(client(), site(server.url))) == "Hola"
    assert [r.headers.get("accept-encoding") for r in server.requests] == ["gzip, deflate, br, zstd"] * 2
