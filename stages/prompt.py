"""Stage 1: prompt formatting.

Turns the caller's OpenAI-style ``messages`` into a :class:`Prompt`: the
system prompt, the earlier turns, and the last user message.  Earlier turns
are also rendered in the legacy site's history format and made safe for the
plugin's decoder, which (measured on the real plugin, PROTOCOL.md §2) strips
tags and ``%xx`` octets, then deletes every backslash, then ``json_decode``\\ s
what is left.  Any character JSON would escape therefore breaks the turn or
the whole history; :func:`site_safe` replaces each such character by a
visible look-alike instead of losing it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import InvalidArgumentError, InvalidMessagesError
from .images import images_of, is_image_part
from .models import Prompt, Turn

ROLES = {"system", "developer", "user", "assistant"}
HISTORY_STRATEGIES = ("auto", "structured", "inline")

#: what replaces a character that cannot survive the legacy site's history decoder
_REPLACEMENTS = {
    '"': "\u201d",  # ” right double quotation mark
    "\\": "\uff3c",  # ＼ fullwidth reverse solidus
    "\n": "\u2028",  # line separator: survives the decoder and still reads as a line break
    "\t": " ",
    "<": "\uff1c",  # ＜ fullwidth less-than: tags would be stripped
    ">": "\uff1e",  # ＞ fullwidth greater-than, for symmetry with <
}
_UNSAFE = re.compile(r'\r\n|%(?=[0-9A-Fa-f]{2})|[\x00-\x1f"\\<>\x7f]')


def _replace(match: re.Match[str]) -> str:
    char = match.group(0)
    if char in ("\r\n", "\r"):
        return "\u2028"
    if char == "%":
        return "\uff05"  # ％ fullwidth percent: "%20" would be removed as an octet
    if char in _REPLACEMENTS:
        return _REPLACEMENTS[char]
    return chr(0x2400 + ord(char)) if ord(char) < 0x20 else "\u2421"  # control pictures (␀…␟, ␡)


def site_safe(text: str) -> tuple[str, int]:
    """``text`` with every character the legacy history decoder would break replaced; and how many."""
    count = 0

    def counted(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return _replace(match)

    return _UNSAFE.sub(counted, text), count


def content_text(content: Any, where: str) -> str:
    """A message's text: a string, or OpenAI-style parts ``[{"type": "text", "text": ...}]``."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence) and not isinstance(content, bytes | bytearray):
        pieces: list[str] = []
        for index, part in enumerate(content):
            if isinstance(part, str):
                pieces.append(part)
                continue
            if not isinstance(part, Mapping):
                raise InvalidMessagesError(
                    f"{where}.content[{index}] is {type(part).__name__}, not a part object")
            if is_image_part(part):
                continue  # images are read by images_of (last message) and not re-sent with earlier turns
            kind = part.get("type", "text")
            text = part.get("text")
            if kind != "text" or not isinstance(text, str):
                raise InvalidMessagesError(
                    f"{where}.content[{index}] is a {kind!r} part; only text and image_url parts can be sent"
                )
            pieces.append(text)
        return "".join(pieces)
    raise InvalidMessagesError(f"{where}.content is {type(content).__name__}; expected a string or a list of parts")


def _checked(messages: Any) -> list[tuple[str, str]]:
    if isinstance(messages, str | bytes | Mapping) or not isinstance(messages, Sequence):
        kind = type(messages).__name__
        raise InvalidMessagesError(f"messages must be a list of {{role, content}} objects, not {kind}")
    if not messages:
        raise InvalidMessagesError("messages is empty: there is nothing to send")
    checked: list[tuple[str, str]] = []
    for index, item in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(item, Mapping):
            raise InvalidMessagesError(f"{where} is {type(item).__name__}; expected an object with role and content")
        if "role" not in item or "content" not in item:
            missing = " and ".join(key for key in ("role", "content") if key not in item)
            raise InvalidMessagesError(f"{where} has no {missing}")
        role = item["role"]
        if role not in ROLES:
            raise InvalidMessagesError(f"{where}.role is {role!r}; expected one of {sorted(ROLES)}")
        text = content_text(item["content"], where)
        _sendable(text, f"{where}.content")
        checked.append((role, text))
    return checked


def _sendable(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidMessagesError(f"{where} has a character that cannot be sent (at {error.start}: "
                                   f"{text[error.start:error.end]!r}, a lone surrogate?)") from None


def seed_format(turns: Sequence[tuple[str, str]]) -> str:
    """The seed's prompt format: one ``Role: text`` line per turn, then ``Assistant:``.

    Like the seed, blank earlier turns are left out; the last message always stays.
    """
    if len(turns) == 1:
        return turns[0][1]
    kept = [(role, text) for role, text in turns[:-1] if text.strip()] + [turns[-1]]
    return "\n".join(f"{role.capitalize()}: {text}" for role, text in kept) + "\nAssistant:"


def format_prompt(messages: Any, system_prompt: str = "", history: str = "auto") -> Prompt:
    """Stage: the caller's messages → :class:`Prompt`.

    ``system_prompt`` (the provider's ``SYSTEM_PROMPT``) comes first, then the
    caller's own system messages.  The last message must be the user's.
    ``history`` (legacy sites): ``structured`` sends earlier turns in
    ``wpaicg_chat_history`` with look-alike replacements; ``inline`` sends the
    whole conversation verbatim in the message, in the seed's format; ``auto``
    is structured when no character of any turn needs replacing, else inline.
    """
    if history not in HISTORY_STRATEGIES:
        raise InvalidArgumentError(f"history must be one of {', '.join(HISTORY_STRATEGIES)}, not {history!r}")
    if not isinstance(system_prompt, str):
        raise InvalidMessagesError(f"the system prompt is {type(system_prompt).__name__}, not a string")
    _sendable(system_prompt, "the system prompt")
    checked = _checked(messages)
    role, message = checked[-1]
    images = images_of(messages[-1]["content"], message, f"messages[{len(checked) - 1}]")
    if role != "user":
        raise InvalidMessagesError(
            f"messages[{len(checked) - 1}] is a {role!r} message; the last one must be the user's")
    if not message.strip():
        raise InvalidMessagesError(f"messages[{len(checked) - 1}] is blank: there is nothing to send")
    systems = [system_prompt] if system_prompt else []
    systems += [text for role, text in checked if role in ("system", "developer") and text]
    system = "\n".join(systems)
    turns = tuple(
        Turn(role="user" if role == "user" else "assistant", text=text)
        for role, text in checked[:-1]
        if role in ("user", "assistant")
    )
    lines: list[str] = []
    replaced = 0
    for turn in turns:
        safe, count = site_safe(turn.text)
        replaced += count
        lines.append(("Human: " if turn.role == "user" else "AI: ") + safe)
    conversation = [(t.role, t.text) for t in turns] + [("user", message)]
    return Prompt(
        system=system,
        turns=turns,
        message=message,
        text=_join(system, message),
        inline_text=_join(system, seed_format(conversation)),
        history_lines=tuple(lines),
        replaced_chars=replaced,
        history="inline" if history == "inline" or (history == "auto" and replaced) else "structured",
        images=images,
    )


def _join(system: str, text: str) -> str:
    return f"{system} {text}" if system else text
