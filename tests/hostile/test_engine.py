"""The request engine (stages/transfer.py): prepared handles reused, one cookie jar per session, headers merged
as a browser sends them, a GET after a POST on the same handle, close() ending what is under way."""

from __future__ import annotations

import asyncio
import time

import pytest
from hostile_sites import Request, Server, answer_json, ask, chat_page, client, site, whole

from stages.errors import ChatGptEsError, TransportError
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


def test_closing_the_client_ends_a_message_under_way() -> None:
    async def never(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.method == "GET":
            writer.write(whole(chat_page(None)))
            await writer.drain()
            return
        await asyncio.sleep(60)

    with Server(never) as server:
        async def main() -> tuple[BaseException | None, float]:
            c = client(read_timeout=60.0)
            task = asyncio.create_task(ask(c, site(server.url)))
            assert await asyncio.to_thread(server.wait_until, lambda s: len(s.requests) == 2, 10.0)
            started = time.monotonic()
            await c.aclose()
            try:
                await asyncio.wait_for(task, 5)
            except ChatGptEsError as error:
                return error, time.monotonic() - started
            return None, time.monotonic() - started

        error, seconds = asyncio.run(main())
    assert isinstance(error, ChatGptEsError), error
    assert seconds < 2


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
