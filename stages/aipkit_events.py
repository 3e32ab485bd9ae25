"""AIPKit stream events beyond text (PROTOCOL-aipkit-additions §4–5): quotas, Responses-mode events.

* an ``error`` event with ``quota_notice`` (the guest token quota is used up) or "Access disabled for
  guests." is a :class:`QuotaExceededError` carrying the site's message and actions — never retried;
* ``citations`` (a JSON list; the ``done`` event may carry the merged list), ``openai_response_id``
  (may arrive before the last text: only ``done`` ends a message) and ``status`` are kept as outcomes.
"""

from __future__ import annotations

from typing import Any

from .errors import QuotaExceededError
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


def named_event(name: str, payload: Any, data: str) -> tuple[Outcome, ...]:
    """Outcomes of the events that carry no text: citations, the response id, status (progress)."""
    if name == "citations":
        found = citations_of(payload)
        return (Citations(found),) if found else ()
    if name == "openai_response_id" and isinstance(payload, dict) and isinstance(payload.get("id"), str):
        return (ResponseId(payload["id"]),)
    return (Notice(name, data[:200]),)
