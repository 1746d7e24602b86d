"""`python -m bot.cli`: the `bot` command."""

from bot.cli import main

main()
