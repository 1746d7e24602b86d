"""What the bot says, in the reader's language: pure functions from values to Telegram HTML.

Every sentence comes from the catalogs (French is the source); French text gets its
no-break spaces; anything that is not ours (names, titles) is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from zoneinfo import ZoneInfo

from bot.config import SendAt
from bot.render.i18n import format_schedule, normalize_locale, translate
from bot.render.typography import french_typography


def _(message: str) -> str:
    """Marks a message for extraction; `say` translates it."""
    return message


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    description: str  # a French msgid


# The order of the menu and of /aide.
READER_COMMANDS = (
    Command("start", _("recevoir le résumé chaque semaine")),
    Command("latest", _("lire le dernier résumé")),
    Command("pays", _("l’actualité par pays, et choisir vos pays")),
    Command("stop", _("ne plus recevoir le résumé")),
    Command("aide", _("la liste des commandes")),
)
ADMIN_COMMANDS = (
    Command("stats", _("abonnés et dernier envoi (administrateurs)")),
    Command("apercu", _("aperçu du prochain résumé (administrateurs)")),
)


def reader_locale(language_code: str | None) -> str:
    """`fr`, `en` or `ru` from Telegram's `language_code` (`en-GB`…); French otherwise."""
    return normalize_locale(language_code)


def say(locale: str, message: str, **values: object) -> str:
    """`message` translated and filled in, as plain text (French typography in French)."""
    text = translate(locale, message, **values)
    return french_typography(text) if locale == "fr" else text


def html(locale: str, message: str, **values: object) -> str:
    """`say`, escaped for Telegram's HTML."""
    return escape(say(locale, message, **values), quote=False)


def schedule(send_at: SendAt, zone: ZoneInfo, locale: str) -> str:
    """`chaque lundi à 8 h 00, heure de Paris`."""
    return format_schedule(send_at.weekday, send_at.time, zone, locale)


def shown_name(command: Command, locale: str) -> str:
    """/aide is /help to an English or Russian reader (both work for everyone)."""
    return "help" if command.name == "aide" and locale != "fr" else command.name


def command_lines(locale: str, commands: tuple[Command, ...]) -> str:
    return "\n".join(f"/{shown_name(c, locale)} — {html(locale, c.description)}"
                     for c in commands)


def welcome(locale: str, name: str, when: str, *, returning: bool = False) -> str:
    """What /start says to a new (or returning) subscriber: what, when, and how to stop."""
    first = (html(locale, _("Content de vous revoir : votre abonnement est de nouveau actif."))
             + "\n") if returning else ""
    return (first + html(locale, _("Vous recevrez ici « %(name)s », le résumé de l’actualité du "
                                   "Kazakhstan, du Kirghizstan, de l’Ouzbékistan, du Tadjikistan "
                                   "et du Turkménistan, %(schedule)s."), name=name, schedule=when)
            + "\n\n" + command_lines(locale, _WELCOME_COMMANDS))


_WELCOME_COMMANDS = tuple(c for c in READER_COMMANDS if c.name in {"pays", "latest", "stop"})


def already_subscribed(locale: str, name: str, when: str) -> str:
    return html(locale, _("Votre abonnement est déjà actif : « %(name)s » arrive ici "
                          "%(schedule)s. Pour vous désabonner : /stop."), name=name, schedule=when)


def help_text(locale: str, name: str, when: str, *, admin: bool) -> str:
    """/aide: what the bot is, then each command (the admin ones for admins only)."""
    commands = READER_COMMANDS + (ADMIN_COMMANDS if admin else ())
    lines = command_lines(locale, commands).split("\n")
    example = html(locale, _("les derniers articles d’un pays"))
    lines.insert(3, f"/pays kazakhstan — {example}")
    intro = html(locale, _("Le résumé de la semaine de l’actualité d’Asie centrale, pays par "
                           "pays, %(schedule)s."), schedule=when)
    return f"<b>{escape(name, quote=False)}</b>\n{intro}\n\n" + "\n".join(lines)


def hint(locale: str) -> str:
    """The one line for an unknown command or plain text."""
    return html(locale, _("Je ne réponds qu’aux commandes : envoyez /aide pour les voir."))


def stats_text(locale: str, subscribers: Mapping[tuple[str, str], int],
               last_week: str | None, deliveries: Mapping[str, Mapping[str, int]]) -> str:
    """/stats: subscribers by channel and status; the last send's deliveries by status."""
    heading = html(locale, _("Abonnés"))
    lines = [f"<b>{heading}</b>"]
    channels = sorted({channel for channel, _status in subscribers})
    lines += [_counts(locale, channel, {s: n for (c, s), n in subscribers.items()
                                        if c == channel}) for channel in channels] \
        or [html(locale, _("Aucun abonné pour l’instant."))]
    if last_week is None:
        return "\n".join([*lines, "", html(locale, _("Aucun envoi pour l’instant."))])
    heading = html(locale, _("Dernier envoi : %(week)s"), week=last_week)
    lines += ["", f"<b>{heading}</b>"]
    lines += [_counts(locale, channel, counts) for channel, counts in sorted(deliveries.items())
              if counts] or [html(locale, _("Aucune livraison."))]
    return "\n".join(lines)


def _counts(locale: str, label: str, counts: Mapping[str, int]) -> str:
    """`telegram : active 3 · unsubscribed 1` (statuses as the CLI names them)."""
    value = " · ".join(f"{status} {n}" for status, n in sorted(counts.items()))
    return html(locale, _("%(label)s : %(value)s"), label=label, value=value)


def menu(locale: str, *, admin: bool) -> list[tuple[str, str]]:
    """The command menu (setMyCommands) in `locale`; admins see their two commands too."""
    commands = READER_COMMANDS + (ADMIN_COMMANDS if admin else ())
    return [(shown_name(c, locale), say(locale, c.description)) for c in commands]
