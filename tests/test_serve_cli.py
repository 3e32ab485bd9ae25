"""``chatgpt-es serve`` as a command, and its ``--sites`` file: each site a model id."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import openai
import pytest
from cli_helpers import COMMAND, cli_process
from cli_helpers import cli_env as _env
from conftest import StartEmulator, http
from serve_helpers import config_for

from chatgpt_es.emulator import Emulator
from chatgpt_es.server import ServerThread, load_sites
from pipeline import InvalidArgumentError


def serve_process(*args: str, env: dict[str, str] | None = None
                  ) -> contextlib.AbstractContextManager[tuple[subprocess.Popen[str], str]]:
    """``chatgpt-es serve ARGS`` as a subprocess; yields it and its first stdout line; stops it after."""
    return cli_process("serve", *args, env=env)


def test_serve_prints_its_url_first_and_answers(aipkit_site: Emulator) -> None:
    with serve_process("--port", "0", "--url", aipkit_site.base_url + "/", "--system", "") as (process, url):
        assert url.startswith("http://127.0.0.1:") and int(url.rsplit(":", 1)[1]) > 0
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
        assert reply.choices[0].message.content == "Echo: Hi"
        process.terminate()
        assert process.wait(timeout=10.0) == 0  # SIGTERM is a clean stop


def test_api_key_from_the_environment(legacy_site: Emulator) -> None:
    args = ("--port", "0", "--url", legacy_site.base_url + "/", "--system", "")
    with serve_process(*args, env={"CHATGPT_ES_API_KEY": "k-123"}) as (_, url):
        client = openai.OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
        client = openai.OpenAI(base_url=url + "/v1", api_key="k-123", max_retries=0)
        reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    assert reply.choices[0].message.content == "Echo: Hi"


@pytest.mark.parametrize(("key", "warned"), [(None, True), ("k", False)])
def test_a_non_loopback_address_without_a_key_is_warned(key: str | None, warned: bool) -> None:
    """192.0.2.1 (TEST-NET-1) is on no interface here: the bind fails after the warning, nothing listens."""
    env = {name: value for name, value in _env().items() if name != "CHATGPT_ES_API_KEY"}
    if key is not None:
        env["CHATGPT_ES_API_KEY"] = key
    done = subprocess.run([*COMMAND, "serve", "--host", "192.0.2.1", "--port", "0"], capture_output=True, text=True,
                          encoding="utf-8", env=env, timeout=60, check=False)
    assert done.returncode != 0 and done.stdout == ""
    assert ("WARNING: serving on 192.0.2.1 without an API key" in done.stderr) is warned


def write_sites(path: Path, legacy: Emulator, aipkit: Emulator) -> Path:
    path.write_text(f'[old]\nurl = "{legacy.base_url}/"\nsystem = ""\n\n'
                    f'[new]\nurl = "{aipkit.base_url}/"\nsystem = "Be brief."\nconcurrency = 2\n', encoding="utf-8")
    return path


def test_sites_file_each_site_is_a_model(tmp_path: Path, start_emulator: StartEmulator,
                                         aipkit_site: Emulator) -> None:
    default, legacy = start_emulator(), start_emulator()
    sites = load_sites(write_sites(tmp_path / "sites.toml", legacy, aipkit_site), "", 16)
    assert (sites["new"].concurrency, sites["new"].site.system_prompt) == (2, "Be brief.")
    with ServerThread(config_for(default, sites=sites)) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        models = [model.id for model in client.models.list()]
        answers = {model: client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi"}])
                   .choices[0].message.content for model in ("old", "new", "gpt-4o", "gpt-3.5-turbo")}
        with pytest.raises(openai.NotFoundError) as unknown:
            client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "Hi"}])
        health = http("GET", url + "/health").json()
    assert models == ["gpt-4", "gpt-4o", "gpt-4o-mini", "old", "new"]
    assert answers == {"old": "Echo: Hi", "new": "Echo: Be brief. Hi", "gpt-4o": "Echo: Hi",
                       "gpt-3.5-turbo": "Echo: Hi"}  # a name clients send by default reaches the default site
    assert [emu.counters.snapshot()["pages"] for emu in (default, legacy, aipkit_site)] == [1, 1, 1]
    assert [emu.counters.snapshot()["post"] for emu in (default, legacy)] == [2, 1]
    assert (unknown.value.code, unknown.value.param) == ("model_not_found", "model")
    assert health["sites"]["new"]["concurrency"] == 2


@pytest.mark.parametrize(("text", "says"), [
    ('[a]\nurl = "http://127.0.0.1:1/"\ncolour = "red"\n', "unknown keys ['colour']"),
    ("[a]\nsystem = 'x'\n", "url must be an http(s) URL"),
    ('[gpt-4o]\nurl = "http://127.0.0.1:1/"\n', "reserved for the default site"),
    ('[a]\nurl = "http://127.0.0.1:1/"\nconcurrency = 0\n', "concurrency must be a positive integer"),
    ("a = 1\n", "must be a table"),
    ("[a\n", "cannot read the sites file"),
    ("", "names no site"),
])
def test_a_bad_sites_file_says_what_is_wrong(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "sites.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidArgumentError) as caught:
        load_sites(path, "", 4)
    assert says in str(caught.value) and str(path) in str(caught.value)


def test_serve_refuses_a_bad_sites_file(tmp_path: Path) -> None:
    path = tmp_path / "sites.toml"
    path.write_text("[a]\nurl = 'ftp://x'\n", encoding="utf-8")
    done = subprocess.run([*COMMAND, "serve", "--port", "0", "--sites", str(path)], capture_output=True, text=True,
                          encoding="utf-8", env=_env(), timeout=60, check=False)
    assert done.returncode == 2 and "url must be an http(s) URL" in done.stderr and done.stdout == ""


def test_a_site_of_the_sites_file_keeps_its_bot_and_history(tmp_path: Path, start_emulator: StartEmulator) -> None:
    """The site's choices (``bot``, ``site_key``, ``history`` in the file; ``--bot`` … for the default site)
    reach every message the server sends."""
    default, two_bots = start_emulator(), start_emulator(generation="aipkit", page="two-bots")
    path = tmp_path / "sites.toml"
    path.write_text(f'[second]\nurl = "{two_bots.base_url}/"\nsystem = ""\nbot = "9"\nhistory = "inline"\n',
                    encoding="utf-8")
    sites = load_sites(path, "", 4)
    assert (sites["second"].site.bot_id, sites["second"].site.history) == ("9", "inline")
    with ServerThread(config_for(default, sites=sites)) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        reply = client.chat.completions.create(model="second", messages=[{"role": "user", "content": "Hi"}])
    assert reply.choices[0].message.content == "Echo: Hi"
    assert two_bots.last_form["bot_id"] == "9"


def test_serve_checks_its_address_before_binding() -> None:
    for args, says in ((["--port", "99999"], "--port"), (["--host", "999.1.1.1"], "--host")):
        done = subprocess.run([*COMMAND, "serve", *args], capture_output=True, text=True, encoding="utf-8",
                              env=_env(), timeout=60, check=False)
        assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
