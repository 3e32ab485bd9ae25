"""The wire format of ``chatgpt-es serve`` as raw HTTP: events, ``[DONE]``, the usage chunk, errors, auth."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from conftest import StartEmulator, http, parse_sse
from serve_helpers import config_for, served, user

from chatgpt_es.emulator import Emulator
from chatgpt_es.server.app import Api


def post(url: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http("POST", url + "/v1/chat/completions", body=raw,
                headers={"Content-Type": "application/json", **(headers or {})})


def events(body: bytes) -> list[str]:
    return [message.data for message in parse_sse(body)]


def test_stream_events(aipkit_site: Emulator) -> None:
    with served(aipkit_site) as url:
        answer = post(url, {"model": "gpt-4o", "messages": user("one two"), "stream": True,
                            "stream_options": {"include_usage": True}})
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/event-stream")
    data = events(answer.body)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(item) for item in data[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "Echo: one two"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop" and chunks[-2]["choices"][0]["delta"] == {}
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-2]] == [None] * (len(chunks) - 2)
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 2, "completion_tokens": 4, "total_tokens": 6, "estimated": True}


def test_stream_is_not_buffered(start_emulator: StartEmulator) -> None:
    emu = start_emulator(generation="aipkit", chunk_delay=0.2)
    with served(emu) as url:
        answer = post(url, {"model": "gpt-4o", "messages": user("a b c"), "stream": True})
    pieces = [chunk for _, chunk in answer.arrivals]
    assert len(pieces) >= 3  # written as the site's text came (0.2 s apart), not in one piece
    first_text = next(i for i, piece in enumerate(pieces) if b"Echo" in piece)
    assert first_text < len(pieces) - 1 and b"[DONE]" in pieces[-1]


def test_stream_without_usage_ends_with_stop_then_done(legacy_site: Emulator) -> None:
    with served(legacy_site) as url:
        data = events(post(url, {"model": "x", "messages": user("hi"), "stream": True}).body)
    assert data[-1] == "[DONE]"
    last = json.loads(data[-2])
    assert last["choices"][0]["finish_reason"] == "stop" and "usage" not in last


def test_error_after_the_stream_started_is_one_error_event(aipkit_site: Emulator) -> None:
    with served(aipkit_site) as url:
        answer = post(url, {"model": "gpt-4o", "messages": user("x [[provider-fail]]"), "stream": True})
    data = events(answer.body)
    assert answer.status == 200 and "[DONE]" not in data
    error = json.loads(data[-1])
    assert set(error) == {"error"}
    assert set(error["error"]) == {"message", "type", "param", "code"}
    assert error["error"]["message"].startswith("ProviderFailedError")
    assert [json.loads(item)["choices"][0]["delta"].get("content") for item in data[1:-1]] == ["Echo", ":"]


def test_error_before_the_stream_started_is_an_http_error(legacy_site: Emulator) -> None:
    with served(legacy_site) as url:
        answer = post(url, {"model": "gpt-4o", "messages": user("[[token-limit]]"), "stream": True})
    assert answer.status == 429
    assert answer.json()["error"]["code"] == "site_token_limit"


def test_rate_limit_has_retry_after(start_emulator: StartEmulator) -> None:
    emu = start_emulator(faults=("429",), fault_rate=1.0, retry_after=7)
    with served(emu) as url:
        answer = post(url, {"model": "gpt-4o", "messages": user("hi")})
    assert answer.status == 429
    assert answer.headers["Retry-After"] == "7"
    assert answer.json()["error"]["type"] == "rate_limit_error"


@pytest.mark.parametrize(("body", "param"), [
    ({"messages": user("hi"), "n": 2}, "n"),
    ({"messages": user("hi"), "n": 0}, "n"),
    ({"messages": user("hi"), "functions": [{"name": "f"}]}, "functions"),
    ({"messages": user("hi"), "response_format": {"type": "json_object"}}, "response_format"),
    ({"messages": user("hi"), "stream": "yes"}, "stream"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
     "messages[0].content[0].type"),
    ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
    ({"messages": [{"role": "tool", "content": "r"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}, "messages[1].role"),
    ({"messages": []}, "messages"),
    ({"model": 4, "messages": user("hi")}, "model"),
])
def test_bad_requests_are_400_naming_the_parameter(legacy_site: Emulator, body: dict[str, Any], param: str) -> None:
    with served(legacy_site) as url:
        answer = post(url, body)
    assert answer.status == 400
    error = answer.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert legacy_site.counters.snapshot()["requests"] == 0  # refused at the boundary


def test_text_parts_and_ignored_parameters_are_accepted(legacy_site: Emulator) -> None:
    parts = [{"type": "text", "text": "Hello "}, {"type": "text", "text": "parts"}]
    with served(legacy_site) as url:
        answer = post(url, {"model": "gpt-4o", "messages": [{"role": "user", "content": parts}],
                            "temperature": 0.1, "max_tokens": 5, "tool_choice": "none"})
    assert answer.status == 200
    assert answer.json()["choices"][0]["message"]["content"] == "Echo: Hello parts"


def test_ignored_parameters_are_logged_once(legacy_site: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    api = Api(config_for(legacy_site))
    with caplog.at_level(logging.WARNING, logger="chatgpt_es"):
        api.note_ignored(("temperature", "top_p"))
        api.note_ignored(("temperature",))
        api.note_ignored(("seed", "temperature"))
    logged = [json.loads(record.getMessage()) for record in caplog.records]
    assert [entry["parameters"] for entry in logged if entry["event"] == "parameters_ignored"] == [
        ["temperature", "top_p"], ["seed"]]


def test_malformed_json_and_unknown_paths(legacy_site: Emulator) -> None:
    with served(legacy_site) as url:
        bad = post(url, b"{not json")
        missing = http("GET", url + "/v1/nothing")
    assert bad.status == 400 and bad.json()["error"]["code"] == "invalid_json"
    assert missing.status == 404 and set(missing.json()["error"]) == {"message", "type", "param", "code"}


def test_health_and_models(legacy_site: Emulator) -> None:
    with served(legacy_site) as url:
        health = http("GET", url + "/health").json()
        models = http("GET", url + "/v1/models").json()
    assert health["status"] == "ok" and health["sites"]["default"]["active"] == 0
    assert models["object"] == "list"
    assert [m["id"] for m in models["data"]] == ["gpt-4", "gpt-4o", "gpt-4o-mini"]


def test_api_key(legacy_site: Emulator) -> None:
    with served(legacy_site, api_key="s3cret") as url:
        missing = post(url, {"messages": user("hi")})
        wrong = post(url, {"messages": user("hi")}, {"Authorization": "Bearer s3cre"})
        right = post(url, {"messages": user("hi")}, {"Authorization": "Bearer s3cret"})
        models = http("GET", url + "/v1/models")
        health = http("GET", url + "/health")
        health_with_key = http("GET", url + "/health", headers={"Authorization": "Bearer s3cret"})
    assert (missing.status, wrong.status, right.status, models.status, health.status) == (401, 401, 200, 401, 200)
    assert health.json() == {"status": "ok"} and "default" in health_with_key.json()["sites"]
    assert missing.json()["error"]["code"] == "invalid_api_key"
    assert "s3cret" not in wrong.text
    assert right.json()["choices"][0]["message"]["content"] == "Echo: hi"
