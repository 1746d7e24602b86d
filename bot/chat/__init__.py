"""The Telegram bot's conversation side: /start /stop /latest /pays /aide, and the admins'
/stats and /apercu. `build_application` wires the handlers (`bot.chat.app`); what they say is
built by pure functions (`words`, `sections`, `digests`) tested without the network."""

from bot.chat.app import build_application, set_commands

__all__ = ["build_application", "set_commands"]
