"""chatgpt_es.g4f.ChatGptEs through g4f's own clients, against the local site of both plugin generations.

Runs where g4f is importable: ``.ci/g4f-check`` runs this file in a g4f 0.5.2.0 venv and in a venv with the
newest g4f, with ``CHATGPT_ES_REQUIRE_G4F=1``, which turns a missing g4f into a collection error instead of
a skip.  Without g4f (the main venv) the whole file skips; tests/test_g4f_missing.py covers that case.

No network.  Measured with g4f 0.5.2.0 and 8.8.6: importing g4f and creating ``Client``/``AsyncClient``
opens no connection, and a client given a provider (class or registered name) never runs the model-list
and version checks (those live in ``get_model_and_provider``, which these paths do not call).  What 8.x
does touch is the disk: it appends usage lines under its config dir, so ``G4F_CONFIG_DIR`` and
``G4F_CACHE_DIR`` point at a temporary directory before g4f is imported, and ``G4F_PROXY`` is unset.
The ``no_network`` fixture (autouse) enforces it: ``socket.getaddrinfo`` and ``socket.socket.connect``
refuse any address that is not 127.0.0.1, and the test fails if anything tried.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

import pytest

_G4F_HOME = tempfile.mkdtemp(prefix="chatgpt-es-g4f-")
atexit.register(shutil.rmtree, _G4F_HOME, True)
os.environ["G4F_CONFIG_DIR"] = _G4F_HOME  # 8.x reads it when g4f.config is imported
os.environ["G4F_CACHE_DIR"] = _G4F_HOME
if os.environ.get("CHATGPT_ES_REQUIRE_G4F") == "1":
    import g4f  # CI: a missing g4f is an error, never a skip
else:
    g4f = pytest.importorskip("g4f")

import g4f.cookies  # noqa: E402
import g4f.debug  # noqa: E402
from conftest import StartEmulator  # noqa: E402
from e2e_helpers import user  # noqa: E402
from g4f.providers.base_provider import AsyncGeneratorProvider, ProviderModelMixin  # noqa: E402
from g4f_helpers import async_answer, async_chunks, local, sync_answer, ticks_while  # noqa: E402

import pipeline  # noqa: E402
from chatgpt_es.emulator import Emulator  # noqa: E402
from chatgpt_es.g4f import ChatGptEs, register, unregister  # noqa: E402

LINE = version("g4f")
OLD_LINE = LINE == "0.5.2.0"
g4f.cookies.set_cookies_dir(_G4F_HOME)  # 0.5.2.0 reads ./har_and_cookies otherwise
g4f.debug.version_check = False  # belt and braces: only get_model_and_provider would look


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Refuse and record every attempt to resolve or connect to anything but 127.0.0.1."""
    tried: list[Any] = []
    resolve, connect = socket.getaddrinfo, socket.socket.connect

    def guarded_resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", b"127.0.0.1"):
            tried.append(host)
            raise OSError(f"test without network: refused to resolve {host!r}")
        return resolve(host, *args, **kwargs)

    def guarded_connect(sock: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address[0] != "127.0.0.1":
            tried.append(address)
            raise OSError(f"test without network: refused to connect to {address!r}")
        connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_resolve)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.delenv("G4F_PROXY", raising=False)
    yield tried
    assert tried == [], f"g4f tried to reach the network: {tried}"


# -- the class -------------------------------------------------------------------------------


def test_a_g4f_provider_with_every_attribute_of_the_seed() -> None:
    assert issubclass(ChatGptEs, AsyncGeneratorProvider) and issubclass(ChatGptEs, ProviderModelMixin)
    for name in ("url", "api_endpoint", "working", "supports_stream", "supports_system_message",
                 "supports_message_history", "default_model", "models", "SYSTEM_PROMPT"):
        assert getattr(ChatGptEs, name) == getattr(pipeline.ChatGptEs, name), name
    assert ChatGptEs.get_dict()["name"] == "ChatGptEs" and ChatGptEs.use_stream_timeout is True


@pytest.mark.parametrize(("asked", "got"), [("gpt-4", "gpt-4"), ("", "gpt-4o"), ("auto", "gpt-4o"),
                                            ("claude-3", "gpt-4o")])
def test_unknown_or_empty_models_fall_back_to_the_default(asked: str, got: str) -> None:
    assert ChatGptEs.get_model(asked) == got  # 0.5.2.0's own mixin raises ModelNotSupportedError for claude-3


def test_the_endpoint_rule_of_the_pipeline_applies() -> None:
    class OnlyUrl(ChatGptEs):
        url = "https://other.test/chat/"

    class Both(ChatGptEs):
        url = "https://other.test/chat/"
        api_endpoint = "https://other.test/custom-ajax.php"

    class Deeper(Both):
        url = "https://third.test/"

    assert ChatGptEs.pipeline_class().site().api_endpoint == "https://chatgpt.es/wp-admin/admin-ajax.php"
    assert OnlyUrl.pipeline_class().site().api_endpoint is None  # the page says where to post
    assert Both.pipeline_class().site().api_endpoint == "https://other.test/custom-ajax.php"
    assert Deeper.pipeline_class().site().url == "https://third.test/"
    assert Deeper.pipeline_class().site().api_endpoint is None


# -- g4f's clients, both generations, streamed and not ----------------------------------------


@pytest.mark.parametrize("generation", ["legacy", "aipkit"])
def test_async_client_streams_pieces_as_they_arrive(start_emulator: StartEmulator, generation: str) -> None:
    emu = start_emulator(generation=generation, stream=True, chunk_delay=0.05)
    pieces = async_chunks(local(emu), user("Hello there"), model="")
    assert [text for _, text in pieces] == ["Echo", ":", " Hello", " there"]
    assert pieces[-1][0] - pieces[0][0] >= 0.1  # 3 gaps of 0.05 s: not buffered into one answer


@pytest.mark.parametrize("generation", ["legacy", "aipkit"])
@pytest.mark.parametrize("model", ["", "gpt-4o-mini", "claude-3"])
def test_async_client_answers_whole(start_emulator: StartEmulator, generation: str, model: str) -> None:
    emu = start_emulator(generation=generation)
    assert async_answer(local(emu), user("Hola"), model=model) == "Echo: Hola"


@pytest.mark.parametrize("generation", ["legacy", "aipkit"])
@pytest.mark.parametrize("stream", [False, True])
def test_sync_client(start_emulator: StartEmulator, generation: str, stream: bool) -> None:
    emu = start_emulator(generation=generation, stream=True)
    pieces = sync_answer(local(emu), user("Hello there"), stream=stream)
    assert pieces == (["Echo", ":", " Hello", " there"] if stream else ["Echo: Hello there"])


def test_the_system_prompt_attribute_is_sent(legacy_site: Emulator) -> None:
    answer = async_answer(local(legacy_site, ChatGptEs.SYSTEM_PROMPT), user("hi"))
    assert answer == f"Echo: {ChatGptEs.SYSTEM_PROMPT} hi"


# -- what the site sees: post_id, bot, conversations ------------------------------------------


def test_g4f_api_key_is_the_site_owners_rest_key(start_emulator: StartEmulator) -> None:
    """g4f's name for a provider key, ``api_key``, reaches the site's REST API (with ``bot_id``)."""
    key = "aipk_live_" + "4" * 48
    emu = start_emulator(generation="aipkit", rest_key=key)
    assert async_answer(local(emu), user("Hola"), api_key=key, bot_id="5") == "Echo: Hola [2 msgs: system,user]"
    assert emu.counters.snapshot()["by_outcome"].get("rest_reply") == 1


def test_legacy_posts_the_pages_post_id_and_bot(start_emulator: StartEmulator) -> None:
    shortcode, custom = start_emulator(), start_emulator(page="custom-bot", bot_id=42)
    assert async_answer(local(shortcode), user("a")) == "Echo: a"
    assert (shortcode.last_form["post_id"], shortcode.last_form["bot_id"]) == ("4", "0")
    assert async_answer(local(custom), user("b")) == "Echo: b"
    form = custom.last_form
    assert (form["post_id"], form["bot_id"], form["chatbot_identity"]) == ("4", "42", "custom_bot_42")


def test_aipkit_posts_the_pages_bot(aipkit_site: Emulator) -> None:
    assert async_answer(local(aipkit_site), user("a")) == "Echo: a"
    assert aipkit_site.last_form["bot_id"] == "5"
    [(bot, _, _)] = aipkit_site.conversations  # the stream GET was accepted for bot 5 ("Invalid chatbot" else)
    assert bot == 5


@pytest.mark.parametrize("client", ["async", "sync"])
def test_a_growing_history_continues_the_sites_conversation(aipkit_site: Emulator, client: str) -> None:
    provider, messages, answers = local(aipkit_site), [], []
    for text in ("My name is Ana.", "What is my name?", "Thanks"):
        messages.append({"role": "user", "content": text})
        answer = async_answer(provider, messages) if client == "async" else sync_answer(provider, messages)[0]
        answers.append(answer)
        messages.append({"role": "assistant", "content": answer})
    assert answers == ["Echo: My name is Ana.", "Echo: What is my name? (after 2 earlier turns)",
                       "Echo: Thanks (after 4 earlier turns)"]
    [thread] = aipkit_site.conversations.values()  # one conversation on the site, though each call had a new loop
    assert [turn.content for turn in thread if turn.role == "user"] == ["My name is Ana.", "What is my name?", "Thanks"]


def test_legacy_history_is_sent_from_the_messages(legacy_site: Emulator) -> None:
    messages = [*user("one"), {"role": "assistant", "content": "Echo: one"}, *user("two")]
    assert sync_answer(local(legacy_site), messages) == ["Echo: two (after 2 earlier turns)"]
    assert legacy_site.last_history == [("user", "one"), ("assistant", "Echo: one")]


# -- g4f's keyword arguments and errors ---------------------------------------------------------


def test_g4f_options_are_accepted_and_the_unusable_ones_named(legacy_site: Emulator,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="chatgpt_es"):
        answer = async_answer(local(legacy_site), user("hi"), temperature=0.2, conversation=None, max_tokens=500,
                              stop=["zzz"], timeout=30, stream_timeout=30, return_conversation=True)
    assert answer == "Echo: hi"
    [warning] = [json.loads(r.getMessage()) for r in caplog.records if "options_ignored" in r.getMessage()]
    assert warning["options"] == ["conversation", "return_conversation", "temperature"]  # not g4f's own


def test_pipeline_options_pass_through_g4f(start_emulator: StartEmulator) -> None:
    emu = start_emulator(tls=True)
    assert async_answer(local(emu), user("over TLS"), verify=str(emu.ca_file)) == "Echo: over TLS"


def test_g4f_proxy_reaches_the_transport(legacy_site: Emulator) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(pipeline.TransportError):
        async_answer(local(legacy_site), user("hi"), proxy=f"http://127.0.0.1:{port}", retries=1)
    assert legacy_site.counters.snapshot()["requests"] == 0
    assert async_answer(local(legacy_site), user("hi")) == "Echo: hi"


def test_timeout_bounds_the_whole_message(start_emulator: StartEmulator) -> None:
    emu = start_emulator(latency=1.0)
    started = time.perf_counter()
    with pytest.raises(pipeline.DeadlineExceededError):
        async_answer(local(emu), user("hi"), timeout=0.3, retries=1)
    assert time.perf_counter() - started < 1.0


def test_site_errors_are_typed_value_errors(aipkit_site: Emulator) -> None:
    with pytest.raises(pipeline.ProviderFailedError) as caught:
        async_answer(local(aipkit_site), user("[[provider-fail]] hi"))
    assert isinstance(caught.value, ValueError)


# -- register(): the name "ChatGptEs" -------------------------------------------------------


@pytest.fixture
def registry() -> Iterator[None]:
    yield
    unregister()


def test_register_makes_the_name_resolve_in_g4f(start_emulator: StartEmulator, registry: None) -> None:
    import g4f.Provider
    from g4f.Provider import ProviderUtils

    shipped = ProviderUtils.convert.get("ChatGptEs")
    assert (shipped is not None) == OLD_LINE  # 0.5.2.0 ships its own; 8.x deleted it
    assert register() is ChatGptEs and g4f.Provider.ChatGptEs is ChatGptEs
    provider = register(local(start_emulator(stream=True)))
    assert ProviderUtils.convert["ChatGptEs"] is provider and g4f.Provider.ChatGptEs is provider
    assert async_answer("ChatGptEs", user("by name")) == "Echo: by name"
    assert sync_answer("ChatGptEs", user("by name"), stream=True) == ["Echo", ":", " by", " name"]
    unregister()
    assert ("ChatGptEs" in ProviderUtils.convert) == OLD_LINE
    if OLD_LINE:
        assert ProviderUtils.convert["ChatGptEs"] is shipped and g4f.Provider.ChatGptEs is shipped


# -- the provider g4f used to ship, measured on the same sites ------------------------------------


def test_the_event_loop_keeps_running_during_a_slow_answer(start_emulator: StartEmulator) -> None:
    emu = start_emulator(latency=0.3)  # page GET and chat POST each wait 0.3 s
    answer, ticks = ticks_while(local(emu), user("hi"))
    assert answer == "Echo: hi"
    assert ticks >= 10  # ~60 possible; the shipped provider below lets none through


def test_what_g4f_used_to_ship(start_emulator: StartEmulator) -> None:
    """0.5.2.0's own ChatGptEs on the same local sites; 8.x no longer has one."""
    from g4f.Provider import ProviderUtils

    if not OLD_LINE:
        assert "ChatGptEs" not in ProviderUtils.convert
        return
    shipped: Any = ProviderUtils.convert["ChatGptEs"]
    assert shipped is not ChatGptEs and shipped.supports_message_history is False

    def old(emu: Emulator) -> Any:  # its api_endpoint is fixed: point both at the local site
        return type("Shipped", (shipped,), {"url": emu.base_url + "/",
                                            "api_endpoint": emu.base_url + "/wp-admin/admin-ajax.php"})

    slow = start_emulator(latency=0.3, page="custom-bot", bot_id=42)
    answer, ticks = ticks_while(old(slow), user("hi"))
    assert answer.endswith("User input: hi (after 1 earlier turns)")  # its prompt sent twice, as a fake history
    assert ticks <= 2  # blocking curl_cffi calls: the loop stood still for the whole 0.6 s
    form = slow.last_form
    assert (form["post_id"], form["bot_id"], form["chatbot_identity"]) == ("106", "0", "shortcode")  # page: 4, 42
    assert ticks_while(old(start_emulator(stream=True)), user("hi"))[0].startswith("JSONDecodeError: ")
    assert ticks_while(old(start_emulator(generation="aipkit")), user("hi"))[0] == "ValueError: Error: 400 - 0"
