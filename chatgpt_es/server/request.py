"""``POST /v1/chat/completions`` bodies, validated at the boundary: clear 400s naming the parameter.

What the site cannot honour either fails loudly (``n > 1``, tools, non-text content, JSON modes: answering
anyway would be pretending) or, when ignoring it changes nothing a client relies on (``temperature``,
``max_tokens``…), is accepted and reported by :attr:`ChatRequest.ignored`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .errors import bad_request

ROLES = ("system", "developer", "user", "assistant")
#: parameters that ask for something this site cannot do: a 400 naming them when set
REFUSED = ("tools", "functions", "tool_choice", "function_call", "audio")
HANDLED = frozenset({"model", "messages", "stream", "stream_options", "n", "response_format", "logprobs",
                     "modalities", *REFUSED})


@attrs.frozen
class ChatRequest:
    model: str
    #: ``{"role", "content"}`` with ``content`` a string: what ``create_async_generator`` takes
    messages: tuple[dict[str, str], ...]
    stream: bool = False
    include_usage: bool = False
    #: names of parameters accepted but not honoured (the site decides them)
    ignored: tuple[str, ...] = ()


def parse_request(body: Any) -> ChatRequest:
    """A validated request, or :class:`~.errors.ApiError` 400 naming the first bad parameter."""
    if not isinstance(body, Mapping):
        raise bad_request("the request body must be a JSON object", code="invalid_json")
    model = body.get("model", "")
    if not isinstance(model, str):
        raise bad_request("model must be a string", "model")
    stream = _flag(body, "stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, Mapping):
        raise bad_request("stream_options must be an object", "stream_options")
    include_usage = _flag(options or {}, "include_usage", "stream_options.include_usage")
    _refuse_unsupported(body)
    return ChatRequest(model=model, messages=_messages(body.get("messages")), stream=stream,
                       include_usage=include_usage, ignored=tuple(sorted(set(body) - HANDLED)))


def _flag(body: Mapping[str, Any], name: str, param: str | None = None) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_request(f"{param or name} must be true or false", param or name)
    return value


def _refuse_unsupported(body: Mapping[str, Any]) -> None:
    n = body.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise bad_request("n must be a positive integer", "n")
    if n is not None and n > 1:
        raise bad_request("n > 1 is not supported: the site gives one answer per message", "n", "unsupported_value")
    for name in REFUSED:
        value = body.get(name)
        if value not in (None, [], "none", {}):
            raise bad_request(f"{name} is not supported: the site answers with text only", name,
                              "unsupported_parameter")
    response_format = body.get("response_format")
    if response_format is not None and (not isinstance(response_format, Mapping)
                                        or response_format.get("type", "text") != "text"):
        raise bad_request("only the text response_format is supported: the site cannot be held to JSON",
                          "response_format", "unsupported_value")
    if body.get("logprobs") not in (None, False):
        raise bad_request("logprobs are not supported: the site reports none", "logprobs", "unsupported_value")
    modalities = body.get("modalities")
    if modalities is not None and modalities != ["text"]:
        raise bad_request("only the text modality is supported", "modalities", "unsupported_value")


def _messages(messages: Any) -> tuple[dict[str, str], ...]:
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages must be a non-empty list of {role, content} objects", "messages")
    checked = tuple(_message(item, f"messages[{index}]") for index, item in enumerate(messages))
    if checked[-1]["role"] != "user":
        raise bad_request(f"messages[{len(checked) - 1}] is a {checked[-1]['role']!r} message; the last one must be "
                          "the user's", f"messages[{len(checked) - 1}].role")
    return checked


def _message(item: Any, where: str) -> dict[str, str]:
    if not isinstance(item, Mapping):
        raise bad_request(f"{where} must be an object with role and content", where)
    role = item.get("role")
    if role not in ROLES:
        raise bad_request(f"{where}.role is {role!r}; this site takes {', '.join(ROLES)}", f"{where}.role")
    if item.get("tool_calls") or item.get("function_call"):
        raise bad_request(f"{where} carries tool calls: tools are not supported", f"{where}.tool_calls",
                          "unsupported_parameter")
    return {"role": str(role), "content": _content(item.get("content"), f"{where}.content")}


def _content(content: Any, where: str) -> str:
    if isinstance(content, str):
        return _sendable(content, where)
    if not isinstance(content, list):
        raise bad_request(f"{where} must be a string or a list of text parts", where)
    pieces: list[str] = []
    for index, part in enumerate(content):
        place = f"{where}[{index}]"
        if not isinstance(part, Mapping):
            raise bad_request(f"{place} must be a part object", place)
        kind = part.get("type")
        if kind != "text":
            raise bad_request(f"{place} is a {kind!r} part; only text parts can be sent to this site",
                              f"{place}.type", "unsupported_content")
        text = part.get("text")
        if not isinstance(text, str):
            raise bad_request(f"{place}.text must be a string", f"{place}.text")
        pieces.append(_sendable(text, f"{place}.text"))
    return "".join(pieces)


def _sendable(text: str, where: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise bad_request(f"{where} has a character that cannot be sent (a lone surrogate?)", where) from None
    return text
