"""The ``usage`` of an answer: an estimate, never a count.

The site reports no token counts, and its model (and so its tokenizer) is the site's choice.  OpenAI's
rule of thumb for English is about four characters per token, so each side is estimated as
``ceil(characters / 4)``: the prompt counts the text of every message sent, the completion the answer's
text.  Every usage object says so with ``"estimated": true``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def estimated_usage(messages: Iterable[dict[str, str]], answer: str) -> dict[str, Any]:
    prompt = sum(estimate_tokens(message["content"]) for message in messages)
    completion = estimate_tokens(answer)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "estimated": True}
