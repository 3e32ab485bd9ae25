"""AIPKit stream events beyond text (PROTOCOL-aipkit-additions §4–5): quotas, Responses-mode events.

* an ``error`` event with ``quota_notice`` (the guest token quota is used up) or "Access disabled for
  guests." is a :class:`QuotaExceededError` carrying the site's message and actions — never retried;
* ``citations`` (a JSON list; the ``done`` event may carry the merged list), ``openai_response_id``
  (may arrive before the last text: only ``done`` ends a message) and ``status`` are kept as outcomes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from .errors import QuotaExceededError
from .jsontext import loads
from .models import Citations, Notice, Outcome, ResponseId

#: the plugin's texts for a visitor who may not chat at all (CheckAndResetTokensLogic.php:141-145, 208-210)
ACCESS_DISABLED = ("Access disabled for guests.", "Access disabled for your account/role.")


def _actions(notice: dict[str, Any]) -> tuple[dict[str, str], ...]:
    actions = notice.get("actions")
    if not isinstance(actions, list):
        return ()
    kept: list[dict[str, str]] = []
    for action in actions[:10]:
        if isinstance(action, dict):
            kept.append({key: str(action[key]) for key in ("label", "url", "variant") if key in action})
    return tuple(kept)


def quota_error(payload: Any, data: str) -> QuotaExceededError | None:
    """The quota error an ``error`` event's payload means, or None when it is another error."""
    if not isinstance(payload, dict):
        return None
    notice = payload.get("quota_notice")
    text = str(payload.get("error") or "")
    if isinstance(notice, dict):
        message = str(notice.get("message") or text or "quota reached")
        actions = _actions(notice)
        links = "; ".join(f"{a.get('label', 'link')}: {a.get('url', '')}" for a in actions)
        return QuotaExceededError(f"the site's quota is used up: {message}" + (f" ({links})" if links else ""),
                                  body=data, quota_message=message, actions=actions)
    if text.strip() in ACCESS_DISABLED:
        return QuotaExceededError(f"the site does not let this visitor chat: {text.strip()}", body=data,
                                  quota_message=text.strip())
    return None


def citations_of(payload: Any) -> tuple[dict[str, Any], ...]:
    """The citations of a ``citations`` event (a list) or of a ``done`` event (``{"citations": [...]}``)."""
    items = payload.get("citations") if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        return ()
    return tuple(item for item in items[:100] if isinstance(item, dict))


def done_event(data: str) -> tuple[Outcome, ...]:
    """The ``done`` event ends the message; in Responses mode it may carry the merged citations."""
    try:
        payload = loads(data)
    except ValueError:
        return ()
    found = citations_of(payload) if isinstance(payload, dict) and "citations" in payload else ()
    return (Citations(found, final=True),) if found else ()


def named_event(name: str, payload: Any, data: str) -> tuple[Outcome, ...]:
    """Outcomes of the events that carry no text: citations, the response id, status (progress)."""
    if name == "citations":
        found = citations_of(payload)
        return (Citations(found),) if found else ()
    if name == "openai_response_id" and isinstance(payload, dict) and isinstance(payload.get("id"), str):
        return (ResponseId(payload["id"]),)
    return (Notice(name, data[:200]),)


@attrs.frozen
class AnswerExtras:
    """What an answer said besides its text: citations, its response id, warnings, progress statuses."""

    citations: tuple[dict[str, Any], ...] = ()
    response_id: str | None = None
    warnings: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()


def collect_extras(outcomes: Iterable[Outcome]) -> AnswerExtras:
    """Fold an answer's outcomes: the ``done`` event's citations win, else each citation once in order."""
    citations: list[dict[str, Any]] = []
    final: tuple[dict[str, Any], ...] | None = None
    response_id: str | None = None
    warnings: list[str] = []
    statuses: list[str] = []
    for outcome in outcomes:
        if isinstance(outcome, Citations):
            if outcome.final:
                final = outcome.items
            else:
                citations += [item for item in outcome.items if item not in citations]
        elif isinstance(outcome, ResponseId):
            response_id = outcome.id
        elif isinstance(outcome, Notice) and outcome.kind == "warning":
            warnings.append(outcome.detail)
        elif isinstance(outcome, Notice) and outcome.kind == "status":
            statuses.append(outcome.detail)
    return AnswerExtras(final if final is not None else tuple(citations), response_id, tuple(warnings),
                        tuple(statuses))
