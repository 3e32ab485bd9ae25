"""The ``chatgpt-es`` command line, run as a real subprocess against local sites started in-process."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from cli_helpers import cli, cli_process, site_args
from conftest import FIXTURES, StartEmulator
from e2e_helpers import AJAX, serve_app

from chatgpt_es.emulator import Emulator

STAGES = ["prompt", "fetch", "extract", "endpoint", "payload", "send", "parse"]


# -- ask, emulate ---------------------------------------------------------------------------------


def test_ask_prints_the_answer(legacy_site: Emulator) -> None:
    done = cli("ask", "Hello there", *site_args(legacy_site))
    assert (done.returncode, done.stdout, done.stderr) == (0, "Echo: Hello there\n", "")


def test_ask_streams_from_an_aipkit_site(start_emulator: StartEmulator) -> None:
    emu = start_emulator(generation="aipkit")
    done = cli("ask", "¿Qué tal?", *site_args(emu))
    assert (done.returncode, done.stdout) == (0, "Echo: ¿Qué tal?\n")


def test_ask_on_a_cloudflare_site_exits_1_with_the_typed_error(start_emulator: StartEmulator) -> None:
    emu = start_emulator(cloudflare=True)
    done = cli("ask", "Hello", *site_args(emu))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("error: CloudflareChallengeError: ")
    assert "(HTTP 403)" in done.stderr


def test_ask_over_https_verifies_against_the_given_ca_file(start_emulator: StartEmulator) -> None:
    emu = start_emulator(tls=True)
    assert emu.ca_file is not None
    done = cli("ask", "Hola", *site_args(emu), "--ca-file", str(emu.ca_file))
    assert (done.returncode, done.stdout) == (0, "Echo: Hola\n")
    refused = cli("ask", "Hola", *site_args(emu), "--retries", "1")
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"error: TlsVerificationError: GET {emu.base_url}/: TLS verification failed")


@pytest.fixture
def emulate_process() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``chatgpt-es emulate --port 0`` as a subprocess; yields it and its first stdout line; stops it after."""
    with cli_process("emulate", "--port", "0") as started:
        yield started


def test_emulate_prints_its_url_first_and_serves_until_terminated(
    emulate_process: tuple[subprocess.Popen[str], str],
) -> None:
    process, first_line = emulate_process
    assert first_line.startswith("http://127.0.0.1:")
    port = first_line.rsplit(":", 1)[1]
    assert port.isdigit() and int(port) > 0
    done = cli("ask", "Hello from a subprocess", *site_args(first_line))
    assert (done.returncode, done.stdout) == (0, "Echo: Hello from a subprocess\n")
    process.terminate()
    assert process.wait(timeout=10.0) == 0  # SIGTERM is a clean stop


# -- trace ----------------------------------------------------------------------------------------


def test_trace_shows_the_six_stages_and_the_answer(legacy_site: Emulator) -> None:
    done = cli("trace", "Hello", *site_args(legacy_site))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines[:7]] == STAGES
    assert all("  ok  " in line for line in lines[:7])
    assert lines[-1] == "answer: Echo: Hello"


def test_trace_json_prints_one_object_per_stage(legacy_site: Emulator) -> None:
    done = cli("trace", "--json", "Hello", *site_args(legacy_site))
    assert done.returncode == 0, done.stderr
    objects = [json.loads(line) for line in done.stdout.splitlines()]
    stages, summary = objects[:-1], objects[-1]
    assert [o["stage"] for o in stages] == STAGES
    for record in stages:
        assert {"stage", "ms", "ok"} <= set(record)
        assert record["ok"] is True and isinstance(record["ms"], int | float)
        assert ("output" in record) != ("error" in record)
        assert set(record) - {"stage", "ms", "ok", "output", "error", "note"} == set()
    assert stages[2]["output"]["nonce"]["rule"] == "wpaicg_container"
    assert stages[3]["output"]["allowed"] is True and stages[3]["output"]["rule"] == "same_origin"
    assert stages[4]["output"]["fields"]["message"] == "Hello"
    assert summary == {"answer": "Echo: Hello", "error": None}


@pytest.fixture
def page_without_chat_box() -> Iterator[str]:
    """A WordPress site whose page has no chat box: admin-ajax.php refuses every nonce as WordPress does."""

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text="<html>no chat</html>", content_type="text/html")

    async def ajax(_request: web.Request) -> web.Response:
        return web.Response(status=403, text="The link you followed has expired.", content_type="text/html",
                            charset="UTF-8")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_route("*", AJAX, ajax)
    with serve_app(app) as base:
        yield base


def test_trace_shows_the_fallback_at_extract_and_the_refusal_that_follows(page_without_chat_box: str) -> None:
    done = cli("trace", "Hello", *site_args(page_without_chat_box))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    extract = next(line for line in lines if line.startswith("extract"))
    assert "NO chat box on this page" in extract
    assert "FELL BACK" in extract
    assert "nonce 8cf9917be2 [default]" in extract
    parse = next(line for line in lines if line.startswith("parse"))
    assert " ERR " in parse and "NonceRejectedError" in parse
    assert lines.index(extract) < lines.index(parse)
    assert lines[-1].startswith(f"failed: NoChatBoxError: the page {page_without_chat_box}/ has no AI Power chat "
                                "box (it holds a page that is not WordPress); the site refused the seed's fallback "
                                "values: NonceRejectedError (HTTP 403).")


def test_trace_json_shows_the_fallback_and_the_refusal(page_without_chat_box: str) -> None:
    done = cli("trace", "--json", "Hello", *site_args(page_without_chat_box))
    assert done.returncode == 1
    objects = [json.loads(line) for line in done.stdout.splitlines()]
    extract = next(o for o in objects if o.get("stage") == "extract")
    assert extract["ok"] is True and extract["output"]["used_defaults"] is True
    failed = [o for o in objects if o.get("ok") is False]
    assert failed and all(o["stage"] == "parse" and o["error"]["type"] == "NonceRejectedError" for o in failed)
    assert objects[-1]["error"]["type"] == "NoChatBoxError"  # what the refusal means: see test_actionable_errors


# -- stage ----------------------------------------------------------------------------------------


def test_stage_extract_reads_the_real_page() -> None:
    done = cli("stage", "extract", str(FIXTURES / "real" / "01-get-front-stream-off.html"))
    assert done.returncode == 0, done.stderr
    box = json.loads(done.stdout)
    assert box["nonce"]["value"] == "f2949d091c" and box["nonce"]["rule"] == "wpaicg_container"
    assert box["post_id"]["value"] == "4"
    assert (box["protocol"], box["markup"]) == ("legacy", "wpaicg-chat-shortcode")


def test_stage_parse_prints_the_chunks() -> None:
    done = cli("stage", "parse", str(FIXTURES / "real" / "20-post-valid-sse-stream-on.body.sse"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"chunks": ["Echo", ":", " Hello", " there"], "follow_up": None, "error": None}


def test_stage_payload_prints_the_form() -> None:
    done = cli("stage", "payload", "--nonce", "abc", "--message", "hi")
    assert done.returncode == 0, done.stderr
    request = json.loads(done.stdout)
    assert (request["method"], request["url"], request["purpose"]) == (
        "POST", "https://chatgpt.es/wp-admin/admin-ajax.php", "message")
    fields = request["fields"]
    assert list(fields) == ["_wpnonce", "post_id", "url", "action", "message", "bot_id", "chatbot_identity",
                            "wpaicg_chat_history", "wpaicg_chat_client_id"]
    assert (fields["_wpnonce"], fields["message"], fields["action"]) == ("abc", "hi", "wpaicg_chat_shortcode_message")
    assert (fields["post_id"], fields["bot_id"], fields["chatbot_identity"]) == ("106", "0", "shortcode")
    assert fields["wpaicg_chat_history"] == "[]"


def test_stage_prompt_reads_messages_from_stdin() -> None:
    messages = [
        {"role": "user", "content": 'Say "hi"'},
        {"role": "assistant", "content": "hi"},
        {"role": "user", "content": "Bye"},
    ]
    done = cli("stage", "prompt", "-", "--system", "Be brief.", stdin=json.dumps(messages))
    assert done.returncode == 0, done.stderr
    prompt = json.loads(done.stdout)
    assert prompt["text"] == "Be brief. Bye"
    assert prompt["history_lines"] == ["Human: Say \u201dhi\u201d", "AI: hi"]
    assert prompt["replaced_chars"] == 2


def test_stage_prompt_with_invalid_messages_exits_1() -> None:
    done = cli("stage", "prompt", "-", stdin=json.dumps([{"role": "assistant", "content": "last"}]))
    assert done.returncode == 1
    assert done.stderr.startswith("error: InvalidMessagesError: ")


# -- regress, record --------------------------------------------------------------------------------


def test_regress_over_the_fixtures_finds_no_mismatch() -> None:
    cases = len(list(FIXTURES.rglob("case.json")))
    assert cases > 0
    done = cli("regress", str(FIXTURES))
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[-1] == f"{cases} cases, 0 mismatches"


def test_regress_over_a_tampered_case_exits_1_and_names_the_stage(tmp_path: Path) -> None:
    case = tmp_path / "legacy-widget"
    shutil.copytree(FIXTURES / "cases" / "legacy-widget", case)
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    expected["extract"]["nonce"]["value"] = "0000000000"
    (case / "expected.json").write_text(json.dumps(expected), encoding="utf-8")
    done = cli("regress", str(case))
    assert done.returncode == 1
    assert "MISMATCH legacy-widget at stage extract" in done.stdout
    assert '"0000000000"' in done.stdout  # the diff shows the expectation that no longer holds
    assert done.stdout.splitlines()[-1] == "1 cases, 1 mismatches"


@pytest.mark.parametrize("config", [{}, {"stream": True}, {"generation": "aipkit"}], ids=["json", "stream", "aipkit"])
def test_record_saves_a_case_without_the_real_nonce_that_regress_replays(
    start_emulator: StartEmulator, tmp_path: Path, config: dict[str, object]
) -> None:
    emu = start_emulator(**config)
    target = tmp_path / "recorded"
    done = cli("record", "my-case", "Hello", *site_args(emu), "--into", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"saved {target}"
    files = sorted(p.name for p in target.iterdir())
    assert {"page.html", "case.json", "expected.json"} <= set(files)
    answers = [name for name in files if name.startswith("answer-")]
    assert len(answers) == (2 if config.get("generation") == "aipkit" else 1)
    nonce = emu.current_nonce().encode()
    assert all(nonce not in path.read_bytes() for path in target.iterdir())
    expected = json.loads((target / "expected.json").read_text(encoding="utf-8"))
    assert "".join(expected["parse"][-1]["chunks"]) == "Echo: Hello"
    assert expected["extract"]["nonce"]["value"] == "0n0nce0000"
    replay = cli("regress", str(target))
    assert replay.returncode == 0, replay.stdout
    assert replay.stdout.splitlines()[-1] == "1 cases, 0 mismatches"


# -- demo, diagnose --------------------------------------------------------------------------------


def test_demo_answers_on_all_three_sites() -> None:
    done = cli("demo")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("== AI Power") == 3
    assert out.count("site > Echo: Hello there\n") == 3
    assert out.count("site > Echo: What did I just say? (after 2 earlier turns)\n") == 3
    assert out.count("site > Echo: ¿Y en español? (after 4 earlier turns)\n") == 3


def test_diagnose_a_cloudflare_site_exits_1_and_says_cloudflare(start_emulator: StartEmulator) -> None:
    emu = start_emulator(cloudflare=True)
    done = cli("diagnose", *site_args(emu))
    assert done.returncode == 1
    assert "✗ page: CloudflareChallengeError" in done.stdout
    assert "Cloudflare shows a bot check" in done.stdout


def test_diagnose_a_page_without_chat_box_exits_1_and_says_so(page_without_chat_box: str) -> None:
    done = cli("diagnose", *site_args(page_without_chat_box))
    assert done.returncode == 1
    assert "✗ chat box: none this client can use; the page holds a page that is not WordPress" in done.stdout
    assert "nothing sent" in done.stdout and "✗ message" not in done.stdout  # more: test_actionable_cli


@pytest.mark.parametrize("generation", ["legacy", "aipkit"])
def test_diagnose_a_healthy_site_exits_0(start_emulator: StartEmulator, generation: str) -> None:
    emu = start_emulator(generation=generation)
    done = cli("diagnose", *site_args(emu))
    assert done.returncode == 0, done.stdout
    assert "✓ page: HTTP 200" in done.stdout
    assert f"✓ chat box: {generation} " in done.stdout
    assert "✓ message: answered 11 chars: 'Echo: Hello'" in done.stdout
