"""The request engine (stages/session.py, stages/transfer.py): prepared handles reused, one cookie jar per
session, headers merged as a browser sends them, a GET after a POST on the same handle, close() ending what
is under way."""

from __future__ import annotations

import asyncio
import time

import pytest
from hostile_sites import Request, Server, answer_json, ask, chat_page, client, site, whole

import pipeline
from stages.errors import TransportError
from stages.session import Handle
from stages.transport import TransportOptions, open_answer


def cookie_site(request: Request, writer: asyncio.StreamWriter) -> bytes:
    """The page sets two cookies; the answer says which cookies the POST carried."""
    if request.method == "GET":
        return whole(chat_page(None), set_cookie="visitor=v1; Path=/")
    return whole(answer_json(request.headers.get("cookie", "none")), content_type="application/json")


def handler(respond: object) -> object:
    async def handle(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(respond(request, writer))  # type: ignore[operator]
        await writer.drain()

    return handle


def test_a_cookie_the_page_set_goes_with_the_message_and_stays_in_its_session() -> None:
    with Server(handler(cookie_site)) as server:  # type: ignore[arg-type]
        async def main() -> tuple[str, list[str], str, int]:
            async with client() as first, client() as second:
                one = await ask(first, site(server.url))
                # at once: each on a handle of its own, which did not fetch the page
                together = await asyncio.gather(*(ask(first, site(server.url)) for _ in range(4)))
                other = await ask(second, site(server.url))
                return one, together, other, first.session.handles

        one, together, other, handles = asyncio.run(main())
    assert handles == 4
    assert one == "visitor=v1"  # the page's cookie, sent like a browser sends it
    assert together == ["visitor=v1"] * 4  # one jar for the session's handles
    assert other == "visitor=v1"  # another session got its own cookie from its own page fetch
    assert [r.method for r in server.requests] == ["GET"] + ["POST"] * 5 + ["GET", "POST"]


def test_handles_are_prepared_once_and_reused_and_a_get_after_a_post_has_no_body() -> None:
    with Server(handler(cookie_site)) as server:  # type: ignore[arg-type]
        async def main() -> int:
            async with client() as c:
                for i in range(20):
                    await ask(c, site(server.url), f"m{i}")
                    c.forget(site(server.url))  # every message fetches the page again: GET, POST, GET, POST…
                return c.session.handles

        handles = asyncio.run(main())
    assert handles == 1  # one message at a time: one handle, prepared once
    assert [r.method for r in server.requests] == ["GET", "POST"] * 20
    gets = [r for r in server.requests if r.method == "GET"]
    assert all(r.body == b"" and "content-length" not in r.headers and "content-type" not in r.headers
               for r in gets)
    posts = [r for r in server.requests if r.method == "POST"]
    assert [r.body.count(b"message=m") for r in posts] == [1] * 20
    assert server.connections == 1  # keep-alive across the GETs and POSTs


def test_headers_are_merged_like_a_browser_sends_them() -> None:
    with Server(handler(cookie_site)) as server:  # type: ignore[arg-type]
        async def main() -> None:
            async with client(user_agent="TestAgent/1.0", accept_language="es-ES") as c:
                await ask(c, site(server.url))

        asyncio.run(main())
    page, post = server.requests
    for request in (page, post):
        assert request.headers["user-agent"] == "TestAgent/1.0"  # replaces the impersonation's, not added to it
        assert request.headers["accept-language"] == "es-ES"
        assert "expect" not in request.headers
        assert "sec-ch-ua" in request.headers  # the browser's own headers are still there
    assert post.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert post.headers["accept"] == "*/*" and page.headers["accept"].startswith("text/html")


def test_a_closed_session_refuses_new_requests_with_a_typed_error() -> None:
    with Server(handler(cookie_site)) as server:  # type: ignore[arg-type]
        async def main() -> None:
            c = client()
            await ask(c, site(server.url))
            session = c.session
            await session.close()
            with pytest.raises(TransportError, match="closed"):
                await open_answer(session, "GET", server.url + "/", TransportOptions(), headers={})
            await c.aclose()

        asyncio.run(main())


def raw(reply: bytes) -> object:
    async def handle(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(reply)
        await writer.drain()

    return handle


def test_a_trailer_after_the_body_is_not_part_of_the_head() -> None:
    reply = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
             b"Trailer: X-Injected\r\n\r\n2\r\n{}\r\n0\r\nX-Injected: yes\r\nContent-Type: text/html\r\n\r\n")
    with Server(raw(reply)) as server:  # type: ignore[arg-type]
        async def main() -> tuple[tuple[tuple[str, str], ...], bytes]:
            async with client() as c:
                answer = await open_answer(c.session, "GET", server.url + "/", TransportOptions(), headers={})
                return answer.head.headers, await answer.read(100)

        headers, body = asyncio.run(main())
    assert body == b"{}"
    assert [v for k, v in headers if k.lower() == "content-type"] == ["application/json"]
    assert not any(k.lower() == "x-injected" for k, _ in headers)


def test_one_odd_byte_in_a_header_garbles_only_its_own_line() -> None:
    reply = ("HTTP/1.1 200 OK\r\nX-Odd: caf\xe9\r\nX-Name: \u00f1and\u00fa\r\nContent-Length: 0\r\n\r\n")
    with Server(raw(reply.encode("utf-8").replace(b"caf\xc3\xa9", b"caf\xe9"))) as server:  # type: ignore[arg-type]
        async def main() -> tuple[tuple[str, str], ...]:
            async with client() as c:
                answer = await open_answer(c.session, "GET", server.url + "/", TransportOptions(), headers={})
                await answer.read(100)
                return answer.head.headers

        headers = dict(asyncio.run(main()))
    assert headers["X-Name"] == "\u00f1and\u00fa" and headers["X-Odd"] == "caf\u00e9"


def test_a_url_goes_out_quoted_as_curl_cffi_sent_it() -> None:
    with Server(handler(cookie_site)) as server:  # type: ignore[arg-type]
        async def main() -> None:
            async with client() as c:
                answer = await open_answer(c.session, "GET", server.url + "/p?q=\u00e1\"x&r=%41", TransportOptions(),
                                           headers={})
                await answer.read(1 << 20)

        asyncio.run(main())
    assert [r.target for r in server.requests] == ["/p?q=%C3%A1%22x&r=A"]  # curl alone sent the query raw


def test_closing_the_client_mid_message_is_final_not_retried() -> None:
    async def never(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.method == "GET":
            writer.write(whole(chat_page(None)))
            await writer.drain()
            return
        await asyncio.sleep(60)

    with Server(never) as server:
        async def main() -> TransportError:
            c = pipeline.Client(pipeline.Settings(transport=TransportOptions(read_timeout=60.0), total_timeout=30,
                                                  retry=pipeline.RetryPolicy(attempts=3)))
            task = asyncio.create_task(ask(c, site(server.url)))
            assert await asyncio.to_thread(server.wait_until, lambda s: len(s.requests) == 2, 10.0)
            started = time.monotonic()
            await c.aclose()
            with pytest.raises(TransportError) as caught:
                await asyncio.wait_for(task, 5)
            assert time.monotonic() - started < 2  # at once, not at a timeout
            await c.aclose()
            return caught.value

        error = asyncio.run(main())
    assert "closed" in str(error) and not error.transient
    assert [r.method for r in server.requests] == ["GET", "POST"]  # no second POST on a session nobody closes


def test_a_handle_that_cannot_be_prepared_is_freed_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Handle, "impersonate", lambda self, target, default_headers=True: 1)
    with Server(handler(cookie_site)) as server:  # type: ignore[arg-type]
        async def main() -> int:
            async with client() as c:
                for _ in range(3):
                    with pytest.raises(TransportError, match="impersonate"):
                        await open_answer(c.session, "GET", server.url + "/", TransportOptions(), headers={})
                return c.session.handles

        assert asyncio.run(main()) == 0
    assert server.requests == []
