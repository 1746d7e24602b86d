"""Where the files shipped with the bot live: `templates/` and `locales/`.

In a checkout, and in an editable install (which runs the checkout's files), they sit at the
top of the repository, beside `bot/`. A wheel carries them inside the package, as
`bot/templates/` and `bot/locales/` (the `package-dir` mapping of pyproject.toml). The
package's own folder is looked at first, so an installed bot never reads a stray `templates/`
that something else left beside site-packages.
"""

from __future__ import annotations

import functools
from pathlib import Path

from bot.errors import BotError

PACKAGE = Path(__file__).resolve().parent


@functools.cache
def shipped(name: str) -> Path:
    """The folder `name` (`templates` or `locales`) as this install holds it."""
    places = (PACKAGE / name, PACKAGE.parent / name)
    for folder in places:
        if folder.is_dir():
            return folder
    raise BotError(f"the bot's {name}/ folder is missing (looked for {places[0]} and "
                   f"{places[1]}): reinstall the bot")


def templates_dir() -> Path:
    """The shipped Jinja templates (`email/…`, `web/…`)."""
    return shipped("templates")


def locales_dir() -> Path:
    """The gettext catalogs (`<locale>/LC_MESSAGES/messages.po`, `messages.pot`)."""
    return shipped("locales")
