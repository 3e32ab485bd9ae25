"""Items 7, 10 and 12: a bounded number of sessions whatever the options; ``read_timeout`` is the longest
silence between two received bytes; ``ask`` does not let an answer drive the terminal."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile_sites import Request, Server, answer_json, ask, client, legacy_site, site, whole

import pipeline
from stages.errors import ChatGptEsError, DeadlineExceededError


def page_then(silence_after: bytes) -> object:
    async def handle(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(silence_after)
        await writer.drain()
        await asyncio.sleep(30)  # then nothing

    return handle


@pytest.mark.parametrize("sent", [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<html>", b"HTTP/1.1 200 OK\r\n", b""],
                         ids=["mid-body", "mid-head", "nothing"])
def test_a_silence_longer_than_read_timeout_ends_the_request(sent: bytes) -> None:
    with Server(page_then(sent)) as server:  # type: ignore[arg-type]
        start = time.monotonic()
        with pytest.raises(DeadlineExceededError, match=r"read_timeout|timed out"):
            asyncio.run(ask(client(connect_timeout=3.0, read_timeout=1.0), site(server.url)))
        took = time.monotonic() - start
    # after a byte: read_timeout (1 s); before the first: connect_timeout + read_timeout (4 s);
    # curl's "below 1 byte/s over connect + read seconds" took 4 s and more whatever had arrived
    assert took < (7.0 if sent == b"" else 3.0)


def test_bytes_that_keep_coming_never_hit_read_timeout() -> None:
    body = answer_json("slow but steady")

    async def trickle(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                     .encode())
        step = len(body) // 6
        for i in range(0, len(body), step):  # seven pieces, 0.4 s apart: 2.4 s in all, more than read_timeout
            writer.write(body[i:i + step])
            await writer.drain()
            await asyncio.sleep(0.4)

    with Server(legacy_site(trickle)) as server:
        text = asyncio.run(ask(client(connect_timeout=1.0, read_timeout=1.0), site(server.url)))
    assert text == "slow but steady"


def test_sessions_stay_few_whatever_the_options() -> None:
    async def answer(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(whole(answer_json("ok"), content_type="application/json"))
        await writer.drain()

    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    with Server(legacy_site(answer)) as server:
        class Local(pipeline.ChatGptEs):
            url = server.url + "/"

        async def body() -> tuple[int, int, int]:
            before = open_fds()
            for i in range(150):  # a different timeout each call: one client (session) per option set
                chunks = Local.create_async_generator("gpt-4o", [{"role": "user", "content": "hi"}],
                                                      timeout=30.0 + i, retries=1)
                assert "".join([c async for c in chunks]) == "ok"
            for i in range(150):  # a rotating (dead) proxy
                chunks = Local.create_async_generator("gpt-4o", [{"role": "user", "content": "hi"}],
                                                      proxy=f"http://user{i}:pw@127.0.0.1:1", retries=1)
                with pytest.raises(ChatGptEsError):
                    async for _ in chunks:
                        pass
            await asyncio.sleep(0.2)  # retired sessions close in the background
            clients = len(pipeline.ChatGptEs._clients.get(asyncio.get_running_loop(), {}))
            grown = open_fds() - before
            await pipeline.ChatGptEs.aclose()
            return clients, grown, open_fds() - before

        clients, grown, after_close = asyncio.run(body())
    assert clients <= pipeline.MAX_SHARED_CLIENTS
    assert grown < 40  # 300 option sets used to leave 313 sessions and 600 descriptors open
    assert after_close < 10


ANSWER = "Hi\x1b[2J\x1b]0;pwned\x07 there\r\n\tok\x9b31m"


def _cli(url: str, tty: bool) -> bytes:
    command = shutil.which("chatgpt-es") or str(Path(sys.executable).with_name("chatgpt-es"))
    args = [command, "ask", "hi", "--url", url + "/", "--system", "", "--retries", "1"]
    if not tty:
        return subprocess.run(args, capture_output=True, timeout=60, check=True).stdout
    leader, follower = pty.openpty()
    process = subprocess.Popen(args, stdout=follower, stderr=subprocess.DEVNULL)
    os.close(follower)
    out = b""
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 30)
            if not ready:
                break
            try:
                piece = os.read(leader, 65536)
            except OSError:  # the follower side closed: the command ended
                break
            if not piece:
                break
            out += piece
    finally:
        process.wait(30)
        os.close(leader)
    return out


def test_ask_escapes_control_characters_on_a_terminal_and_not_in_a_pipe() -> None:
    async def answer(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(whole(answer_json(ANSWER), content_type="application/json"))
        await writer.drain()

    with Server(legacy_site(answer)) as server:
        shown = _cli(server.url, tty=True)
        piped = _cli(server.url, tty=False)
    assert b"\x1b" not in shown and b"\x07" not in shown and "\x9b".encode() not in shown
    assert b"Hi\\x1b[2J\\x1b]0;pwned\\x07 there\\x0d" in shown and b"\tok\\x9b31m" in shown
    assert piped == (ANSWER + "\n").encode()
