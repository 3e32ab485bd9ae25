"""Items 8 and 9: every failure is typed (also curl_cffi's raw errors), options are checked where they are
made, and a password is masked whatever characters it holds."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from hostile_sites import Request, Server, ask, client, json_answer, legacy_site, site, whole

import pipeline
from chatgpt_es.runtime.logs import add_secrets, configure_logging
from chatgpt_es.runtime.options import settings_from
from stages.curl_errors import transport_error
from stages.errors import (
    ChatGptEsError,
    EndpointRefusedError,
    InvalidArgumentError,
    InvalidUrlError,
    TlsVerificationError,
    TooManyRedirectsError,
    TransportError,
)
from stages.redact import proxy_secrets, redact
from stages.transport import TransportOptions

PASSWORD = "Zx9/Qw+8=#a?b@c"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(("ajax_url", "rule"), [
    ("http://127.0.0.1:99999/wp-admin/admin-ajax.php", "bad_url"),
    ("javascript:alert(1)", "scheme"),
    ("data:text/plain,hello", "scheme"),
    ("ftp://127.0.0.1:21/x", "scheme"),
])
def test_a_bad_endpoint_on_the_page_is_a_typed_error(ajax_url: str, rule: str) -> None:
    with Server(legacy_site(json_answer, ajax_url=ajax_url)) as server, \
            pytest.raises(EndpointRefusedError) as caught:
        asyncio.run(ask(client(), site(server.url)))
    assert caught.value.rule == rule and isinstance(caught.value, ValueError)


@pytest.mark.parametrize("url", [
    f"http://user:{PASSWORD}@127.0.0.1:1/", "ftp://127.0.0.1:1/", "javascript:alert(1)", "http://127.0.0.1:99999/",
    "http://[::1/", "file:///etc/passwd",
])
def test_a_bad_site_url_is_an_invalid_url_error(url: str) -> None:
    with pytest.raises(InvalidUrlError) as caught:
        asyncio.run(ask(client(), pipeline.Site(url=url)))
    assert PASSWORD not in str(caught.value)


def test_a_bad_caller_endpoint_is_refused_before_any_request() -> None:
    # the caller's own endpoint is checked where the Site is made (InvalidUrlError), the page's by the policy
    with Server(legacy_site(json_answer)) as server, pytest.raises((EndpointRefusedError, InvalidUrlError),
                                                                    match="scheme"):
        asyncio.run(ask(client(), site(server.url, api_endpoint="ftp://127.0.0.1:1/")))


@pytest.mark.parametrize(("error", "expected"), [
    ("curl3", InvalidUrlError), ("curl1", InvalidUrlError), ("curl47", TooManyRedirectsError),
    ("curl60", TlsVerificationError), ("curl7", TransportError), ("value", InvalidUrlError),
    ("overflow", InvalidArgumentError), ("type", InvalidArgumentError),
])
def test_every_curl_cffi_exception_maps_to_a_typed_error(error: str, expected: type[ChatGptEsError]) -> None:
    from curl_cffi import CurlError

    raised: BaseException = {
        "curl3": CurlError("URL rejected: Malformed input", 3), "curl1": CurlError("Protocol not supported", 1),
        "curl47": CurlError("Maximum (10) redirects followed", 47), "curl60": CurlError("SSL certificate", 60),
        "curl7": CurlError("Failed to connect", 7), "value": ValueError("Unsupported URL scheme ftp"),
        "overflow": OverflowError("cannot convert float infinity to integer"), "type": TypeError("bad option"),
    }[error]
    mapped = transport_error(raised, "GET http://x.test/", TransportOptions())
    assert type(mapped) is expected


def test_a_redirect_loop_is_too_many_redirects() -> None:
    async def loop(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(whole(b"", status=302, location=f"/again{len(request.target)}"))
        await writer.drain()

    with Server(loop) as server, pytest.raises(TooManyRedirectsError) as caught:
        asyncio.run(ask(client(), site(server.url)))
    assert not caught.value.transient


@pytest.mark.parametrize(("option", "value", "says"), [
    ("connect_timeout", float("inf"), "finite"), ("read_timeout", float("nan"), "finite"),
    ("read_timeout", 0, "> 0"), ("verify", "", "CA bundle"), ("verify", "/no/such/ca.pem", "CA bundle"),
    ("impersonate", "netscape4", "chrome"), ("user_agent", "x\r\nX-Evil: 1", "control"),
    ("accept_language", "en\nX-Evil: 1", "control"),
])
def test_options_are_checked_where_they_are_made(option: str, value: object, says: str) -> None:
    with pytest.raises(InvalidArgumentError, match=says):
        TransportOptions(**{option: value})  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=says):  # and through the provider's keywords
        settings_from(None, {option: value})


def test_the_cli_prints_one_line_for_a_bad_url_and_a_bad_option() -> None:
    command = shutil.which("chatgpt-es") or str(Path(sys.executable).with_name("chatgpt-es"))
    for args in (["--url", f"http://u:{PASSWORD}@127.0.0.1:1/"], ["--url", "ftp://127.0.0.1/"],
                 ["--url", "http://127.0.0.1:1/", "--impersonate", "netscape4"]):
        done = subprocess.run([command, "ask", "hi", *args, "--retries", "1"], capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode in (1, 2), done.stderr
        assert "Traceback" not in done.stderr and "never retrieved" not in done.stderr
        assert PASSWORD not in done.stderr and PASSWORD.split("/")[1] not in done.stderr
        said = [line for line in done.stderr.splitlines() if line.lower().startswith("error")]
        assert len(said) == 1, done.stderr
        assert any(word in said[0] for word in ("InvalidUrlError", "Invalid value for '--url'", "impersonate"))


def test_a_proxy_password_with_any_characters_is_masked_everywhere() -> None:
    proxy = f"http://alice_user:{PASSWORD}@127.0.0.1:{closed_port()}"
    assert PASSWORD in proxy_secrets(proxy)
    assert PASSWORD not in redact(f"failed via {proxy} and 'http://bob:{PASSWORD}@h/'")
    stream = io.StringIO()
    configure_logging(logging.DEBUG, json_lines=True, stream=stream)
    add_secrets(proxy_secrets(proxy))  # as the CLI and the provider register it
    trace = pipeline.Trace()
    shared = pipeline.Client(pipeline.Settings(
        transport=TransportOptions(proxy=proxy, connect_timeout=2),
        retry=pipeline.RetryPolicy(attempts=2, wait_initial=0.01)))
    try:
        with pytest.raises(TransportError) as caught:
            site_url = f"http://carol:{quote(PASSWORD, safe='')}@127.0.0.1:{closed_port()}/"  # quoted: a valid URL
            asyncio.run(ask(shared, pipeline.Site(url=site_url), trace=trace))
    finally:
        configure_logging(logging.WARNING)
    shown = [str(caught.value), stream.getvalue(), json.dumps([r.facts() for r in trace.records]),
             repr(shared.settings), repr(trace.records)]
    for text in shown:
        for piece in (PASSWORD, "Zx9/Qw", "Qw+8=", quote(PASSWORD, safe="")):
            assert piece not in text
    assert '"retry"' in stream.getvalue()  # the retry message was logged, masked too
