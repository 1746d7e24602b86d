"""Rendering a digest for readers: email (MJML), plain text, Telegram. Pure, apart from
MJML compilation."""
