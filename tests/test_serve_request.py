"""The request validator of ``chatgpt-es serve``: any JSON body is a request or a 400 naming what is wrong."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatgpt_es.server.errors import ApiError, api_error
from chatgpt_es.server.request import parse_request
from chatgpt_es.server.usage import estimated_usage
from stages.errors import (
    BotNotFoundError,
    CloudflareChallengeError,
    EndpointRefusedError,
    ModelFailedError,
    NoChatBoxError,
    ProviderFailedError,
    QuotaExceededError,
    RateLimitedError,
    TlsVerificationError,
    TokenLimitError,
    TransportError,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)
roles = st.sampled_from(["system", "developer", "user", "assistant", "tool", "function", "", 3])
contents = st.text() | st.lists(st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url"]),
                                                       "text": st.text()}), max_size=3) | json_values
messages = st.lists(st.fixed_dictionaries({"role": roles, "content": contents}), max_size=4)
bodies = json_values | st.fixed_dictionaries(
    {"messages": messages},
    optional={"model": st.text() | json_values, "stream": st.booleans() | json_values, "n": json_values,
              "temperature": json_values, "stream_options": json_values, "tools": json_values})


@given(bodies)
def test_any_body_is_a_request_or_a_400_naming_a_parameter(body: Any) -> None:
    try:
        request = parse_request(body)
    except ApiError as error:
        assert error.status == 400
        assert error.param is not None or error.code == "invalid_json"
        assert set(error.body()["error"]) == {"message", "type", "param", "code"}
        return
    assert request.messages[-1]["role"] == "user"
    assert all(isinstance(message["content"], str) for message in request.messages)
    assert "messages" not in request.ignored and "model" not in request.ignored


def test_text_parts_are_joined_and_unknown_parameters_reported() -> None:
    request = parse_request({"messages": [{"role": "system", "content": "S"},
                                          {"role": "user", "content": [{"type": "text", "text": "a"},
                                                                       {"type": "text", "text": "b"}]}],
                             "temperature": 1, "max_tokens": 3, "stream": True,
                             "stream_options": {"include_usage": True}})
    assert request.messages == ({"role": "system", "content": "S"}, {"role": "user", "content": "ab"})
    assert (request.stream, request.include_usage, request.ignored) == (True, True, ("max_tokens", "temperature"))


def test_usage_is_characters_over_four_rounded_up() -> None:
    usage = estimated_usage([{"role": "user", "content": "abcde"}, {"role": "user", "content": "abcd"}], "xyz")
    assert usage == {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4, "estimated": True}


@pytest.mark.parametrize(("error", "status", "code"), [
    (RateLimitedError("slow down", retry_after=2.5), 429, "rate_limit_exceeded"),
    (TokenLimitError("limit"), 429, "site_token_limit"),
    (CloudflareChallengeError("challenge", status=403), 503, "cloudflare_challenge"),
    (ProviderFailedError("failed"), 502, "bad_site_answer"),
    (TransportError("refused"), 502, "site_unreachable"),
    (QuotaExceededError("quota used up"), 429, "site_quota_exceeded"),
    (NoChatBoxError("no chat box"), 502, "site_has_no_chat_box"),
    (ModelFailedError("empty stream"), 502, "site_model_failed"),
    (TlsVerificationError("bad certificate"), 502, "site_tls_unverified"),
    (EndpointRefusedError("file:///etc/passwd", "scheme", "only http and https"), 502, "site_endpoint_refused"),
    (BotNotFoundError("no bot 7", available=("5",)), 400, "invalid_request"),
    (KeyError("secret detail"), 500, "internal_error"),
])
def test_error_mapping(error: Exception, status: int, code: str) -> None:
    mapped = api_error(error)
    assert (mapped.status, mapped.code) == (status, code)
    assert "secret detail" not in mapped.message
    assert mapped.headers == ({"Retry-After": "3"} if isinstance(error, RateLimitedError) else {})
