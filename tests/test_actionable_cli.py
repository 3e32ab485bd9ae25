"""Errors a person can act on, through the command line (a real subprocess): a usage error is one line and
exit 2, a failed message one line and exit 1, never a traceback; debug commands show what they promise."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from cli_helpers import cli, site_args
from conftest import FIXTURES, StartEmulator
from e2e_helpers import AJAX, serve_app
from test_actionable_errors import LOGIN_PAGE, OTHER_NONCE_PAGE, STATIC_PAGE, WORDPRESS_PAGE

from chatgpt_es.emulator import Emulator


def one_line_failure(done: object, code: int) -> str:
    """The one stderr line of a failed command (asserting exit code, nothing on stdout, no traceback)."""
    assert getattr(done, "returncode") == code, getattr(done, "stderr")  # noqa: B009
    stderr: str = getattr(done, "stderr")  # noqa: B009
    assert "Traceback" not in stderr and "Task exception was never retrieved" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends: nothing listens there


@pytest.mark.parametrize(("args", "said"), [
    (["ask", "--url", "", "hi"], "--url"),
    (["ask", "--url", "http://127.0.0.1:99999/", "hi"], "Port out of range"),
    (["ask", "--url", "http://exa mple.com/", "hi"], "'http://exa mple.com/' contains a space"),
    (["ask", "--url", "ftp://127.0.0.1:18001/", "hi"], "scheme 'ftp'"),
    (["ask", "--endpoint", "file:///etc/passwd", "hi"], "--endpoint"),
    (["ask", "--timeout", "0", "hi"], "--timeout"),
    (["ask", "--timeout", "-5", "hi"], "--timeout"),
    (["ask", "--timeout", "inf", "hi"], "finite"),
    (["ask", "--connect-timeout", "0", "hi"], "--connect-timeout"),
    (["ask", "--read-timeout", "nan", "hi"], "--read-timeout"),
    (["ask", "--retries", "0", "hi"], "1 sends once and never retries"),
    (["ask", "--retries", "many", "hi"], "--retries"),
    (["ask", "hi", "--nosuch"], "--nosuch"),
    (["ask", "   "], "messages[0] is blank"),
    (["soak", "--fault-rate", "2"], "--fault-rate"),
    (["soak", "--concurrency", "0"], "--concurrency"),
    (["soak", "--messages", "0"], "--messages"),
    (["soak", "--timeout", "0"], "--timeout"),
    (["emulate", "--fault-rate", "3"], "--fault-rate"),
    (["emulate", "--host", "999.1.1.1"], "not a valid IPv4 address"),
    (["emulate", "--port", "70000"], "--port"),
    (["emulate", "--latency", "-1"], "--latency"),
    (["batch", "--concurrency", "0", "{input}", "{tmp}/out.jsonl"], "--concurrency"),
    (["batch", "--rate", "0", "{input}", "{tmp}/out.jsonl"], "--rate"),
    (["batch", "{input}", "/nonexistent-dir/out.jsonl"], "'/nonexistent-dir' does not exist"),
    (["batch", "{input}", "{tmp}"], "is a folder"),
    (["record", "case", "hi", "--into", "{input}/case"], "is not a writable folder"),
    (["record", "case", "hi", "--into", "{input}"], "is a file, not a folder"),
    (["stage", "payload", "--nonce", "x", "--message", "  "], "messages[0] is blank"),
    (["nosuch"], "nosuch"),
    (["ask", "hi", "--allow-endpoint-host", "http://x:1/"], "--allow-endpoint-host"),
    (["serve", "--port", "99999"], "--port"),
    (["serve", "--host", "999.1.1.1"], "--host"),
])
def test_a_usage_error_is_one_line_and_exit_2(tmp_path: Path, args: list[str], said: str) -> None:
    items = tmp_path / "in.jsonl"
    items.write_text('{"id": 1, "message": "hi"}\n', encoding="utf-8")
    done = cli(*[a.replace("{input}", str(items)).replace("{tmp}", str(tmp_path)) for a in args])
    line = one_line_failure(done, 2)
    assert said in line
    assert done.stdout == ""
    assert not (tmp_path / "out.jsonl").exists()


def test_a_failed_connection_is_one_line_and_exit_1(closed_port: int) -> None:
    done = cli("ask", "--url", f"http://127.0.0.1:{closed_port}/", "--retries", "1", "hi")
    assert "TransportError" in one_line_failure(done, 1)


def test_debug_shows_the_traceback(closed_port: int) -> None:
    done = cli("--debug", "ask", "--url", f"http://127.0.0.1:{closed_port}/", "--retries", "1", "hi")
    assert done.returncode == 1
    assert "Traceback" in done.stderr and done.stderr.splitlines()[-1].startswith("error: TransportError")


def test_emulate_on_a_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = cli("emulate", "--port", str(taken.getsockname()[1]), timeout=30)
    assert "cannot serve on 127.0.0.1:" in one_line_failure(done, 1)


def test_insecure_warns_once(legacy_site: Emulator) -> None:
    done = cli("ask", "--insecure", "Hello", *site_args(legacy_site))
    assert done.returncode == 0 and done.stdout == "Echo: Hello\n"
    assert done.stderr.count("TLS verification is OFF") == 1
    assert "InsecureTransportWarning" not in done.stderr and len(done.stderr.splitlines()) == 1


@contextlib.contextmanager
def page_site(page: str, posts: list[int]) -> Iterator[str]:
    async def show(_request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    async def ajax(_request: web.Request) -> web.Response:
        posts.append(1)
        return web.Response(status=403, text="The link you followed has expired.", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", show)
    app.router.add_route("*", AJAX, ajax)
    with serve_app(app) as base:
        yield base


def test_ask_on_a_page_without_a_chat_box_warns_naming_the_page_and_fails_once() -> None:
    posts: list[int] = []
    with page_site(LOGIN_PAGE, posts) as base:
        done = cli("ask", "Hello", *site_args(base))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    warning, error = done.stderr.splitlines()
    assert json.loads(warning)["event"] == "no_chat_box" and json.loads(warning)["page"] == base + "/"
    assert error.startswith(f"error: NoChatBoxError: the page {base}/ has no AI Power chat box (it holds a login form")
    assert "login wall" in error and len(posts) == 1


@pytest.mark.parametrize(("page", "held", "advice"), [
    (LOGIN_PAGE, "a login form", "login wall"),
    (OTHER_NONCE_PAGE, "another plugin's nonce", "belongs to another plugin"),
    (WORDPRESS_PAGE, "a WordPress page without the AI Power chat box", "find the chat"),
    (STATIC_PAGE, "a page that is not WordPress", "Check the URL"),
])
def test_diagnose_stops_at_a_page_without_a_chat_box_with_matching_advice(page: str, held: str, advice: str) -> None:
    posts: list[int] = []
    with page_site(page, posts) as base:
        done = cli("diagnose", *site_args(base))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"✗ chat box: none this client can use; the page holds {held}" in done.stdout
    assert advice in done.stdout and "✓ message" not in done.stdout and "✗ message" not in done.stdout
    assert posts == []  # nothing sent: the fallback values would only be refused


def test_diagnose_a_cloudflare_check_page_says_cloudflare(start_emulator: StartEmulator) -> None:
    emu = start_emulator(cloudflare=True)
    done = cli("diagnose", *site_args(emu))
    assert done.returncode == 1 and "Cloudflare shows a bot check" in done.stdout


def test_record_refuses_a_page_without_a_chat_box_and_writes_nothing(tmp_path: Path) -> None:
    posts: list[int] = []
    target = tmp_path / "case"
    with page_site(OTHER_NONCE_PAGE, posts) as base:
        done = cli("record", "case", "Hello", *site_args(base), "--into", str(target))
    line = one_line_failure(done, 1)
    assert "NoChatBoxError: not recording" in line and "could not replay" in line
    assert not target.exists() and posts == []


def test_stage_parse_prints_the_errors_message(tmp_path: Path) -> None:
    answer = tmp_path / "answer.json"
    answer.write_text('{"status":"error","msg":"Couldn&#039;t connect to the AI"}', encoding="utf-8")
    done = cli("stage", "parse", str(answer))
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["error"] == "SiteRefusedError"
    assert result["message"].startswith("the site refused: Couldn't connect to the AI (HTTP 200)")


def test_stage_parse_reads_a_rest_api_answer() -> None:
    answer = FIXTURES / "cases" / "rest-messages-missing" / "answer.json"
    done = cli("stage", "parse", str(answer), "--protocol", "rest", "--status", "400")
    assert done.returncode == 1  # an answer that is an error: shown, and the exit status says so
    shown = json.loads(done.stdout)
    assert shown["error"] == "RestMessagesRejectedError" and "rest_missing_callback_param" in shown["message"]


def test_stage_fetch_prints_the_headers(legacy_site: Emulator) -> None:
    done = cli("stage", "fetch", *site_args(legacy_site))
    assert done.returncode == 0, done.stderr
    page = json.loads(done.stdout)
    assert page["status"] == 200
    names = [name.lower() for name, _ in page["headers"]]
    assert "content-type" in names and len(names) >= 2


def test_batch_reads_a_file_that_starts_with_a_bom(legacy_site: Emulator, tmp_path: Path) -> None:
    items = tmp_path / "in.jsonl"
    items.write_bytes(b'\xef\xbb\xbf{"id": 1, "message": "Hello"}\n{"id": 2, "message": "Hola"}\n')
    output = tmp_path / "out.jsonl"
    done = cli("batch", str(items), str(output), *site_args(legacy_site))
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert sorted((r["id"], r["answer"], r["error"]) for r in results) == [(1, "Echo: Hello", None),
                                                                           (2, "Echo: Hola", None)]


def test_ask_when_the_sites_model_is_down_says_so_after_two_sends(start_emulator: StartEmulator) -> None:
    emu = start_emulator(stream=True)
    done = cli("ask", "[[model-down]] Hello", *site_args(emu))
    assert one_line_failure(done, 1).startswith("error: ModelFailedError: the site's model failed")
    assert emu.counters.snapshot()["post"] == 2


def test_ask_never_repeats_text_when_a_nonce_refusal_follows_it(start_emulator: StartEmulator) -> None:
    emu = start_emulator(generation="aipkit")
    done = cli("ask", "[[nonce-after-text]] Hello", *site_args(emu))
    assert done.stdout == "Echo:"  # once, and no newline: the answer did not end
    assert one_line_failure(done, 1).startswith("error: NonceRejectedError:")
    assert emu.counters.snapshot()["by_action"].get("aipkit_cache_sse_message") == 1
