"""The emulator's legacy generation (AI Power 1.9.x): streaming, triggers, faults, Cloudflare, latency, TLS,
counters, the server process and its configuration (the page, nonces and captures: test_emulator_legacy.py).
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import AJAX, MULTIPART_TYPE, StartEmulator, chat_form, http, parse_sse

from chatgpt_es.emulator import FAULT_KINDS, Emulator, EmulatorConfig

# --- streaming and triggers ------------------------------------------------------------------------------


def test_stream_events_arrive_separately(start_emulator: StartEmulator) -> None:
    emu = start_emulator(stream=True, chunk_delay=0.06)
    answer = http("POST", emu.base_url + AJAX, form=chat_form(emu, "one two three"))
    events = parse_sse(answer.body)
    assert [e.data for e in events][-1] == "[DONE]"
    assert len(events) == 8  # role, "Echo", ":", " one", " two", " three", finish, [DONE]
    assert len(answer.arrivals) >= 6
    first, last = answer.arrivals[0][0], answer.arrivals[-1][0]
    assert last - first >= 7 * 0.06 * 0.8


def _contents(body: bytes) -> str:
    text = ""
    for event in parse_sse(body):
        if event.data.startswith("{"):
            for choice in json.loads(event.data)["choices"]:
                text += choice.get("delta", {}).get("content", "")
    return text


def test_triggers_json(legacy_site: Emulator) -> None:
    def ask(message: str) -> Any:
        return http("POST", legacy_site.base_url + AJAX, form=chat_form(legacy_site, message)).body

    limited = b'{"msg":"You have reached your token limit.","tokenLimitReached":true}'
    assert ask("x [[token-limit]]") == limited
    assert json.loads(ask("[[consent]]"))["data"] == "Du musst das Kästchen anklicken!"
    assert b'"data":"Du musst das K\\u00e4stchen anklicken!"' in ask("[[consent]]")
    assert ask("[[upstream-error]]") == b'{"status":"error","msg":"Incorrect API key provided."}'


def test_triggers_stream(start_emulator: StartEmulator) -> None:
    emu = start_emulator(stream=True)

    def ask(message: str) -> bytes:
        return http("POST", emu.base_url + AJAX, form=chat_form(emu, message)).body

    assert ask("[[token-limit]]") == b"data: [LIMITED]\n\n"
    consent = ask("[[consent]]")
    assert _contents(consent) == "Du musst das Kästchen anklicken!" and consent.endswith(b"data: [DONE]\n\n")
    error = ask("[[upstream-error]]")
    assert _contents(error) == "Incorrect API key provided."
    assert error.endswith(b'\n\ndata: {"choices":[{"finish_reason":"stop"}]}\n\n')
    assert b"[DONE]" not in error


# --- faults, Cloudflare, latency, TLS, counters --------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_each_fault_kind(start_emulator: StartEmulator, stream: bool) -> None:
    assert set(FAULT_KINDS) == {"500", "502", "429", "drop", "truncate", "nonce"}
    for kind in FAULT_KINDS:
        emu = start_emulator(stream=stream, fault_rate=1.0, faults=(kind,), retry_after=7)
        page = http("GET", emu.base_url + "/")
        assert page.status == 200  # only admin-ajax.php gets faults
        answer = http("POST", emu.base_url + AJAX, form=chat_form(emu, "Hello there"),
                      headers={"Referer": emu.base_url + "/"})
        full = '{"status":"success","msg":"Something went wrong","greeting_message":"Converse'
        if kind == "500":
            assert answer.status == 500 and b"critical error" in answer.body
        elif kind == "502":
            assert answer.status == 502 and b"<title>502 Bad Gateway</title>" in answer.body
            assert answer.headers["Server"] == "nginx"
        elif kind == "429":
            assert answer.status == 429 and answer.headers["Retry-After"] == "7"
        elif kind == "nonce":
            assert answer.status == 403
            assert answer.text.startswith("The link you followed has expired.</p><p><a href=")
        elif kind == "drop":
            assert answer.status == 200 and answer.error == "ClientPayloadError"
            if stream:
                assert len([e for e in parse_sse(answer.body) if '"content":"' in e.data]) == 3  # role + 2
            else:
                assert int(answer.headers["Content-Length"]) > len(answer.body) > 0
                assert full.startswith(answer.text[:60])
        else:  # truncate
            assert answer.status == 200 and answer.error is None
            if stream:
                assert b"[DONE]" not in answer.body and answer.body.startswith(b"data: {")
            else:
                assert full.startswith(answer.text[:60])
                with pytest.raises(json.JSONDecodeError):
                    json.loads(answer.body)
        assert emu.counters.snapshot()["by_outcome"] == {"page": 1, f"fault_{kind}": 1}


def test_fault_sequence_is_reproducible(start_emulator: StartEmulator) -> None:
    def statuses(seed: int) -> list[int]:
        emu = start_emulator(fault_rate=0.5, fault_seed=seed, faults=("500", "502", "429"))
        return [http("POST", emu.base_url + AJAX, form=chat_form(emu, "x")).status for _ in range(12)]

    first = statuses(3)
    assert first == statuses(3)
    assert {200, 500, 502, 429} >= set(first) and 200 in first and len(set(first)) > 1


def test_cloudflare_challenge_everywhere(start_emulator: StartEmulator) -> None:
    emu = start_emulator(cloudflare=True)
    for method, path in (("GET", "/"), ("POST", AJAX)):
        answer = http(method, emu.base_url + path, form=chat_form(emu, "x") if method == "POST" else None)
        assert answer.status == 403
        assert answer.headers["cf-mitigated"] == "challenge"
        assert answer.headers["Server"] == "cloudflare"
        assert answer.headers["Content-Type"] == "text/html; charset=UTF-8"
        assert "<title>Just a moment...</title>" in answer.text
        assert '<div id="challenge-running">' in answer.text and "window._cf_chl_opt" in answer.text
    assert emu.counters.snapshot()["by_outcome"] == {"challenge": 2}


def test_latency_is_added(start_emulator: StartEmulator) -> None:
    emu = start_emulator(latency=0.25)
    answer = http("POST", emu.base_url + AJAX, form=chat_form(emu, "x"))
    assert answer.arrivals[0][0] >= 0.25


def test_counters_and_endpoint(legacy_site: Emulator) -> None:
    http("GET", legacy_site.base_url + "/")
    http("POST", legacy_site.base_url + AJAX, form=chat_form(legacy_site, "x"))
    http("POST", legacy_site.base_url + AJAX, form=chat_form(legacy_site, ""))
    http("POST", legacy_site.base_url + AJAX, form=chat_form(legacy_site, "x", _wpnonce="bad"))
    http("POST", legacy_site.base_url + AJAX, form={"action": "nope"})
    http("GET", legacy_site.base_url + AJAX)
    expected = {
        "requests": 6, "get": 2, "post": 4, "pages": 1,
        "by_action": {"wpaicg_chat_shortcode_message": 3, "nope": 1, "(none)": 1},
        "by_outcome": {"page": 1, "answer": 1, "empty_message": 1, "nonce_rejected": 1, "unknown_action": 2},
    }
    assert legacy_site.counters.snapshot() == expected
    assert http("GET", legacy_site.base_url + "/__emulator__/counters").json() == expected
    assert http("POST", legacy_site.base_url + "/__emulator__/reset").status == 200
    assert http("GET", legacy_site.base_url + "/__emulator__/counters").json() == {
        "requests": 0, "get": 0, "post": 0, "pages": 0, "by_action": {}, "by_outcome": {},
    }


def test_tls_verifies_only_against_the_test_ca(start_emulator: StartEmulator) -> None:
    import asyncio

    from curl_cffi.requests import AsyncSession
    from curl_cffi.requests.exceptions import RequestException

    emu = start_emulator(tls=True)
    assert emu.base_url.startswith("https://127.0.0.1:")
    assert emu.ca_file is not None and emu.ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")

    async def fetch(verify: str | bool) -> tuple[int, str]:
        async with AsyncSession(impersonate="chrome") as session:
            response = await session.get(emu.base_url + "/", verify=verify, timeout=10)
            return response.status_code, response.text

    status, text = asyncio.run(fetch(str(emu.ca_file)))
    assert status == 200 and f'data-nonce="{emu.current_nonce()}"' in text and emu.base_url in text
    with pytest.raises(RequestException):
        asyncio.run(fetch(True))
    context = ssl.create_default_context(cafile=str(emu.ca_file))
    answer = http("POST", emu.base_url + AJAX, form=chat_form(emu, "x"), ssl=context)
    assert answer.json()["data"] == "Echo: x"


def test_serve_forever_prints_url_then_ca_and_stops_on_sigterm(tmp_path: Path) -> None:
    code = (
        "from chatgpt_es.emulator import EmulatorConfig, serve_forever\n"
        "serve_forever(EmulatorConfig(tls=True))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env) as proc:
        try:
            assert proc.stdout is not None
            base_url = proc.stdout.readline().strip()
            ca_line = proc.stdout.readline().strip()
            assert base_url.startswith("https://127.0.0.1:")
            assert ca_line.startswith("ca-file: ") and Path(ca_line[9:]).is_file()
            context = ssl.create_default_context(cafile=ca_line[9:])
            counters = http("GET", base_url + "/__emulator__/counters", ssl=context).json()
            assert counters["requests"] == 0
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
            assert not Path(ca_line[9:]).exists()  # the CA file lives as long as the emulator
        finally:
            if proc.poll() is None:
                proc.kill()


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        EmulatorConfig(generation="v3")
    with pytest.raises(ValueError):
        EmulatorConfig(faults=("500", "teapot"))
    with pytest.raises(ValueError):
        EmulatorConfig(fault_rate=1.5)
    assert MULTIPART_TYPE.startswith("multipart/form-data")
