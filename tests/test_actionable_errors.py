"""Errors a person can act on, through Python: URLs checked first, blank messages, a page without a chat box,
``ChatGptEs.url`` assignment, one client per event loop, plain-text messages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from conftest import StartEmulator
from e2e_helpers import AJAX, FAST_RETRY, generate, new_client, provider_for, run, serve_app, site_of, user

import pipeline
from chatgpt_es.emulator import Emulator
from stages.checks import site_url
from stages.errors import EventLoopError, InvalidMessagesError, InvalidUrlError, NoChatBoxError, excerpt
from stages.extract import extract_chatbox
from stages.models import Page
from stages.pagefacts import describe_page, lacks_chat_box

LOGIN_PAGE = ('<html><head><title>Log In &lsaquo; My Site</title></head><body><form name="loginform" '
              'id="loginform" action="http://x/wp-login.php" method="post"><input type="password" name="pwd">'
              '</form></body></html>')
OTHER_NONCE_PAGE = ('<html><head><title>Contact</title><link href="/wp-content/themes/x.css"></head><body>'
                    '<script>var cf7 = {"nonce": "ffee001122"};</script></body></html>')
WORDPRESS_PAGE = '<html><head><title>Blog</title><link rel="stylesheet" href="/wp-content/a.css"></head></html>'
STATIC_PAGE = "<html><head><title>Directory listing for /</title></head><body><ul></ul></body></html>"
CLOUDFLARE_PAGE = ('<html><head><title>Attention Required! | Cloudflare</title></head><body>'
                   '<script src="/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1"></script></body></html>')


# -- URLs are checked before any request -----------------------------------------------------------


@pytest.mark.parametrize(("url", "said"), [
    ("", "is empty"),
    ("   ", "is empty"),
    ("ftp://127.0.0.1:18001/", "scheme 'ftp'"),
    ("127.0.0.1:18001", "no scheme (did you mean 'https://127.0.0.1:18001'?)"),
    ("example.com/chat", "no scheme"),
    ("http://exa mple.com/", "space"),
    ("http://127.0.0.1:99999/", "Port out of range"),
    ("http://127.0.0.1:0/", "port 0"),
    ("http:///path", "no host"),
    ("http://999.1.1.1/", "not a valid IPv4 address"),
    ("http://[::zz]/", "not a valid URL"),
    ("http://bad_host!.com/", "not a valid host name"),
])
def test_a_bad_url_is_refused_naming_it(url: str, said: str) -> None:
    with pytest.raises(InvalidUrlError) as caught:
        site_url(url, "url")
    assert said in str(caught.value)
    assert isinstance(caught.value, ValueError)  # an InvalidArgumentError, a ValueError like every bad input
    if url.strip():
        assert repr(url) in str(caught.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/", "https://chatgpt.es", "https://münchen.de/chat/",
                                 "http://[::1]:8000/", "HTTPS://Example.COM/a?b=c#d", "http://user:pw@host.test/"])
def test_good_urls_pass(url: str) -> None:
    assert site_url(url) == url


def test_a_provider_with_a_bad_url_fails_before_any_request(legacy_site: Emulator) -> None:
    class Bad(pipeline.ChatGptEs):
        url = "ftp://127.0.0.1:18001/"

    async def body() -> None:
        async with new_client() as client:
            await generate(Bad, client, user("Hello"))

    with pytest.raises(InvalidUrlError, match="ftp"):
        run(body())
    with pytest.raises(InvalidUrlError):
        pipeline.Site(url=legacy_site.base_url + "/", api_endpoint="gopher://x/")


# -- a blank message never reaches the site --------------------------------------------------------


@pytest.mark.parametrize("generation", ["legacy", "aipkit"])
def test_a_blank_message_is_refused_before_any_request(start_emulator: StartEmulator, generation: str) -> None:
    emu = start_emulator(generation=generation)

    async def body() -> None:
        async with new_client(emu) as client:
            await generate(provider_for(emu), client, [{"role": "user", "content": "Hi"},
                                                       {"role": "assistant", "content": "Hello"},
                                                       {"role": "user", "content": " \n\t"}])

    with pytest.raises(InvalidMessagesError, match=r"messages\[2\] is blank"):
        run(body())
    counts = emu.counters.snapshot()
    assert (counts["get"], counts["post"]) == (0, 0)


# -- a page without a chat box is loud ---------------------------------------------------------------


@pytest.mark.parametrize(("page", "kind", "held", "advice"), [
    (LOGIN_PAGE, "login", "a login form (title 'Log In ‹ My Site')", "login wall"),
    (OTHER_NONCE_PAGE, "other_nonce", "another plugin's nonce (rule seed_any_nonce)", "belongs to another plugin"),
    (WORDPRESS_PAGE, "wordpress", "a WordPress page without the AI Power chat box (title 'Blog')", "find the chat"),
    (STATIC_PAGE, "not_wordpress", "a page that is not WordPress (title 'Directory listing for /')", "Check the URL"),
    (CLOUDFLARE_PAGE, "cloudflare", "a Cloudflare check", "--impersonate"),
    ("  ", "empty", "an empty page", "answered nothing"),
])
def test_what_a_page_without_a_chat_box_held(page: str, kind: str, held: str, advice: str) -> None:
    box = extract_chatbox(page)
    assert lacks_chat_box(box)
    facts = describe_page(Page("http://x/", 200, (), page), box)
    assert facts.kind == kind and facts.held.startswith(held) and advice in facts.advice


class NoBoxSite:
    """Serves ``page`` at / and refuses every chat POST as a site without that chat box would."""

    def __init__(self, page: str, refusal: Callable[[], web.Response]) -> None:
        self.page, self.refusal, self.posts = page, refusal, 0

    def app(self) -> web.Application:
        async def page(_request: web.Request) -> web.Response:
            return web.Response(text=self.page, content_type="text/html")

        async def ajax(_request: web.Request) -> web.Response:
            self.posts += 1
            return self.refusal()

        app = web.Application()
        app.router.add_get("/", page)
        app.router.add_route("*", AJAX, ajax)
        return app


@pytest.fixture
def no_box_site() -> Iterator[Callable[[str, Callable[[], web.Response]], tuple[NoBoxSite, str]]]:
    with contextlib.ExitStack() as stack:
        def start(page: str, refusal: Callable[[], web.Response]) -> tuple[NoBoxSite, str]:
            site = NoBoxSite(page, refusal)
            return site, stack.enter_context(serve_app(site.app())) + "/"
        yield start


def expired() -> web.Response:
    return web.Response(status=403, text="The link you followed has expired.", content_type="text/html")


@pytest.mark.parametrize(("page", "refusal", "held"), [
    (LOGIN_PAGE, expired, "a login form"),
    (OTHER_NONCE_PAGE, expired, "another plugin's nonce"),
    (STATIC_PAGE, lambda: web.Response(status=501, text="Unsupported method ('POST')"), "not WordPress"),
    (WORDPRESS_PAGE, lambda: web.Response(status=404, text="Not Found"), "a WordPress page"),
    (WORDPRESS_PAGE, lambda: web.Response(text="<html>a theme page</html>", content_type="text/html"),
     "a WordPress page"),
])
def test_a_refused_fallback_is_a_no_chat_box_error_sent_once(no_box_site: Any, caplog: pytest.LogCaptureFixture,
                                                              page: str, refusal: Any, held: str) -> None:
    caplog.set_level(logging.WARNING, logger="chatgpt_es")
    site, url = no_box_site(page, refusal)

    async def body() -> None:
        async with new_client(retry=FAST_RETRY) as client:
            await generate(type("Other", (pipeline.ChatGptEs,), {"url": url}), client, user("Hello"))

    with pytest.raises(NoChatBoxError) as caught:
        run(body())
    error = caught.value
    assert f"the page {url} has no AI Power chat box" in str(error) and held in str(error)
    assert error.page == url and held in error.held and error.advice in str(error)
    assert site.posts == 1  # permanent: never retried
    warnings = [json.loads(r.getMessage()) for r in caplog.records if "no_chat_box" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0]["page"] == url and held in warnings[0]["held"]


def test_a_site_that_takes_the_fallback_values_keeps_its_own_errors(no_box_site: Any) -> None:
    """The real 1.9.11 plugin answers some pages without the box: its own answers are not "no chat box"."""
    _site, url = no_box_site(WORDPRESS_PAGE, lambda: web.Response(body=b"", content_type="text/event-stream"))

    async def body() -> None:
        async with new_client(retry=FAST_RETRY) as client:
            await generate(type("Other", (pipeline.ChatGptEs,), {"url": url}), client, user("Hello"))

    with pytest.raises(pipeline.ModelFailedError):
        run(body())


def test_a_page_with_its_chat_box_logs_no_warning(legacy_site: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="chatgpt_es")

    async def body() -> str:
        async with new_client(legacy_site) as client:
            return await generate(provider_for(legacy_site), client, user("Hello"))

    assert run(body()) == "Echo: Hello"
    assert not [r for r in caplog.records if "no_chat_box" in r.getMessage()]


# -- ChatGptEs.url: assigned or subclassed, the endpoint follows the page -----------------------------


def test_assigning_url_sends_to_that_site_not_chatgpt_es(legacy_site: Emulator,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline.ChatGptEs, "url", legacy_site.base_url + "/")
    assert pipeline.ChatGptEs.site().api_endpoint is None  # the page's endpoint, never chatgpt.es's

    async def body() -> str:
        async with new_client(legacy_site) as client:
            return await generate(pipeline.ChatGptEs, client, user("Hello"))

    assert run(body()) == "Echo: Hello"
    assert legacy_site.counters.snapshot()["post"] == 1  # the message went to the assigned site


def test_assigning_both_keeps_the_users_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline.ChatGptEs, "url", "http://my.site/")
    monkeypatch.setattr(pipeline.ChatGptEs, "api_endpoint", "http://my.site/custom-ajax.php")
    assert pipeline.ChatGptEs.site().api_endpoint == "http://my.site/custom-ajax.php"


def test_subclassing_url_or_both(legacy_site: Emulator) -> None:
    class OnlyUrl(pipeline.ChatGptEs):
        url = "http://my.site/"

    class Both(pipeline.ChatGptEs):
        url = "http://my.site/"
        api_endpoint = "http://my.site/custom-ajax.php"

    assert OnlyUrl.site().api_endpoint is None
    assert Both.site().api_endpoint == "http://my.site/custom-ajax.php"
    assert pipeline.ChatGptEs.site().api_endpoint == "https://chatgpt.es/wp-admin/admin-ajax.php"


# -- one client per event loop ------------------------------------------------------------------------


def test_a_client_used_from_a_second_event_loop_says_how(legacy_site: Emulator) -> None:
    client = new_client(legacy_site)
    site = site_of(legacy_site)

    async def once() -> str:
        return "".join([c async for c in pipeline.ask(client, site, user("Hello"))])

    assert asyncio.run(once()) == "Echo: Hello"
    with pytest.raises(EventLoopError) as caught:
        asyncio.run(once())
    assert "one Client per event loop" in str(caught.value) and isinstance(caught.value, RuntimeError)

    async def closed_then_used() -> str:
        await client.aclose()
        return await once()

    with pytest.raises(EventLoopError):  # the session still belongs to the first loop
        asyncio.run(closed_then_used())


def test_a_client_closed_in_its_loop_can_serve_the_next_one(legacy_site: Emulator) -> None:
    client = new_client(legacy_site)
    site = site_of(legacy_site)

    async def once() -> str:
        async with client:
            return "".join([c async for c in pipeline.ask(client, site, user("Hello"))])

    assert asyncio.run(once()) == "Echo: Hello"
    assert asyncio.run(once()) == "Echo: Hello"


# -- messages in plain text --------------------------------------------------------------------------


def test_excerpts_are_plain_text() -> None:
    assert excerpt(b"<p>Couldn&#039;t connect &amp; &lt;retry&gt;</p>") == "<p>Couldn't connect & <retry></p>"


def test_retries_zero_is_refused_alike_in_python_and_on_the_command_line() -> None:
    async def body() -> None:
        pipeline.ChatGptEs.client(None, retries=0)

    with pytest.raises(pipeline.InvalidArgumentError, match=r"retries counts attempts \(1 sends once, no retry\)"):
        asyncio.run(body())


@pytest.mark.parametrize("options", [{"timeout": float("inf")}, {"timeout": float("nan")}, {"timeout": 0},
                                     {"connect_timeout": float("inf")}, {"read_timeout": -1.0}])
def test_timeouts_are_finite_and_positive_in_python_too(options: dict[str, Any]) -> None:
    async def body() -> None:
        pipeline.ChatGptEs.client(None, **options)

    with pytest.raises(pipeline.InvalidArgumentError, match="finite number of seconds > 0"):
        asyncio.run(body())

