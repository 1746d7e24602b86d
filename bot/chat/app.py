"""The PTB side: one small handler per command, wired into an `Application` by
`build_application`. The handlers read the update, ask the store, and send what
`bot.chat.words`, `bot.chat.sections` and `bot.chat.digests` built."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from telegram import (
    Bot,
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.chat import sections, words
from bot.chat.digests import LatestDigest, coming_digest, preview_messages
from bot.chat.sections import Follow, ShowList, ShowSection, View
from bot.chat.words import _
from bot.config import Settings
from bot.delivery.bot_api import NO_PREVIEW, Pace, PacedReplies, retry_seconds
from bot.digest import IsoWeek
from bot.errors import ConfigError
from bot.model import Channel, Country, Status, Subscriber
from bot.render.i18n import country_name
from bot.store import ArticleQuery, Store, open_store
from bot.subscribers import NewSubscriber

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
Context = ContextTypes.DEFAULT_TYPE
ChatApplication = Application[ExtBot[None], Context, dict[Any, Any], dict[Any, Any],
                              dict[Any, Any], None]
CONSENT = "telegram /start"
MENU_LANGUAGES = (None, "fr", "en", "ru")  # None: everyone else, in French
MAX_RETRIES = 3  # 429s in a row for one message before giving up on a reply


def build_application(settings: Settings, clock: Clock, *,
                      request: BaseRequest | None = None,
                      pace: Pace | None = None) -> ChatApplication:
    """The bot, ready to run. Its `post_init` checks that the store opens and sets the command
    menu; PTB calls it from `run_polling`, so a caller that starts the application by hand
    (`initialize`, `start`, `updater.start_polling`) awaits `app.post_init(app)` itself.
    `request`, when given, carries every Bot API call (getUpdates too) instead of HTTP: a
    benchmark's stub that answers without the network. `pace`, when given, is the one the
    broadcast of this process uses: replies and broadcast share Telegram's 30 a second."""
    if not settings.telegram_bot_token:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set: the Telegram bot is off")
    chat = ChatBot(settings, clock)
    builder = (ApplicationBuilder().token(settings.telegram_bot_token)
               .base_url(settings.telegram_api_url).job_queue(None)
               .post_init(chat.start_up))
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    if pace is not None:
        builder = builder.rate_limiter(PacedReplies(pace))
    app = builder.build()
    only_messages = filters.UpdateType.MESSAGE  # not edits, not channel posts
    for names, handler in ((["start"], chat.start), (["stop"], chat.stop),
                           (["latest"], chat.latest), (["pays"], chat.pays),
                           (["aide", "help"], chat.help), (["stats"], chat.stats),
                           (["apercu"], chat.preview)):
        app.add_handler(CommandHandler(names, handler, filters=only_messages))
    app.add_handler(CallbackQueryHandler(chat.button))
    # In a group, other text is the members' conversation: only a private chat gets the hint.
    app.add_handler(MessageHandler(only_messages & filters.ChatType.PRIVATE
                                   & (filters.COMMAND | filters.TEXT), chat.hint))
    app.add_error_handler(chat.log_error)
    return app


async def set_commands(bot: Bot, settings: Settings) -> None:
    """The command menu in French (the default), English and Russian; each admin also gets
    the admin commands, in a menu of their own chat."""
    for language in MENU_LANGUAGES:
        await bot.set_my_commands(words.menu(language or "fr", admin=False),
                                  language_code=language)
    for admin in settings.telegram_admins:
        try:
            for language in MENU_LANGUAGES:
                await bot.set_my_commands(words.menu(language or "fr", admin=True),
                                          scope=BotCommandScopeChat(admin),
                                          language_code=language)
        except BadRequest as exc:  # "chat not found": that admin never wrote to the bot
            log.warning("no admin command menu for user %s: %s", admin, exc.message)


class ChatBot:
    """The handlers and what they share: settings, the clock and the caches. The store is
    opened for each update (a third of a millisecond) and closed before anything is sent,
    so no connection outlives a handler, whoever starts and stops the application."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.latest_digest = LatestDigest(settings.newsletter_name, settings.public_url)

    def open_store(self) -> Store:
        return open_store(self.settings.database,
                          create_folder=self.settings.database_is_default)

    async def start_up(self, app: ChatApplication) -> None:
        self.open_store().close()  # a store that cannot be opened stops the start
        try:
            await set_commands(app.bot, self.settings)
        except TelegramError as exc:  # the menu is a convenience: the bot works without it
            log.warning("could not set the command menu: %s", exc.message)

    # -- the reader's commands ---------------------------------------------------------

    async def start(self, update: Update, context: Context) -> None:
        """Subscribe this chat (again), and say what comes when and how to stop."""
        await self.send(context.bot, _chat(update),
                        self.subscribe(_address(update), _locale(update)))

    def subscribe(self, address: str, locale: str) -> str:
        name, when = self.settings.newsletter_name, self.when(locale)
        with self.open_store() as store:
            found = store.find_subscriber(Channel.TELEGRAM, address)
            if found is None:
                store.add_subscribers([NewSubscriber(Channel.TELEGRAM, address, locale,
                                                     frozenset())],
                                      Status.ACTIVE, CONSENT, self.clock())
                return words.welcome(locale, name, when)
            if found.status is Status.ACTIVE:
                return words.already_subscribed(locale, name, when)
            # Unsubscribed, blocked (and now writing to us), pending: /start is consent enough.
            store.set_subscriber_status(found.id, Status.ACTIVE, self.clock())
        return words.welcome(locale, name, when, returning=True)

    async def stop(self, update: Update, context: Context) -> None:
        """Unsubscribe this chat at once; the row stays, `unsubscribed`."""
        await self.send(context.bot, _chat(update),
                        self.unsubscribe(_address(update), _locale(update)))

    def unsubscribe(self, address: str, locale: str) -> str:
        with self.open_store() as store:
            found = store.find_subscriber(Channel.TELEGRAM, address)
            if found is None or found.status in (Status.UNSUBSCRIBED, Status.BOUNCED):
                return words.html(locale, _("Cette conversation n’est pas abonnée : rien à "
                                            "arrêter. Pour vous abonner : /start."))
            store.set_subscriber_status(found.id, Status.UNSUBSCRIBED, self.clock())
        return words.html(locale, _("C’est fait : vous ne recevrez plus « %(name)s ». Pour "
                                    "revenir, à tout moment : /start."),
                          name=self.settings.newsletter_name)

    async def latest(self, update: Update, context: Context) -> None:
        """The latest digest that went out, in the reader's sections."""
        locale = _locale(update)
        with self.open_store() as store:
            found = _active(store, _address(update))
            messages = self.latest_digest.messages_for(
                store, locale, found.countries if found else frozenset())
        if messages is None:
            messages = [words.html(locale, _("Aucun résumé n’a encore été publié ; il paraît "
                                             "%(schedule)s."), schedule=self.when(locale))]
        for text in messages:
            await self.send(context.bot, _chat(update), text)

    async def pays(self, update: Update, context: Context) -> None:
        """The sections keyboard, or straight to one: `/pays kazakhstan`."""
        locale, asked = _locale(update), " ".join(context.args or ())
        country = sections.find_section(asked) if asked else None
        if asked and country is None:
            view = View(sections.unknown_section(asked, locale))
        else:
            with self.open_store() as store:
                view = self.section_view(store, country, _active(store, _address(update)),
                                         locale) if country else \
                    self.sections_view(store, locale)
        await self.send(context.bot, _chat(update), view.html, view)

    async def button(self, update: Update, context: Context) -> None:
        """A /pays button: show the list or a section, or (un)follow a section."""
        query = update.callback_query
        assert query is not None
        locale = words.reader_locale(query.from_user.language_code)
        action = sections.parse_action(query.data)
        if action is None or query.message is None:
            await query.answer(words.say(locale, _("Ce bouton n’est plus valable ; envoyez "
                                                   "/pays pour en avoir de nouveaux.")))
            return
        view: View | None
        answer: str | None = None
        with self.open_store() as store:
            found = _active(store, str(query.message.chat.id))
            if isinstance(action, ShowList):
                view = self.sections_view(store, locale)
            elif isinstance(action, ShowSection):
                view = self.section_view(store, action.country, found, locale)
            else:
                view, answer = self.follow(store, action, found, locale)
        if view is not None:
            await self.show(query, view)
        await query.answer(answer, show_alert=bool(answer) and view is None)

    def follow(self, store: Store, action: Follow, found: Subscriber | None,
               locale: str) -> tuple[View | None, str]:
        """Change which sections the reader follows; the section redrawn and a sentence (no
        view when nothing could change)."""
        if found is None:
            return None, words.say(locale, _("Abonnez-vous d’abord avec /start."))
        wanted = sections.refollow(found.countries, action.country, action.follow)
        if wanted is None:
            return None, words.say(locale, _("Il faut suivre au moins une rubrique ; pour ne "
                                             "plus rien recevoir : /stop."))
        if wanted != found.countries:
            found = store.set_subscriber_countries(found.id, wanted, self.clock())
        return (self.section_view(store, action.country, found, locale),
                _followed(action, wanted, locale))

    async def help(self, update: Update, context: Context) -> None:
        """The commands and what they do."""
        locale = _locale(update)
        await self.send(context.bot, _chat(update),
                        words.help_text(locale, self.settings.newsletter_name,
                                        self.when(locale), admin=self.is_admin(update)))

    async def hint(self, update: Update, context: Context) -> None:
        """One line pointing at /aide, for an unknown command or plain text."""
        await self.send(context.bot, _chat(update), words.hint(_locale(update)))

    # -- the admins' commands (to anyone else, they do not exist) ----------------------

    async def stats(self, update: Update, context: Context) -> None:
        """Subscribers by channel and status; the last send's deliveries by status."""
        if not self.is_admin(update):
            await self.hint(update, context)
            return
        with self.open_store() as store:
            stamp = store.latest_digest_stamp(("sending", "sent"))
            deliveries = {}
            if stamp is not None:
                digest_id = store.digest_id(stamp.week)
                deliveries = {c.value: store.delivery_counts(digest_id, c) for c in Channel}
            text = words.stats_text(_locale(update), store.count_subscribers(),
                                    stamp.week if stamp else None, deliveries)
        await self.send(context.bot, _user(update), text)

    async def preview(self, update: Update, context: Context) -> None:
        """The coming digest, to the admin alone."""
        if not self.is_admin(update):
            await self.hint(update, context)
            return
        with self.open_store() as store:
            coming = coming_digest(store, self.clock(), self.settings.timezone,
                                   article_link=self.settings.article_link)
        for text in preview_messages(coming, self.settings.newsletter_name, _locale(update),
                                     self.settings.public_url):
            await self.send(context.bot, _user(update), text)

    async def log_error(self, update: object, context: Context) -> None:
        log.error("handling an update failed", exc_info=context.error)

    # -- shared ---------------------------------------------------------------------------

    def when(self, locale: str) -> str:
        return words.schedule(self.settings.send_at, self.settings.timezone, locale)

    def is_admin(self, update: Update) -> bool:
        user = update.effective_user
        return user is not None and user.id in self.settings.telegram_admins

    def sections_view(self, store: Store, locale: str) -> View:
        week = self.current_week()
        counts = store.count_articles_by_country(week.monday, week.next_monday)
        return sections.sections_view(counts, locale)

    def section_view(self, store: Store, country: Country, found: Subscriber | None,
                     locale: str) -> View:
        week = self.current_week()
        # Up to today: an article misdated years ahead must not sit on top for ever.
        tomorrow = self.clock().astimezone(self.settings.timezone).date() + dt.timedelta(1)
        articles = store.list_articles(ArticleQuery(until=tomorrow, country=country,
                                                    limit=sections.LATEST))
        count = store.count_articles_by_country(week.monday, week.next_monday)
        return sections.section_view(country, articles, count.get(country, 0),
                                     found.countries if found else None, locale)

    def current_week(self) -> IsoWeek:
        return IsoWeek.of(self.clock().astimezone(self.settings.timezone).date())

    async def send(self, bot: Bot, chat_id: int, text: str, view: View | None = None) -> None:
        """One HTML message, link previews off; a 429 is waited out (a reply is short)."""
        for attempt in range(MAX_RETRIES + 1):
            try:
                await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML,
                                       link_preview_options=NO_PREVIEW,
                                       reply_markup=_markup(view))
                return
            except RetryAfter as exc:
                if attempt == MAX_RETRIES:
                    raise
                await asyncio.sleep(retry_seconds(exc))

    async def show(self, query: CallbackQuery, view: View) -> None:
        """Replace the pressed message with `view` (a new message if it cannot be edited)."""
        message = query.message
        assert message is not None
        if not message.is_accessible:  # too old for Telegram to show it to us: answer anew
            await self.send(query.get_bot(), message.chat.id, view.html, view)
            return
        try:
            await query.edit_message_text(view.html, parse_mode=ParseMode.HTML,
                                          link_preview_options=NO_PREVIEW,
                                          reply_markup=_markup(view))
        except BadRequest as exc:
            if "not modified" in exc.message.lower():  # pressed twice: nothing to redraw
                return
            log.info("could not edit message %s (%s): sending a new one",
                     message.message_id, exc.message)
            await self.send(query.get_bot(), message.chat.id, view.html, view)


def _active(store: Store, address: str) -> Subscriber | None:
    """The chat's subscriber, if it is active."""
    found = store.find_subscriber(Channel.TELEGRAM, address)
    return found if found and found.status is Status.ACTIVE else None


def _followed(action: Follow, wanted: frozenset[Country], locale: str) -> str:
    """The sentence answering a follow button."""
    name = country_name(action.country, locale)
    if not wanted:
        return words.say(locale, _("Votre résumé contient de nouveau toutes les rubriques."))
    if action.follow:
        return words.say(locale, _("Vous suivez : %(name)s."), name=name)
    return words.say(locale, _("Vous ne suivez plus : %(name)s."), name=name)


def _markup(view: View | None) -> InlineKeyboardMarkup | None:
    if view is None or not view.buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.text, callback_data=b.data)
                                  for b in row] for row in view.buttons])


def _locale(update: Update) -> str:
    user = update.effective_user
    return words.reader_locale(user.language_code if user else None)


def _chat(update: Update) -> int:
    assert update.effective_chat is not None  # commands and text always come from a chat
    return update.effective_chat.id


def _address(update: Update) -> str:
    return str(_chat(update))


def _user(update: Update) -> int:
    """Where an admin's answers go: their own private chat, even when asked in a group."""
    return update.effective_user.id if update.effective_user else _chat(update)
