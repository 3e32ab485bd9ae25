"""The seed's provider surface: attributes, get_model, the endpoint rule, missing curl_cffi."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

import pipeline
from stages.errors import EndpointRefusedError
from stages.extract import extract_chatbox
from stages.models import ChatBox, Extracted


def test_the_seeds_attributes() -> None:
    provider = pipeline.ChatGptEs
    assert provider.url == "https://chatgpt.es"
    assert provider.api_endpoint == "https://chatgpt.es/wp-admin/admin-ajax.php"
    assert provider.working and provider.supports_stream
    assert isinstance(provider.supports_system_message, bool) and isinstance(provider.supports_message_history, bool)
    assert provider.default_model == "gpt-4o"
    assert provider.models == ["gpt-4", "gpt-4o", "gpt-4o-mini"]
    assert provider.SYSTEM_PROMPT.startswith("Your default language is English.")


@pytest.mark.parametrize(("asked", "got"), [("gpt-4", "gpt-4"), ("gpt-4o-mini", "gpt-4o-mini"), ("", "gpt-4o"),
                                            (None, "gpt-4o"), ("claude-3", "gpt-4o")])
def test_get_model_falls_back_to_the_default(asked: str | None, got: str) -> None:
    assert pipeline.ChatGptEs.get_model(asked) == got


def box_with(ajax_url: str | None) -> ChatBox:
    return ChatBox(protocol="legacy", markup=None, nonce=Extracted("n", "r"), post_id=Extracted("1", "r"),
                   ajax_url=ajax_url)


def test_the_endpoint_rule() -> None:
    class OnlyUrl(pipeline.ChatGptEs):
        url = "https://other.test/chat/"

    class Both(pipeline.ChatGptEs):
        url = "https://other.test/chat/"
        api_endpoint = "https://other.test/custom-ajax.php"

    class Deeper(Both):
        url = "https://third.test/"

    page_endpoint = "https://other.test/sub/wp-admin/admin-ajax.php"
    assert pipeline.ChatGptEs.site().endpoint_for(box_with(page_endpoint)) == pipeline.ChatGptEs.api_endpoint
    assert OnlyUrl.site().endpoint_for(box_with(page_endpoint)) == page_endpoint
    assert OnlyUrl.site().endpoint_for(box_with(None)) == "https://other.test/wp-admin/admin-ajax.php"
    assert Both.site().endpoint_for(box_with(page_endpoint)) == "https://other.test/custom-ajax.php"
    # its url is newer than the endpoint, so the page's endpoint counts: on another site, refused unless allowed
    with pytest.raises(EndpointRefusedError, match="other_site"):
        Deeper.site().endpoint_for(box_with(page_endpoint))
    assert Deeper.site().endpoint_for(box_with(page_endpoint), allowed_hosts=("other.test",)) == page_endpoint


def test_the_page_endpoint_comes_from_wpaicg_params() -> None:
    page = (Path(__file__).parents[1] / "fixtures/real/01-get-front-stream-off.html").read_text(encoding="utf-8")
    assert extract_chatbox(page).ajax_url == "http://127.0.0.1:8080/wp-admin/admin-ajax.php"


def test_missing_curl_cffi_is_reported_when_the_generator_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    generator = pipeline.ChatGptEs.create_async_generator("gpt-4o", [{"role": "user", "content": "hi"}])
    monkeypatch.setitem(sys.modules, "curl_cffi", None)
    monkeypatch.setitem(sys.modules, "curl_cffi.requests", None)

    async def run() -> Any:
        return await anext(generator)

    with pytest.raises(pipeline.MissingRequirementsError, match="pip install -U curl_cffi"):
        asyncio.run(run())


def test_shared_clients_are_per_loop_and_closable(legacy_site: Any) -> None:
    class Local(pipeline.ChatGptEs):
        url = legacy_site.base_url + "/"

    async def run() -> tuple[str, bool, int]:
        first = pipeline.ChatGptEs.client()
        same = pipeline.ChatGptEs.client() is first
        text = "".join([c async for c in Local.create_async_generator("gpt-4o", [{"role": "user", "content": "hi"}],
                                                                     system_prompt="")])
        await pipeline.ChatGptEs.aclose()
        return text, same, len(pipeline.ChatGptEs._clients.get(asyncio.get_running_loop(), {}))

    assert asyncio.run(run()) == ("Echo: hi", True, 0)


def test_deadlines_and_retries_are_provider_options(start_emulator: Any) -> None:
    site = start_emulator(latency=1.0)

    class Slow(pipeline.ChatGptEs):
        url = site.base_url + "/"

    async def run() -> None:
        try:
            with pytest.raises(pipeline.DeadlineExceededError):
                async for _ in Slow.create_async_generator("gpt-4o", [{"role": "user", "content": "hi"}],
                                                           timeout=0.3, retries=1, connect_timeout=2.0):
                    pass
            with pytest.raises(pipeline.InvalidArgumentError, match="unknown client options"):
                pipeline.ChatGptEs.client(None, colour="blue")
        finally:
            await pipeline.ChatGptEs.aclose()

    asyncio.run(run())
    assert site.counters.snapshot()["get"] == 1  # one attempt: the deadline is not retried


@pytest.mark.parametrize("options", [{"timeout": "5"}, {"verify": ["x"]}, {"retries": 0}, {"connect_timeout": -1},
                                     {"max_answer_bytes": 1.5}])
def test_bad_option_values_are_typed_errors(options: dict[str, Any]) -> None:
    async def run() -> None:
        with pytest.raises(pipeline.InvalidArgumentError, match="bad client option"):
            pipeline.ChatGptEs.client(None, **options)

    asyncio.run(run())


def test_an_unsendable_system_prompt_is_refused_before_any_request() -> None:
    async def run() -> None:
        with pytest.raises(pipeline.InvalidMessagesError, match="system prompt"):
            async for _ in pipeline.ChatGptEs.create_async_generator(
                    "gpt-4o", [{"role": "user", "content": "hi"}], system_prompt="\ud800"):
                pass

    asyncio.run(run())
