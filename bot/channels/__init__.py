"""The network: email transports here, Telegram in `telegram.py`."""
