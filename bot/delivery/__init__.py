"""Sending a frozen week to its readers through the delivery ledger: `ledger` (claims,
leases, retries, the report: the same for every channel), the channels on it (`email`,
`telegram`), their transports (`mail_transport`: SMTP relay or outbox; `bot_api`: the
Telegram Bot API at its pace), and `weeks` (a week frozen, sending, sent). Only the CLI, the
runner, the Telegram bot and the web pages are above it; nothing below imports it."""
