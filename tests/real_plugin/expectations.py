"""What the real plugin (and this client with it) does TODAY, pinned in one place.

Later issues change behaviour here, not in the tests: verbatim 1.9.11 history empties
``LEGACY_HISTORY_LOOKALIKES``; fewer model calls when the model is down lowers ``STREAM_ATTEMPTS_WHEN_MODEL_DOWN``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from real_plugin.stand import Generation


def echo(last_user_text: str, roles: Sequence[str]) -> str:
    """The fake model's answer: ``Echo: <last user text> [N msgs: role,…]``."""
    return f"Echo: {last_user_text} [{len(roles)} msgs: {','.join(roles)}]"


#: the message(s) each site puts before the caller's turns: the 1.9.11 plugin its instruction as a ``user``
#: message (``system_prompt=""`` adds nothing), 2.4.71 its bot's ``system`` prompt
SITE_PREFIX_ROLES: dict[Generation, tuple[str, ...]] = {"legacy": ("user",), "aipkit": ("system",)}

#: How an EARLIER turn reaches the 1.9.11 site's model today: the client replaces, visibly, what the plugin's
#: history decoder would break (README "How the history survives the legacy site"). Longest match first.
LEGACY_HISTORY_LOOKALIKES: tuple[tuple[str, str], ...] = (
    ("\r\n", "\u2028"),  # line break -> LINE SEPARATOR
    ("\n", "\u2028"),
    ("\r", "\u2028"),
    ("\t", " "),
    ('"', "\u201d"),  # ”
    ("\\", "\uff3c"),  # ＼
    ("<", "\uff1c"),  # ＜
    (">", "\uff1e"),  # ＞
)
#: ``%`` before two hex digits (an octet the plugin would remove) -> ％
LEGACY_PERCENT_OCTET = (re.compile(r"%(?=[0-9A-Fa-f]{2})"), "\uff05")
_LOOKALIKE = re.compile("|".join(re.escape(old) for old, _ in LEGACY_HISTORY_LOOKALIKES)
                        + "|" + LEGACY_PERCENT_OCTET[0].pattern)


def earlier_turn_as_received(generation: Generation, text: str) -> str:
    """An earlier turn of the caller's conversation as the site's model receives it, today.

    1.9.11: the look-alikes above (the client sends history in ``wpaicg_chat_history``).
    2.4.71: verbatim (the AIPKit server keeps the history itself).
    The CURRENT message reaches the model verbatim on both.
    """
    if generation == "aipkit":
        return text
    table = dict(LEGACY_HISTORY_LOOKALIKES)
    return _LOOKALIKE.sub(lambda m: table.get(m.group(0), LEGACY_PERCENT_OCTET[1]), text)


def seed_format(turns: Sequence[tuple[str, str]]) -> str:
    """The seed's prompt: one ``Role: text`` line per turn, then ``Assistant:`` (the text exactly as said)."""
    return "\n".join(f"{role.capitalize()}: {text}" for role, text in turns) + "\nAssistant:"


def survives_structured(text: str) -> bool:
    """Whether a turn reaches the 1.9.11 model intact through ``wpaicg_chat_history`` (no look-alike needed)."""
    return earlier_turn_as_received("legacy", text) == text


def received_by_model(generation: Generation, turns: Sequence[tuple[str, str]],
                      history: str = "structured") -> list[tuple[str, str]]:
    """(role, text) of the caller's turns as the model receives them (after the site's own prefix).

    AIPKit keeps the history itself: verbatim. 1.9.11: ``structured`` sends earlier turns in the history field
    (look-alikes); ``inline`` sends the whole conversation verbatim in the message field, in the seed's format;
    ``auto`` is structured when every earlier turn survives that intact, else inline.
    """
    *earlier, (role, last) = turns
    if generation == "legacy" and earlier and (
            history == "inline" or (history == "auto" and not all(survives_structured(t) for _, t in earlier))):
        return [("user", seed_format(turns))]
    return [(r, earlier_turn_as_received(generation, t)) for r, t in earlier] + [(role, last)]


# -- the model down ------------------------------------------------------------------------------------

#: How often the 1.9.11 STREAMING site asks its model for one caller message while the model is down: the site
#: answers ``200 text/event-stream`` with an empty body, which the client reads as ModelFailedError and sends
#: once more (a dropped connection looks the same), never more: each send may cost the site owner a model call.
STREAM_ATTEMPTS_WHEN_MODEL_DOWN = 2

#: page -> (typed error, how many times the site asked its model) for one message while the model is down
MODEL_DOWN: dict[str, tuple[str, int]] = {
    "1.9.11 JSON": ("SiteRefusedError", 1),  # {"status":"error","msg":"cURL error 7: …"}: not retried
    "1.9.11 stream": ("ModelFailedError", STREAM_ATTEMPTS_WHEN_MODEL_DOWN),
    "1.9.11 custom bot": ("SiteRefusedError", 1),
    "1.9.11 widget": ("SiteRefusedError", 1),
    "2.4.71 inline": ("ProviderFailedError", 1),  # an SSE error event naming the connection error
    "2.4.71 popup": ("ProviderFailedError", 1),
}

# -- pages without a chat box ------------------------------------------------------------------------------

#: /plain/ page -> what one message gets. 1.9.11 pages still carry a wpaicg nonce in their scripts: the seed's
#: regex finds it, post_id falls back to 106, and the plugin answers (with a ``no_chat_box`` warning logged).
#: 2.4.71 has none: the seed's fixed nonce goes out with the legacy action, WordPress answers ``400 0``, and
#: the client says what that means: NoChatBoxError.
PLAIN_PAGES: dict[str, str] = {
    "http://127.0.0.1:8081/plain/": "answer",
    "http://127.0.0.1:8083/plain/": "answer",
    "http://127.0.0.1:8082/plain/": "NoChatBoxError",
}

# -- 2.4.71: the owner's REST API, several bots, guest quotas, images (issue 13) -------------------------------

#: The REST chat route asks the model WITHOUT streaming (no ``stream`` key in the model's request), keeps nothing
#: between calls and forwards every turn verbatim; the client yields the reply as one chunk.
REST_MODEL_STREAMS = False

#: A bot id that is no chatbot: the plugin's PHP fatal error (``500 internal_server_error``; its intended
#: ``404 rest_aipkit_bot_not_found`` is never sent, PROTOCOL-aipkit-additions §1.5).
REST_UNKNOWN_BOT_STATUS = 500

#: Images reach the model whether or not the bot's ``_aipkit_enable_image_upload`` is on: the setting only shows
#: the upload button; neither the cache POST nor the stream reads it (additions §2.1). The client sends them either way.
IMAGES_NEED_THE_BOT_SETTING = False


def guest_tokens(answer: str) -> int:
    """The tokens the 2.4.71 site records for one answered guest stream: the fake model's ``usage.total_tokens``,
    10 + one per streamed piece (a piece: a word with the space before it)."""
    return 10 + len(answer.split(" "))

