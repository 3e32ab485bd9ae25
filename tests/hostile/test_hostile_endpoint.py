"""Items 1, 5 and 11: the endpoint a page names is checked by the endpoint policy; nothing local is read,
nothing reaches another site, a message is never redirected to another origin, and a relative endpoint
resolves against the page's final URL."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import pytest
from hostile_sites import Handler, Request, Server, ask, client, json_answer, legacy_site, servers, site, whole

import pipeline
from chatgpt_es.cli.diagnose import diagnose_site
from chatgpt_es.cli.record import record_case
from stages.endpoint import decide_endpoint, redirect_decision
from stages.errors import EndpointRefusedError, InvalidUrlError


@pytest.mark.parametrize(("page", "given", "allowed", "rule"), [
    ("https://example.com/chat/", "/wp-admin/admin-ajax.php", True, "same_origin"),
    ("https://example.com/chat/", None, True, "same_origin"),
    ("https://www.example.com/", "https://example.com/wp-admin/admin-ajax.php", True, "same_site"),
    ("https://example.com/", "https://WWW.example.com/x.php", True, "same_site"),
    ("https://example.com/", "https://api.example.com/x.php", False, "other_site"),
    ("https://example.com/", "https://example.com:8443/x.php", False, "other_site"),
    ("https://example.com/", "http://example.com/wp-admin/admin-ajax.php", False, "mixed_content"),
    ("http://example.com/", "https://example.com/x.php", False, "other_site"),
    ("https://example.com/", "//evil.test/x.php", False, "other_site"),
    ("https://example.com/", "file:///etc/passwd", False, "scheme"),
    ("https://example.com/", "dict://127.0.0.1:11211/INFO", False, "scheme"),
    ("https://example.com/", "ftp://example.com/x", False, "scheme"),
    ("https://example.com/", "javascript:alert(1)", False, "scheme"),
    ("https://example.com/", "data:text/plain,hi", False, "scheme"),
    ("https://example.com/", "https://example.com:99999/x.php", False, "bad_url"),
])
def test_the_policy_decides_with_a_rule_and_a_reason(page: str, given: str | None, allowed: bool, rule: str) -> None:
    decision = decide_endpoint(page, given)
    assert (decision.allowed, decision.rule) == (allowed, rule)
    assert decision.reason


def test_an_allowed_host_is_taken_but_never_over_plain_http_from_https() -> None:
    assert decide_endpoint("https://a.test/", "https://b.test/x", allowed_hosts=("b.test",)).rule == "allowed_host"
    assert decide_endpoint("https://a.test/", "http://b.test/x", allowed_hosts=("b.test",)).rule == "mixed_content"
    assert decide_endpoint("https://a.test/", "file:///x", allowed_hosts=("b.test",)).rule == "scheme"


def test_redirects_of_a_message_stay_in_their_origin() -> None:
    assert redirect_decision("https://a.test/x", "/y").allowed
    assert not redirect_decision("https://a.test/x", "https://b.test/y").allowed
    assert not redirect_decision("https://a.test/x", "http://a.test/y").allowed


def test_a_file_endpoint_reads_nothing_local() -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as secret:
        secret.write("TOP-SECRET-CONTENT " * 20)
    try:
        with Server(legacy_site(json_answer, ajax_url=f"file://{secret.name}")) as server:
            trace = pipeline.Trace()
            with pytest.raises(EndpointRefusedError) as caught:
                asyncio.run(ask(client(), site(server.url), trace=trace))
        error = caught.value
        assert error.rule == "scheme" and secret.name in error.endpoint
        assert "TOP-SECRET" not in str(error)
        assert "TOP-SECRET" not in repr([r.facts() for r in trace.records])
        endpoint_record = next(r for r in trace.records if r.stage == "endpoint")
        assert endpoint_record.output.allowed is False and "http" in endpoint_record.output.reason
        assert [r.method for r in server.requests] == ["GET"]  # the page only: no message was sent anywhere
    finally:
        os.unlink(secret.name)


def test_record_saves_nothing_from_a_refused_endpoint(tmp_path: Path) -> None:
    from chatgpt_es.cli.record import record_case

    async def run(url: str) -> None:
        async with client() as shared:
            await record_case(shared, site(url), "hi", tmp_path / "case")

    with Server(legacy_site(json_answer, ajax_url="file:///etc/passwd")) as server, \
            pytest.raises(EndpointRefusedError):
        asyncio.run(run(server.url))
    saved = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    assert not any(b"root:" in data for data in saved)


def test_a_page_redirected_to_another_scheme_is_not_followed() -> None:
    async def silent(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.close()

    with servers(silent) as (canary,):
        async def away(request: Request, writer: asyncio.StreamWriter) -> None:
            writer.write(whole(b"", status=302, location=f"dict://127.0.0.1:{canary.port}/INFO"))
            await writer.drain()

        with Server(away) as server, pytest.raises(InvalidUrlError):
            asyncio.run(ask(client(), site(server.url)))
    assert canary.connections == 0


@pytest.mark.parametrize("scheme", ["dict", "ftp", "gopher", "telnet"])
def test_other_schemes_open_no_connection(scheme: str) -> None:
    async def silent(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.close()

    with servers(silent) as (canary,), Server(legacy_site(
            json_answer, ajax_url=f"{scheme}://127.0.0.1:{canary.port}/INFO")) as server, \
            pytest.raises(EndpointRefusedError, match="scheme"):
        asyncio.run(ask(client(), site(server.url)))
    assert canary.connections == 0


def test_another_host_gets_no_message_unless_allowed() -> None:
    with servers(json_answer_handler()) as (other,):
        other_endpoint = f"http://localhost:{other.port}/wp-admin/admin-ajax.php"
        with Server(legacy_site(json_answer, ajax_url=other_endpoint)) as page:
            with pytest.raises(EndpointRefusedError) as caught:
                asyncio.run(ask(client(), site(page.url)))
            assert caught.value.rule == "other_site" and other_endpoint in str(caught.value)
            assert other.connections == 0
            assert asyncio.run(ask(client(allow_endpoint_hosts=["localhost"]), site(page.url))) == "Hola"
            assert [r.method for r in other.requests] == ["POST"]


def json_answer_handler() -> Handler:
    async def handle(request: Request, writer: asyncio.StreamWriter) -> None:
        await json_answer(request, writer)

    return handle


@pytest.mark.parametrize("status", [307, 308])
def test_a_message_is_never_redirected_to_another_origin(status: int) -> None:
    with servers(json_answer_handler()) as (canary,):
        async def redirect(request: Request, writer: asyncio.StreamWriter) -> None:
            writer.write(whole(b"", status=status, location=f"http://127.0.0.1:{canary.port}/steal"))
            await writer.drain()

        with Server(legacy_site(redirect)) as server, \
                pytest.raises(EndpointRefusedError, match="redirect_other_origin"):
            asyncio.run(ask(client(), site(server.url)))
        assert canary.connections == 0


def test_a_redirect_within_the_origin_is_followed_with_the_message() -> None:
    async def answer(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.target.startswith("/wp-admin/admin-ajax.php"):
            writer.write(whole(b"", status=307, location="/moved-ajax.php"))
            await writer.drain()
        else:
            assert b"message=Hi" in request.body
            await json_answer(request, writer)

    with Server(legacy_site(answer)) as server:
        assert asyncio.run(ask(client(), site(server.url))) == "Hola"
        assert [r.target for r in server.requests] == ["/", "/wp-admin/admin-ajax.php", "/moved-ajax.php"]


def test_the_endpoint_resolves_against_the_page_after_its_redirects() -> None:
    with servers(legacy_site(json_answer, ajax_url="/wp-admin/admin-ajax.php")) as (new_home,):
        async def moved(request: Request, writer: asyncio.StreamWriter) -> None:
            writer.write(whole(b"", status=302, location=f"{new_home.url}/chat/"))
            await writer.drain()

        with Server(moved) as old_home:
            trace = pipeline.Trace()
            assert asyncio.run(ask(client(), site(old_home.url), trace=trace)) == "Hola"
            assert [r.method for r in old_home.requests] == ["GET"]  # no message went to the old origin
        assert [(r.method, r.target) for r in new_home.requests] == [("GET", "/chat/"),
                                                                      ("POST", "/wp-admin/admin-ajax.php")]
        referer = new_home.requests[1].headers["referer"]
        assert referer.startswith(new_home.url)  # the Referer is the page the site served


def test_the_site_key_never_goes_to_a_rest_root_on_another_site() -> None:
    """The page advertises its REST root (``Link: <…>; rel="https://api.w.org/"``): that root passes the endpoint
    policy like an ``ajax_url`` would, so a hostile page cannot send the owner's key to another host."""
    key = "aipk_live_" + "7" * 48
    with servers(json_answer_handler()) as (other,):
        root = f"http://localhost:{other.port}/wp-json/"

        async def page(request: Request, writer: asyncio.StreamWriter) -> None:
            writer.write(whole(b"<html><body>no chat box here</body></html>", link=f'<{root}>; rel="https://api.w.org/"'))

        with Server(page) as server:
            trace = pipeline.Trace()
            with pytest.raises(EndpointRefusedError) as caught:
                asyncio.run(ask(client(), site(server.url, api_key=key, bot_id="5"), trace=trace))
            assert caught.value.rule == "other_site" and key not in str(caught.value)
            assert other.connections == 0
            assert [r.method for r in server.requests] == ["GET"]  # the page, and nothing else


@pytest.mark.parametrize("command", ["diagnose", "record"])
def test_diagnose_and_record_follow_the_page_after_its_redirects(command: str, tmp_path: Path) -> None:
    """As ``ask`` does: the endpoint, the Referer and the recorded site URL are the page's after its redirects."""
    with servers(legacy_site(json_answer, ajax_url="/wp-admin/admin-ajax.php")) as (new_home,):
        async def moved(request: Request, writer: asyncio.StreamWriter) -> None:
            writer.write(whole(b"", status=302, location=f"{new_home.url}/chat/"))
            await writer.drain()

        with Server(moved) as old_home:
            if command == "diagnose":
                findings, ok = asyncio.run(diagnose_site(client(), site(old_home.url), "Hi"))
                assert ok, findings
            else:
                asyncio.run(record_case(client(), site(old_home.url), "Hi", tmp_path / "case"))
                assert new_home.url in (tmp_path / "case" / "case.json").read_text()
            assert [r.method for r in old_home.requests] == ["GET"]
        posts = [r for r in new_home.requests if r.method == "POST"]
        assert posts and all(r.headers["referer"].startswith(new_home.url) for r in posts)
