"""``emulate`` options of issue 13: the REST API, quotas, Responses-mode events, conversation state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from chatgpt_es.emulator.config import PAGE_KINDS

__all__ = ["PAGE_KINDS", "feature_config", "site_feature_options"]


def site_feature_options() -> list[Callable[[Any], Any]]:
    return [
        click.option("--rest-key", default=None, metavar="KEY",
                     help="AIPKit: turn the owner's REST API on with this key (default: off, as the plugin's)."),
        click.option("--plain-permalinks", is_flag=True, help="AIPKit: no /wp-json/ routing (REST via ?rest_route=)."),
        click.option("--guest-limit", default=None, type=int,
                     help="AIPKit: guest token quota per session and bot (0: guests may not chat)."),
        click.option("--quota-message", default=None, help="AIPKit: the quota message (default: the plugin's)."),
        click.option("--responses-mode", is_flag=True,
                     help="AIPKit: the provider runs in Responses mode (status and openai_response_id events)."),
        click.option("--conversation-state", is_flag=True,
                     help="AIPKit: Responses mode with OpenAI conversation state on (previous_openai_response_id)."),
    ]


def feature_config(options: dict[str, Any]) -> dict[str, Any]:
    """The EmulatorConfig fields of these options (removed from ``options``)."""
    return {name: options.pop(name) for name in
            ("rest_key", "plain_permalinks", "guest_limit", "quota_message", "responses_mode", "conversation_state")}
