"""The pipeline's stages: pure functions over small frozen attrs classes.

Only :func:`fetch_page` and :func:`send_request` do I/O.  In the order the
orchestrator (``pipeline.py``) runs them:

1. :func:`format_prompt` — messages → :class:`Prompt`
2. :func:`fetch_page` — URL → :class:`Page` (I/O), checked by :func:`check_page`
3. :func:`extract_chatbox` — page text → :class:`ChatBox` (also :func:`extract_nonce`, :func:`extract_post_id`)
   then :func:`stages.endpoint.decide_endpoint` — where the messages may go (the endpoint policy)
4. :func:`build_payload` — prompt + chat box → :class:`HttpRequest`
5. :func:`send_request` — request → answer head + body chunks (I/O)
6. :func:`start_parse` / :func:`feed` / :func:`finish` — answer bytes → :class:`Text` …
"""

from .errors import ChatGptEsError
from .extract import extract_chatbox, extract_nonce, extract_post_id
from .fetch import check_page, fetch_page
from .models import (
    AnswerHead,
    ChatBox,
    Conversation,
    Extracted,
    FollowUp,
    HttpRequest,
    NewNonce,
    Notice,
    Page,
    Prompt,
    Stamp,
    Text,
    Turn,
)
from .parse import feed, finish, parse_answer, start_parse
from .payload import PROTOCOLS, build_payload, encode_body, protocol_for
from .prompt import format_prompt, site_safe
from .send import send_request

__all__ = [
    "PROTOCOLS",
    "AnswerHead",
    "ChatBox",
    "ChatGptEsError",
    "Conversation",
    "Extracted",
    "FollowUp",
    "HttpRequest",
    "NewNonce",
    "Notice",
    "Page",
    "Prompt",
    "Stamp",
    "Text",
    "Turn",
    "build_payload",
    "check_page",
    "encode_body",
    "extract_chatbox",
    "extract_nonce",
    "extract_post_id",
    "feed",
    "fetch_page",
    "finish",
    "format_prompt",
    "parse_answer",
    "protocol_for",
    "send_request",
    "site_safe",
    "start_parse",
]
