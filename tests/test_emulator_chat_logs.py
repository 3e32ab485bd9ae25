"""The legacy answer's ``log`` field, as the real plugin 1.9.11 sends it (measured on the real-plugin stand)."""

from __future__ import annotations

from conftest import StartEmulator, chat_form, http

from chatgpt_es.emulator import Emulator


def test_a_custom_bot_names_its_log_row_as_an_int_then_as_a_string(start_emulator: StartEmulator) -> None:
    emu = start_emulator(page="custom-bot", bot_id=6)
    ajax = emu.base_url + "/wp-admin/admin-ajax.php"
    bot = {"bot_id": "6", "chatbot_identity": "custom_bot_6"}
    first = http("POST", ajax, form=chat_form(emu, "Hi", wpaicg_chat_client_id="clientA", **bot)).json()
    again = http("POST", ajax, form=chat_form(emu, "Hi", wpaicg_chat_client_id="clientA", **bot)).json()
    other = http("POST", ajax, form=chat_form(emu, "Hi", wpaicg_chat_client_id="clientB", **bot)).json()
    assert (first["log"], again["log"], other["log"]) == (1, "1", 2)


def test_the_site_wide_bot_keeps_no_log(legacy_site: Emulator) -> None:
    ajax = legacy_site.base_url + "/wp-admin/admin-ajax.php"
    assert http("POST", ajax, form=chat_form(legacy_site, "Hi")).json()["log"] is False
