"""Guest quotas of the real 2.4.71 plugin (bot meta ``_aipkit_token_guest_limit``, set with ``set.php meta`` and
restored after each test): the message that finds the quota used up is a ``QuotaExceededError`` carrying the site's
own text, is not retried and costs no model call; ``0`` disables guests; a new visitor starts afresh; the owner's
REST API is not counted."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

import pipeline
from real_plugin.calls import cli, run
from real_plugin.expectations import echo, guest_tokens
from real_plugin.stand import INLINE_BOT, PAGE, Stand, chat_messages
from stages.errors import QuotaExceededError

pytestmark = pytest.mark.real_plugin

URL = PAGE["2.4.71 inline"].url
PORT = PAGE["2.4.71 inline"].port
STREAM = "GET /wp-admin/admin-ajax.php?action=aipkit_frontend_chat_stream"
#: small enough that the second or third short message finds it used up (each answer costs 15 tokens or so)
LIMIT = 25
SITE_MESSAGE = "Guest limit reached — log in to keep chatting. <b>Thanks!</b>"


@pytest.fixture
def limited(stand: Stand) -> Iterator[Stand]:
    """Bot 6 with a guest limit of LIMIT tokens and its own limit message, both restored afterwards."""
    with ExitStack() as stack:
        stack.enter_context(stand.bot_meta(INLINE_BOT, "_aipkit_token_guest_limit", str(LIMIT)))
        stack.enter_context(stand.bot_meta(INLINE_BOT, "_aipkit_token_limit_message", SITE_MESSAGE))
        yield stand


async def until_refused(turns: int = 6) -> tuple[list[str], QuotaExceededError | None]:
    """One visitor's chat: the answers until the site refuses (and that refusal), at most ``turns`` messages."""
    answers: list[str] = []
    async with pipeline.Client() as client:
        chat = pipeline.Chat(client, pipeline.Site(url=URL, system_prompt=""))
        for turn in range(turns):
            try:
                answers.append(await chat.say(f"message {turn + 1}"))
            except QuotaExceededError as error:
                return answers, error
    return answers, None


def test_the_message_after_the_quota_is_used_up_is_refused_with_the_sites_message(limited: Stand) -> None:
    mark, served = limited.model_mark(), limited.access_mark(PORT)
    answers, error = run(until_refused())

    assert error is not None, answers
    used = [guest_tokens(answer) for answer in answers]
    assert 2 <= len(answers) <= 3  # allowed while below the limit: the last answer may overshoot it
    assert sum(used[:-1]) < LIMIT <= sum(used)
    assert error.quota_message == SITE_MESSAGE and error.actions == ()
    assert SITE_MESSAGE in str(error) and "\n" not in str(error) and not error.transient
    assert len(limited.model_requests_since(mark)) == len(answers)  # the refused message cost no model call
    assert limited.served_since(PORT, served, STREAM) == len(answers) + 1  # and was not sent again


def test_a_new_visitor_gets_a_fresh_allowance(limited: Stand) -> None:
    """The plugin counts per (session_id, bot): a new Chat is a new session."""
    first, refused = run(until_refused())
    second, _ = run(until_refused(turns=1))
    assert refused is not None and first
    assert second == [echo("message 1", ["system", "user"])]


def test_guests_disabled(stand: Stand) -> None:
    mark = stand.model_mark()
    with stand.bot_meta(INLINE_BOT, "_aipkit_token_guest_limit", "0"):
        answers, error = run(until_refused(turns=1))
    assert answers == [] and error is not None
    assert error.quota_message == "Access disabled for guests." and error.actions == ()
    assert stand.model_requests_since(mark) == []


def test_the_command_line_says_the_quota_in_one_line(stand: Stand) -> None:
    with stand.bot_meta(INLINE_BOT, "_aipkit_token_guest_limit", "0"):
        done = cli("ask", "Hello", "--url", URL, "--system", "")
    assert done.returncode != 0 and done.stdout == ""
    assert "QuotaExceededError" in done.stderr and "Access disabled for guests." in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_rest_api_is_not_counted(stand: Stand) -> None:
    key = "aipk_live_" + "5a" * 24
    mark = stand.model_mark()
    with stand.bot_meta(INLINE_BOT, "_aipkit_token_guest_limit", "0"), stand.rest_api(key):
        done = cli("ask", "Hello REST", "--url", URL, "--system", "", "--site-key", key)
    assert (done.returncode, done.stdout) == (0, echo("Hello REST", ["system", "user"]) + "\n"), done.stderr
    [request] = stand.model_requests_since(mark)
    assert chat_messages(request)[-1] == ("user", "Hello REST")
