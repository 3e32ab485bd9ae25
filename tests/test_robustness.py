"""Reliability and safety: faults, fuzzing, deadlines, limits, redaction."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pipeline
from chatgpt_es.cli.soak import soak
from chatgpt_es.emulator import EmulatorConfig
from chatgpt_es.runtime.logs import add_secrets, configure_logging
from stages.errors import ChatGptEsError, InvalidMessagesError, TooLargeError, TransportError
from stages.extract import extract_chatbox
from stages.fetch import check_page
from stages.models import AnswerHead, Page
from stages.parse import feed, finish, start_parse
from stages.payload import PROTOCOLS
from stages.prompt import format_prompt
from stages.transport import TransportOptions

FAST_RETRIES = pipeline.RetryPolicy(attempts=4, wait_initial=0.02, wait_max=0.5, wait_jitter=0.02)


def test_fault_soak_every_message_ends_exact_or_typed() -> None:
    config = EmulatorConfig(fault_rate=0.1, fault_seed=3, retry_after=1)
    report = asyncio.run(soak(config, messages=300, concurrency=16,
                              settings=pipeline.Settings(total_timeout=20.0, retry=FAST_RETRIES)))
    print("\n".join(report.lines()))
    assert report.faults_injected >= 15  # the soak really met faults
    assert report.retried > 0
    assert report.untyped_failures == {}
    assert report.wrong_answers == 0
    assert report.success_rate >= 0.98
    assert report.max_latency_s < 20.0


def test_streamed_soak_loses_no_text_silently() -> None:
    """Cut streams after text reached the caller are typed errors carrying the partial text."""
    config = EmulatorConfig(stream=True, fault_rate=0.1, fault_seed=5, faults=("drop", "truncate", "502"))
    report = asyncio.run(soak(config, messages=120, concurrency=8,
                              settings=pipeline.Settings(total_timeout=20.0, retry=FAST_RETRIES)))
    assert report.untyped_failures == {} and report.wrong_answers == 0
    assert set(report.typed_failures) <= {"StreamInterruptedError"}
    assert report.succeeded + sum(report.typed_failures.values()) == report.messages


heads = st.builds(
    AnswerHead,
    st.just("http://site.test/wp-admin/admin-ajax.php"),
    st.sampled_from([200, 400, 403, 429, 500, 502, 503]),
    st.lists(st.tuples(st.sampled_from(["content-type", "retry-after", "cf-mitigated"]),
                       st.sampled_from(["text/event-stream", "application/json", "text/html", "7", "challenge",
                                        "Wed, 21 Oct 2015 07:28:00 GMT", "nonsense"])), max_size=3).map(tuple),
)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=3), max_leaves=10)
bodies = st.one_of(
    st.binary(max_size=500),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.lists(st.one_of(st.sampled_from(["[DONE]", "[LIMITED]", '{"delta":"x"}', '{"choices":[{"delta":{}}]}']),
                       json_values.map(json.dumps)), max_size=5)
    .map(lambda items: "".join(f"data: {i}\n\n" for i in items).encode()),
    st.lists(st.tuples(st.sampled_from(["message_start", "error", "warning", "done", "status", "message"]),
                       json_values.map(json.dumps)), max_size=5)
    .map(lambda items: "".join(f"event: {e}\ndata: {d}\n\n" for e, d in items).encode()),
)


@settings(max_examples=400)
@given(st.sampled_from(["legacy", "aipkit"]), st.sampled_from(["message", "cache", "stream", "nonce"]), heads, bodies,
       st.integers(min_value=1, max_value=64))
def test_parse_fuzz_only_typed_errors(protocol: str, purpose: str, head: AnswerHead, body: bytes, size: int) -> None:
    state = start_parse(PROTOCOLS[protocol], purpose, head, max_bytes=400)
    for start in range(0, len(body), size):
        state, _ = feed(state, body[start:start + size])
    state, _ = finish(state)
    assert state.failure is None or isinstance(state.failure, ChatGptEsError)
    if len(body) > 400:  # too large, unless the bytes before the limit were already an error
        assert isinstance(state.failure, TooLargeError) or (state.failure is not None and state.received <= 400)


@settings(max_examples=200)
@given(st.integers(min_value=100, max_value=599), st.text(max_size=300))
def test_page_check_fuzz_only_typed_errors(status: int, text: str) -> None:
    page = Page("http://site.test/", status, (("content-type", "text/html"),), text)
    try:
        assert check_page(page) is page and status == 200
    except ChatGptEsError:
        assert status != 200 or "Just a moment..." in text or "_cf_chl_opt" in text


@settings(max_examples=300)
@given(json_values)
def test_prompt_fuzz_only_invalid_messages_errors(messages: Any) -> None:
    try:
        format_prompt(messages)
    except InvalidMessagesError as error:
        assert str(error)


@given(st.text(max_size=3000))
def test_extract_fuzz_never_raises(text: str) -> None:
    extract_chatbox(text)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_proxy_credentials_never_appear_in_errors_logs_or_traces() -> None:
    secret = "s3cr3t-Pa55word"
    proxy = f"http://alice_user:{secret}@127.0.0.1:{closed_port()}"
    port = closed_port()
    stream = io.StringIO()
    configure_logging(logging.DEBUG, json_lines=True, stream=stream)
    add_secrets((secret,))
    trace = pipeline.Trace()
    client = pipeline.Client(pipeline.Settings(transport=TransportOptions(proxy=proxy, connect_timeout=2),
                                               retry=pipeline.RetryPolicy(attempts=2, wait_initial=0.01)))

    async def run() -> None:
        async with client:
            async for _ in pipeline.ask(client, pipeline.Site(url=f"http://carol:{secret}@127.0.0.1:{port}/"),
                                        [{"role": "user", "content": "hi"}], trace=trace):
                pass

    try:
        with pytest.raises(TransportError) as caught:
            asyncio.run(run())
    finally:
        configure_logging(logging.WARNING)
    facts = json.dumps([r.facts() for r in trace.records])
    for text in (str(caught.value), stream.getvalue(), facts, repr(client.settings)):
        assert secret not in text
    assert f"GET http://***@127.0.0.1:{port}/ failed" in str(caught.value)


def test_tls_verification_is_on_by_default() -> None:
    assert TransportOptions().verify is True


def test_a_huge_page_is_refused_with_a_clear_error(start_emulator: Any) -> None:
    site = start_emulator()
    client = pipeline.Client(pipeline.Settings(transport=TransportOptions(max_page_bytes=10_000),
                                               retry=pipeline.RetryPolicy(attempts=1)))

    async def run() -> None:
        async with client:
            async for _ in pipeline.ask(client, pipeline.Site(url=site.base_url + "/", system_prompt=""),
                                        [{"role": "user", "content": "hi"}]):
                pass

    with pytest.raises(TooLargeError, match="10000 bytes"):
        asyncio.run(run())


def test_the_total_deadline_ends_a_slow_message(start_emulator: Any) -> None:
    site = start_emulator(latency=2.0)
    client = pipeline.Client(pipeline.Settings(total_timeout=0.5, retry=pipeline.RetryPolicy(attempts=1)))

    async def run() -> float:
        loop = asyncio.get_running_loop()
        began = loop.time()
        async with client:
            with pytest.raises(pipeline.DeadlineExceededError):
                async for _ in pipeline.ask(client, pipeline.Site(url=site.base_url + "/", system_prompt=""),
                                            [{"role": "user", "content": "hi"}]):
                    pass
        return loop.time() - began

    assert asyncio.run(run()) < 1.5


def test_turning_tls_verification_off_warns_loudly() -> None:
    from stages.transport import InsecureTransportWarning, open_session

    async def run() -> None:
        session = open_session(TransportOptions(verify=False))
        await session.close()

    with pytest.warns(InsecureTransportWarning, match="verification is OFF"):
        asyncio.run(run())


def test_keep_alive_comments_do_not_stretch_the_deadline() -> None:
    from aiohttp import web
    from e2e_helpers import serve_app

    page = (Path(__file__).parents[1] / "fixtures/real/02-get-front-stream-on.html").read_bytes()

    async def chat_page(_: web.Request) -> web.Response:
        return web.Response(body=page, content_type="text/html")

    async def keep_alive(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream;charset=UTF-8"})
        await response.prepare(request)
        for _ in range(50):
            await response.write(b": keep-alive\n\n")
            await asyncio.sleep(0.1)
        return response

    app = web.Application()
    app.router.add_get("/", chat_page)
    app.router.add_post("/wp-admin/admin-ajax.php", keep_alive)
    with serve_app(app) as base:
        site = pipeline.Site(url=base + "/", api_endpoint=base + "/wp-admin/admin-ajax.php", system_prompt="")
        client = pipeline.Client(pipeline.Settings(total_timeout=0.8, retry=FAST_RETRIES))

        async def run() -> float:
            began = time.perf_counter()
            async with client:
                with pytest.raises(pipeline.DeadlineExceededError):
                    async for _ in pipeline.ask(client, site, [{"role": "user", "content": "hi"}]):
                        pass
            return time.perf_counter() - began

        assert asyncio.run(run()) < 1.5


def test_a_long_retry_after_ends_the_retries_within_the_deadline(start_emulator: Any) -> None:
    site = start_emulator(fault_rate=1.0, faults=("429",), retry_after=6)
    client = pipeline.Client(pipeline.Settings(total_timeout=1.0, retry=FAST_RETRIES))

    async def run() -> float:
        began = time.perf_counter()
        async with client:
            with pytest.raises(pipeline.RateLimitedError) as caught:
                async for _ in pipeline.ask(client, pipeline.Site(url=site.base_url + "/", system_prompt=""),
                                            [{"role": "user", "content": "hi"}]):
                    pass
        assert caught.value.retry_after == 6
        return time.perf_counter() - began

    assert asyncio.run(run()) < 1.0
    assert site.counters.snapshot()["post"] == 1


def test_proxy_credentials_without_a_scheme_are_still_secrets() -> None:
    from stages.redact import proxy_secrets

    assert "s3cr3tpw" in proxy_secrets("alice:s3cr3tpw@127.0.0.1:8080")


def test_site_credentials_stay_out_of_headers_traces_and_recorded_cases(legacy_site: Any, tmp_path: Path) -> None:
    from chatgpt_es.cli.record import record_case
    from stages.models import HttpRequest
    from stages.send import request_headers

    secret = "hunter2pw"
    url = legacy_site.base_url.replace("http://", f"http://bob:{secret}@") + "/"
    headers = request_headers(HttpRequest(method="POST", url="u", purpose="message"), url, None)
    assert secret not in json.dumps(headers) and headers["origin"] == legacy_site.base_url
    trace = pipeline.Trace()

    async def run() -> Path:
        async with pipeline.Client() as client:
            site = pipeline.Site(url=url, system_prompt="")
            async for _ in pipeline.ask(client, site, [{"role": "user", "content": "hi"}], trace=trace):
                pass
            return await record_case(client, site, "hi", tmp_path / "case")

    saved = asyncio.run(run())
    shown = json.dumps([r.facts() for r in trace.records]) + repr(trace.records)
    assert secret not in shown, shown[max(0, shown.find(secret) - 200):shown.find(secret) + 20]
    for file in saved.iterdir():
        assert secret not in file.read_text(encoding="utf-8", errors="replace"), file.name
