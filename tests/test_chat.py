"""The Telegram bot's conversation: pure helpers first, then every command through the real
python-telegram-bot stack polling the loopback Bot API double (tests/fakes/telegram.py), with
a real SQLite store and a pinned clock (Wednesday 9 April 2025: the current week is
2025-W15, the last complete one 2025-W14).

Long because the conversation is one room: every command is tested through the same running
bot, store and clock fixtures defined here, which split files would repeat.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.archive import digest_for_week
from bot.chat import build_application, sections, words
from bot.chat.app import ChatApplication, ChatBot
from bot.chat.digests import digest_messages
from bot.chat.sections import Follow, ShowList, ShowSection
from bot.config import SendAt, Settings
from bot.digest import Digest, IsoWeek, digest_from_json
from bot.ingest import content_hash, load
from bot.model import Article, Channel, Country, DateSource, NewArticle, Status
from bot.render.telegram import utf16_length
from bot.store import open_store
from bot.subscribers import NewSubscriber
from tests.conftest import SAMPLE
from tests.fakes.telegram import FakeBotApi, Sent

PARIS = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2025, 4, 9, 10, 0, tzinfo=PARIS)  # a Wednesday of 2025-W15
W14 = IsoWeek(2025, 14)  # the sample's week with REGION, KZ and UZ articles
TOKEN = "123456:" + "T" * 32
ADMIN = 777
READER = 1001  # a private chat: its id is the reader's user id
NBSP, NNBSP = "\u00a0", "\u202f"
MONDAY_8 = SendAt(0, dt.time(8, 0))


def plain(text: str) -> str:
    """No-break spaces as plain ones, to compare with what a test writes."""
    return text.replace(NBSP, " ").replace(NNBSP, " ")


def art(n: int, day: dt.date, country: Country = Country.KZ, *, title: str | None = None,
        lead: str | None = None, url: str | None = None) -> NewArticle:
    title = title if title is not None else f"Titre {n}"
    lead = lead if lead is not None else f"Chapeau de l'article {n}."
    return NewArticle(title=title, lead=lead, source="test", url=url, guid=None, published=day,
                      published_at=None, date_source=DateSource.TEXT, country=country,
                      countries=(country,), needs_review=None,
                      content_hash=content_hash(title, lead))


def article(n: int, day: dt.date, title: str, url: str | None = None) -> Article:
    return Article(n, title, "Chapeau", "test", url, day, None, DateSource.TEXT, Country.KZ,
                   (Country.KZ,), False, None, "h", NOW)


# -- pure helpers -------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "locale"), [
    ("fr", "fr"), ("en", "en"), ("ru", "ru"), ("en-GB", "en"), ("ru_RU", "ru"), ("de", "fr"),
    ("pt-br", "fr"), ("", "fr"), (None, "fr")])
def test_the_readers_language_or_french(code: str | None, locale: str) -> None:
    assert words.reader_locale(code) == locale


@pytest.mark.parametrize(("locale", "zone", "send_at", "expected"), [
    ("fr", "Europe/Paris", MONDAY_8, "chaque lundi à 8 h 00, heure de Paris"),
    ("en", "Europe/Paris", MONDAY_8, "every Monday at 08:00, Paris time"),
    ("ru", "Europe/Paris", MONDAY_8, "каждую неделю, понедельник в 08:00 (часовой пояс: Париж)"),
    ("fr", "Europe/Amsterdam", SendAt(4, dt.time(18, 30)),
     "chaque vendredi à 18 h 30, heure d’Amsterdam"),
    ("en", "Asia/Tashkent", SendAt(6, dt.time(7, 5)), "every Sunday at 07:05, Tashkent time"),
    ("fr", "UTC", MONDAY_8, "chaque lundi à 8 h 00 (UTC)"),
    ("en", "Etc/GMT-5", MONDAY_8, "every Monday at 08:00 (UTC+5)"),
])
def test_the_schedule_in_the_readers_words(locale: str, zone: str, send_at: SendAt,
                                           expected: str) -> None:
    said = words.schedule(send_at, ZoneInfo(zone), locale)
    assert plain(said) == expected
    if locale == "fr":  # "8" never ends a line with "h 00" on the next
        assert f"8{NBSP}h{NBSP}00" in said or f"18{NBSP}h{NBSP}30" in said


def test_callback_data_round_trips_within_64_bytes() -> None:
    actions = [ShowList(), *(ShowSection(c) for c in sections.SECTIONS),
               *(Follow(c, f) for c in sections.SECTIONS for f in (True, False))]
    for action in actions:
        data = sections.action_data(action)
        assert len(data.encode()) <= 64
        assert sections.parse_action(data) == action


@pytest.mark.parametrize("data", [None, "", "p0", "p1:x", "c1", "c1:OTHER", "c1:kz", "c2:KZ",
                                  "country:KZ", "f1:KZ", "f1:KZ:2", "f1:KZ:", "f1:XX:1",
                                  "f1:KZ:1:extra", "x" * 64])
def test_unknown_or_old_callback_data_is_no_action(data: str | None) -> None:
    assert sections.parse_action(data) is None


@pytest.mark.parametrize(("name", "country"), [
    ("kazakhstan", Country.KZ), ("KZ", Country.KZ), ("kz", Country.KZ),
    ("kirghizistan", Country.KG), ("Kirghizstan", Country.KG), ("kyrgyzstan", Country.KG),
    ("Ouzbékistan", Country.UZ), ("OUZBEKISTAN", Country.UZ), ("tajikistan", Country.TJ),
    ("Turkménistan", Country.TM), ("asie centrale", Country.REGION), ("REGION", Country.REGION),
    ("Казахстан", Country.KZ), ("Киргизия", Country.KG), ("Central Asia", Country.REGION)])
def test_sections_by_code_alias_or_name(name: str, country: Country) -> None:
    assert sections.find_section(name) is country


@pytest.mark.parametrize("name", ["autres", "OTHER", "narnia", "kaz", "<b>"])
def test_no_section_for_other_names(name: str) -> None:
    assert sections.find_section(name) is None


def test_following_and_unfollowing_sections() -> None:
    everything: frozenset[Country] = frozenset()
    five = sections.refollow(everything, Country.KZ, follow=False)
    assert five == frozenset(sections.SECTIONS) - {Country.KZ}
    assert five is not None and not sections.follows(five, Country.KZ)
    assert sections.refollow(five, Country.KZ, follow=True) == everything  # all six: all
    assert sections.refollow(everything, Country.KZ, follow=True) == everything
    assert sections.refollow(frozenset({Country.UZ}), Country.KZ, True) == {Country.UZ,
                                                                             Country.KZ}
    assert sections.refollow(frozenset({Country.UZ}), Country.UZ, False) is None  # none left
    assert sections.follows(everything, Country.TM)


def test_the_sections_keyboard_shows_flags_names_and_counts() -> None:
    view = sections.sections_view({Country.KZ: 2, Country.TM: 1}, "fr")
    texts = [b.text for row in view.buttons for b in row]
    assert texts == ["🇰🇿 Kazakhstan (2)", "🇰🇬 Kirghizstan (0)", "🇺🇿 Ouzbékistan (0)",
                     "🇹🇯 Tadjikistan (0)", "🇹🇲 Turkménistan (1)", "🌏 Asie centrale (0)"]
    assert [b.text for row in sections.sections_view({}, "en").buttons for b in row][1] == \
        "🇰🇬 Kyrgyzstan (0)"


def test_an_article_line_is_escaped_linked_and_dated() -> None:
    hostile = article(1, dt.date(2025, 4, 1), 'Fraude <b> & "Co" </a>',
                      'https://ex.org/a?b=1&c="2"')
    line = sections.article_html(hostile, "fr")
    assert line == ('<b><a href="https://ex.org/a?b=1&amp;c=&quot;2&quot;">Fraude &lt;b&gt; '
                    '&amp; "Co" &lt;/a&gt;</a></b>\n<i>mardi 1er avril 2025</i>')
    assert "<a" not in sections.article_html(article(2, dt.date(2025, 4, 1), "T",
                                                     "javascript:alert(1)"), "fr")
    assert "(untitled)" in sections.article_html(article(3, dt.date(2025, 4, 1), "  "), "en")


def test_a_long_title_is_cut_between_words() -> None:
    title = "Mot " * 1250 + "🇰🇿" * 100
    line = sections.article_html(article(1, dt.date(2025, 4, 1), title), "fr")
    shown = line.removeprefix("<b>").split("</b>")[0]
    assert shown.endswith("Mot…") and utf16_length(shown) <= sections.MAX_TITLE
    flags = sections.cut("🇰🇿" * 100, 11)
    assert flags == "🇰🇿🇰🇿…"  # never half a flag
    assert sections.cut("court", 11) == "court"


def test_a_section_view_says_whether_it_is_followed() -> None:
    items = [article(n, dt.date(2025, 4, 9 - n), f"Titre {n}") for n in range(1, 4)]
    followed = sections.section_view(Country.KZ, items, 2, frozenset(), "fr")
    assert "🇰🇿 <b>Kazakhstan</b> · 2 articles cette semaine" in followed.html
    assert [b.text for b in followed.buttons[0]] == ["Ne plus suivre", "↩ Tous les pays"]
    assert followed.buttons[0][0].data == "f1:KZ:0"
    unfollowed = sections.section_view(Country.KZ, items, 1, frozenset({Country.UZ}), "en")
    assert "1 article this week" in unfollowed.html
    assert unfollowed.buttons[0][0].text == "✓ Follow" and unfollowed.buttons[0][0].data == \
        "f1:KZ:1"
    stranger = sections.section_view(Country.KZ, [], 0, None, "fr")
    assert [b.data for row in stranger.buttons for b in row] == ["p1"]
    assert "/start" in stranger.html and "Pas encore d’article" in stranger.html


def test_an_unknown_name_gets_the_valid_ones_escaped() -> None:
    said = sections.unknown_section("<script>" + "x" * 100, "fr")
    assert "&lt;script&gt;" in said and "<script>" not in said and "x" * 50 not in said
    assert "KZ (Kazakhstan)" in said and "REGION (Asie centrale)" in said


def test_help_shows_admin_commands_to_admins_only() -> None:
    reader = words.help_text("fr", "Nouvelles", "chaque lundi", admin=False)
    admin = words.help_text("fr", "Nouvelles", "chaque lundi", admin=True)
    assert "/pays" in reader and "/stop" in reader and "/stats" not in reader
    assert "/stats" in admin and "/apercu" in admin
    assert "/help" in words.help_text("en", "N", "x", admin=False)


def test_an_empty_reader_variant_says_so() -> None:
    messages = digest_messages(Digest(W14, (), ()), "Nouvelles", "fr")
    assert len(messages) == 1 and "Aucun article cette semaine-là" in messages[0]


def test_stats_text() -> None:
    text = words.stats_text("en", {("telegram", "active"): 3, ("email", "pending"): 1},
                            "2025-W14", {"email": {"sent": 1}, "telegram": {}})
    assert text.splitlines() == ["<b>Subscribers</b>", "email: pending 1",
                                 "telegram: active 3", "", "<b>Last send: 2025-W14</b>",
                                 "email: sent 1"]
    assert "Aucun envoi" in words.stats_text("fr", {}, None, {})


def test_pays_and_latest_read_the_articles_through_indexes(database: Path) -> None:
    """On a million articles a scan would take a second; an index range, a millisecond."""
    freeze(database)
    chat_bot = ChatBot(Settings.from_environ({"BOT_DATABASE": str(database)}), lambda: NOW)
    statements: list[str] = []
    with open_store(database) as store:
        store.conn.set_trace_callback(statements.append)
        chat_bot.sections_view(store, "fr")
        chat_bot.section_view(store, Country.KZ, None, "fr")
        assert chat_bot.latest_digest.messages_for(store, "fr", frozenset())
        store.conn.set_trace_callback(None)
        plans = [str(row[3]) for sql in statements if sql.lstrip().upper().startswith("SELECT")
                 for row in store.conn.execute("EXPLAIN QUERY PLAN " + sql)]
    assert sum("INDEX articles_by_country" in plan for plan in plans) == 3
    assert not any(plan.startswith("SCAN articles") for plan in plans)


# -- through the Bot API double -------------------------------------------------------------

class Running:
    """The application polling the double from an event loop in a thread of its own, started
    and stopped as a service would (post_init included, as run_polling calls it)."""

    def __init__(self, app: ChatApplication) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=15)

    def __enter__(self) -> Running:
        self.thread.start()
        self.run(self.start())
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.run(self.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()

    async def start(self) -> None:
        await self.app.initialize()
        assert self.app.post_init is not None
        await self.app.post_init(self.app)
        await self.app.start()
        assert self.app.updater is not None
        await self.app.updater.start_polling(poll_interval=0, timeout=1)

    async def stop(self) -> None:
        assert self.app.updater is not None
        await self.app.updater.stop()
        await self.app.stop()
        await self.app.shutdown()


class Chat:
    """A reader (or an admin) talking to the running bot."""

    def __init__(self, fake: FakeBotApi, database: Path) -> None:
        self.fake = fake
        self.database = database

    def command(self, text: str, *, chat: int = READER, user: int | None = None,
                language: str | None = "fr", replies: int = 1, to: int | None = None
                ) -> list[Sent]:
        """Send `text`; wait for `replies` messages (to the chat, or to `to`)."""
        target = chat if to is None else to
        before = len(self.fake.messages_to(target))
        self.fake.send_command(chat, text, user_id=user, language_code=language)
        assert self.fake.wait_for(lambda: len(self.fake.messages_to(target)) >= before + replies,
                                  timeout=5), f"no reply to {text!r}"
        return self.fake.messages_to(target)[before:]

    def say(self, text: str, **kwargs: Any) -> str:
        """The text of the one reply to `text`."""
        (reply,) = self.command(text, **kwargs)
        return plain(reply.text)

    def press(self, message: Sent, data: str, *, chat: int = READER,
              language: str | None = "fr") -> dict[str, Any]:
        """Tap a button under `message`; wait for the bot to answer the query."""
        before = len(self.fake.answers)
        self.fake.press_button(chat, message.message_id, data, language_code=language)
        assert self.fake.wait_for(lambda: len(self.fake.answers) > before, timeout=5)
        return self.fake.answers[before]

    def subscriber(self, chat: int = READER) -> Any:
        with open_store(self.database) as store:
            return store.find_subscriber(Channel.TELEGRAM, str(chat))


def settings_for(fake: FakeBotApi, database: Path) -> Settings:
    return Settings.from_environ({"BOT_DATABASE": str(database), "TELEGRAM_BOT_TOKEN": fake.token,
                                  "TELEGRAM_API_URL": fake.url, "TELEGRAM_ADMINS": str(ADMIN),
                                  "BOT_NEWSLETTER_NAME": "Nouvelles d'Asie centrale"})


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """The sample articles, and three of the current week: KZ on Tuesday and Wednesday
    (one with a link), TM on Monday."""
    path = tmp_path / "bot.sqlite3"
    with open_store(path) as store:
        store.insert_articles(load(str(SAMPLE), None, PARIS, NOW.date()).articles(), NOW)
        store.insert_articles([
            art(1, dt.date(2025, 4, 8)),
            art(2, dt.date(2025, 4, 9), url="https://ex.org/2"),
            art(3, dt.date(2025, 4, 7), Country.TM),
            art(4, dt.date(2025, 9, 1)),  # misdated ahead: never among the latest
        ], NOW)
    return path


@pytest.fixture
def chat(database: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Chat]:
    with FakeBotApi(token=TOKEN) as fake:
        app = build_application(settings_for(fake, database), lambda: NOW)
        with caplog.at_level(logging.WARNING, logger="bot.chat"), Running(app):
            yield Chat(fake, database)
        assert fake.violations == []
        assert fake.errors == []
    assert [r.getMessage() for r in caplog.records if r.name.startswith("bot.chat")] == []


def freeze(database: Path, week: IsoWeek = W14, status: str = "sending") -> None:
    """Freeze `week` as its send does, then give it `status` (`sending`: the send began)."""
    with open_store(database) as store:
        assert digest_for_week(store, week, NOW, PARIS).stored is not None
        if status != "frozen":
            store.mark_digest(str(week), status, NOW)


def parts_of(database: Path, week: IsoWeek) -> int:
    """How many messages /latest sends of the week's frozen digest, in French, for every
    section: all of them, or LATEST_MAX, the last linking the rest."""
    from bot.chat.digests import LATEST_MAX

    with open_store(database) as store:
        stored = store.get_digest(str(week))
    assert stored is not None
    return min(len(digest_messages(digest_from_json(stored.snapshot),
                                   "Nouvelles d'Asie centrale", "fr")), LATEST_MAX)


def set_countries(chat: Chat, countries: frozenset[Country]) -> None:
    with open_store(chat.database) as store:
        found = store.find_subscriber(Channel.TELEGRAM, str(READER))
        store.set_subscriber_countries(found.id, countries, NOW)


def test_start_subscribes_and_says_what_when_and_how_to_stop(chat: Chat) -> None:
    (reply,) = chat.command("/start")
    text = plain(reply.text)
    assert "Vous recevrez ici « Nouvelles d'Asie centrale »" in text
    assert "chaque lundi à 8 h 00, heure de Paris" in text and "/stop" in text
    assert reply.parse_mode == "HTML" and reply.link_preview_disabled
    found = chat.subscriber()
    assert (found.channel, found.address, found.locale, found.countries, found.status,
            found.consent_source) == (Channel.TELEGRAM, str(READER), "fr", frozenset(),
                                      Status.ACTIVE, "telegram /start")
    assert "déjà actif" in chat.say("/start")
    with open_store(chat.database) as store:
        assert store.count_subscribers() == {("telegram", "active"): 1}


def test_stop_unsubscribes_at_once_and_start_comes_back(chat: Chat) -> None:
    assert "pas abonnée" in chat.say("/stop")
    assert chat.subscriber() is None
    chat.command("/start")
    assert "vous ne recevrez plus « Nouvelles d'Asie centrale »" in chat.say("/stop")
    found = chat.subscriber()
    assert found.status is Status.UNSUBSCRIBED and found.unsubscribed_at == NOW
    assert "pas abonnée" in chat.say("/stop")
    assert "de nouveau actif" in chat.say("/start")
    assert chat.subscriber().status is Status.ACTIVE


def test_a_blocked_chat_that_starts_again_is_active(chat: Chat) -> None:
    chat.command("/start")
    with open_store(chat.database) as store:
        store.set_subscriber_status(chat.subscriber().id, Status.BLOCKED, NOW)
    assert "de nouveau actif" in chat.say("/start")
    assert chat.subscriber().status is Status.ACTIVE


@pytest.mark.parametrize(("language", "locale", "words_"), [
    ("fr", "fr", "chaque lundi à 8 h 00, heure de Paris"),
    ("en", "en", "every Monday at 08:00, Paris time"),
    ("ru", "ru", "понедельник в 08:00"),
    ("de", "fr", "chaque lundi"),
    (None, "fr", "chaque lundi")])
def test_replies_in_the_readers_language(chat: Chat, language: str | None, locale: str,
                                         words_: str) -> None:
    assert words_ in chat.say("/start", language=language)
    assert chat.subscriber().locale == locale
    hint = chat.say("/bonjour", language=language)
    assert hint == plain(words.hint(locale))


def test_help_lists_the_commands_and_only_admins_see_theirs(chat: Chat) -> None:
    text = chat.say("/aide")
    assert all(f"/{name} —" in text for name in ("start", "latest", "pays", "stop", "aide"))
    assert "/stats" not in text and "/apercu" not in text
    assert chat.say("/help") == text
    admin = chat.say("/aide", chat=ADMIN)
    assert "/stats —" in admin and "/apercu —" in admin
    assert "/help — the list of commands" in chat.say("/help", language="en")


def test_unknown_commands_and_plain_text_get_a_one_line_hint(chat: Chat) -> None:
    for text in ("/bonjour", "Bonjour !", "/start@another_bot"):
        reply = chat.say(text)
        assert "/aide" in reply and "\n" not in reply
    assert chat.subscriber() is None


def test_admin_commands_do_not_exist_for_others(chat: Chat) -> None:
    hint = chat.say("/bonjour")
    assert chat.say("/stats") == hint
    assert chat.say("/apercu") == hint
    with open_store(chat.database) as store:  # /apercu froze nothing
        assert store.get_digest(str(W14)) is None


def test_stats_for_an_admin(chat: Chat) -> None:
    chat.command("/start")
    assert "Aucun envoi pour l’instant" in plain(chat.say("/stats", chat=ADMIN))
    freeze(chat.database, status="sent")
    with open_store(chat.database) as store:
        store.add_subscribers([NewSubscriber(Channel.EMAIL, "a@ex.org", "fr", frozenset())],
                              Status.PENDING, "test", NOW)
        store.fix_recipients(store.digest_id(str(W14)), Channel.TELEGRAM, NOW)
    text = chat.say("/stats", chat=ADMIN)
    assert text.splitlines() == ["Abonnés", "email : pending 1", "telegram : active 1", "",
                                 "Dernier envoi : 2025-W14", "telegram : pending 1"]


def test_apercu_shows_the_coming_digest_to_the_admin_alone(chat: Chat) -> None:
    group = -4242
    replies = chat.command("/apercu", chat=group, user=ADMIN, to=ADMIN, replies=2)
    assert "pas encore envoyé" in plain(replies[0].text)
    assert "semaine du 31 mars au 6 avril 2025" in replies[1].text
    assert chat.fake.messages_to(group) == []
    with open_store(chat.database) as store:  # a preview freezes nothing
        assert store.get_digest(str(W14)) is None
    freeze(chat.database, status="sent")
    live = chat.command("/apercu", chat=ADMIN, replies=2)
    assert "semaine en cours" in plain(live[0].text)
    assert "semaine du 7 au 13 avril 2025" in live[1].text and "Titre 2" in live[1].text


def test_latest_when_there_is_no_digest_yet(chat: Chat) -> None:
    text = chat.say("/latest")
    assert text == "Aucun résumé n’a encore été publié ; il paraît chaque lundi à 8 h 00, " \
                   "heure de Paris."


def test_latest_shows_the_newest_digest_that_went_out_never_a_frozen_one(chat: Chat) -> None:
    freeze(chat.database, IsoWeek(2025, 13), status="frozen")
    freeze(chat.database, status="frozen")
    assert chat.say("/latest").startswith("Aucun résumé n’a encore été publié")
    with open_store(chat.database) as store:
        store.mark_digest("2025-W13", "sent", NOW)
    assert "semaine du 24 au 30 mars 2025" in chat.say("/latest")  # the newest sent
    assert "week of 24 to 30 March 2025" in chat.say("/latest", language="en")
    with open_store(chat.database) as store:  # W14's send begins: it is out from then on
        store.mark_digest("2025-W14", "sending", NOW)
    (reply,) = chat.command("/latest")
    assert reply.text.startswith("Nouvelles d'Asie centrale — semaine du 31 mars au 6 avril")
    assert reply.parse_mode == "HTML" and reply.link_preview_disabled
    assert {"🌏 Asie centrale (1)", "🇰🇿 Kazakhstan (1)", "🇺🇿 Ouzbékistan (1)"} <= \
        set(reply.text.splitlines())


def test_latest_keeps_to_the_sections_a_reader_follows(chat: Chat) -> None:
    freeze(chat.database)
    everything = chat.say("/latest")  # not subscribed: every section
    chat.command("/start")
    set_countries(chat, frozenset({Country.UZ}))
    mine = chat.say("/latest")
    assert "🇰🇿 Kazakhstan (1)" in everything and "🇰🇿 Kazakhstan (1)" not in mine
    assert "🇺🇿 Ouzbékistan (1)" in mine
    set_countries(chat, frozenset({Country.TM}))
    assert "Aucun article cette semaine-là dans les pays que vous suivez" in chat.say("/latest")


def keyboard(sent: Sent) -> list[tuple[str, str]]:
    assert sent.reply_markup is not None
    return [(b["text"], b["callback_data"]) for row in sent.reply_markup["inline_keyboard"]
            for b in row]


def test_pays_shows_six_sections_with_this_weeks_counts(chat: Chat) -> None:
    (reply,) = chat.command("/pays")
    assert keyboard(reply) == [
        ("🇰🇿 Kazakhstan (2)", "c1:KZ"), ("🇰🇬 Kirghizstan (0)", "c1:KG"),
        ("🇺🇿 Ouzbékistan (0)", "c1:UZ"), ("🇹🇯 Tadjikistan (0)", "c1:TJ"),
        ("🇹🇲 Turkménistan (1)", "c1:TM"), ("🌏 Asie centrale (0)", "c1:REGION")]
    (russian,) = chat.command("/pays", language="ru")
    assert keyboard(russian)[1][0] == "🇰🇬 Киргизия (0)"


def test_a_section_shows_its_five_latest_articles(chat: Chat) -> None:
    (menu,) = chat.command("/pays")
    answer = chat.press(menu, "c1:KZ")
    assert answer.get("text") is None
    (edit,) = chat.fake.edits
    assert edit.message_id == menu.message_id and edit.link_preview_disabled
    lines = plain(edit.text).splitlines()
    assert lines[0] == "🇰🇿 Kazakhstan · 2 articles cette semaine"
    assert lines[2:7] == ["Titre 2", "mercredi 9 avril 2025", "", "Titre 1",
                          "mardi 8 avril 2025"]
    days = [line for line in lines if re.match(r"(lun|mar|mercre|jeu|vendre|same)di \d", line)]
    assert len(days) == 5 and days[-1].endswith("2024")  # five, none from September
    offset = utf16_length(edit.text[:edit.text.index("Titre 2")])
    assert {"type": "text_link", "offset": offset, "length": 7,
            "url": "https://ex.org/2"} in edit.entities
    assert "/start" in edit.text and keyboard(edit) == [("↩ Tous les pays", "p1")]
    chat.press(menu, "p1")
    assert keyboard(chat.fake.edits[-1])[0] == ("🇰🇿 Kazakhstan (2)", "c1:KZ")


def test_follow_buttons_change_the_readers_sections(chat: Chat) -> None:
    chat.command("/start")
    (view,) = chat.command("/pays kz")
    assert keyboard(view)[0] == ("Ne plus suivre", "f1:KZ:0")
    answer = chat.press(view, "f1:KZ:0")
    assert plain(answer["text"]) == "Vous ne suivez plus : Kazakhstan."
    assert chat.subscriber().countries == frozenset(sections.SECTIONS) - {Country.KZ}
    assert keyboard(chat.fake.edits[-1])[0] == ("✓ Suivre", "f1:KZ:1")
    assert "Vous ne suivez pas cette rubrique" in plain(chat.fake.edits[-1].text)
    assert plain(chat.press(view, "f1:KZ:1")["text"]) == \
        "Votre résumé contient de nouveau toutes les rubriques."
    assert chat.subscriber().countries == frozenset()
    set_countries(chat, frozenset({Country.UZ}))
    (uz,) = chat.command("/pays ouzbekistan")
    refused = chat.press(uz, "f1:UZ:0")
    assert "au moins une rubrique" in refused["text"] and refused["show_alert"]
    assert chat.subscriber().countries == {Country.UZ}
    assert plain(chat.press(uz, "f1:TM:1")["text"]) == "Vous suivez : Turkménistan."
    assert chat.subscriber().countries == {Country.UZ, Country.TM}


def test_following_needs_a_subscription(chat: Chat) -> None:
    (view,) = chat.command("/pays Kazakhstan")
    assert keyboard(view) == [("↩ Tous les pays", "p1")]
    answer = chat.press(view, "f1:KZ:1")
    assert "/start" in answer["text"]
    assert chat.subscriber() is None and chat.fake.edits == []


@pytest.mark.parametrize(("asked", "heading"), [
    ("kazakhstan", "🇰🇿 Kazakhstan"), ("KZ", "🇰🇿 Kazakhstan"), ("kirghizistan", "🇰🇬 Kirghizstan"),
    ("OUZBÉKISTAN", "🇺🇿 Ouzbékistan"), ("Asie centrale", "🌏 Asie centrale"),
    ("Туркменистан", "🇹🇲 Turkménistan")])
def test_pays_with_a_name_goes_straight_there(chat: Chat, asked: str, heading: str) -> None:
    assert chat.say(f"/pays {asked}").startswith(heading + " · ")


def test_pays_with_an_unknown_name_lists_the_valid_ones(chat: Chat) -> None:
    text = chat.say("/pays narnia")
    assert text.startswith("Pays inconnu : « narnia ». Essayez l’un de ceux-ci : KZ (Kaz")
    assert "<b> & </a>" in chat.say("/pays <b> & </a>")  # escaped: shown as typed


@pytest.mark.parametrize("data", ["country:KZ", "c0:KZ", "f1:XX:1", "f2:KZ:0"])
def test_a_stale_button_answers_politely_and_changes_nothing(chat: Chat, data: str) -> None:
    chat.command("/start")
    (view,) = chat.command("/pays KZ")
    answer = chat.press(view, data)
    assert "n’est plus valable" in answer["text"] and "/pays" in answer["text"]
    assert chat.subscriber().countries == frozenset() and chat.fake.edits == []


def test_a_button_under_a_message_too_old_to_edit_gets_a_new_message(chat: Chat) -> None:
    before = len(chat.fake.messages_to(READER))
    chat.fake.press_button(READER, 999, "c1:TM")  # a message the double never saw
    assert chat.fake.wait_for(lambda: len(chat.fake.answers) == 1)
    (fresh,) = chat.fake.messages_to(READER)[before:]
    assert fresh.text.startswith("🇹🇲 Turkménistan · 1 article cette semaine")


HOSTILE = 'Évasion <b>fiscale</b> & "fraude" </a> <a href="x"> 🇰🇿💰 &amp; '


def test_hostile_article_text_never_makes_a_refused_message(chat: Chat) -> None:
    long_word = "x" * 5000
    with open_store(chat.database) as store:
        store.insert_articles([
            art(10, dt.date(2025, 4, 6), title=HOSTILE, lead=HOSTILE * 3,
                url='https://ex.org/?a=1&b="2"<3>'),
            art(11, dt.date(2025, 4, 3), title=HOSTILE * 80, lead=(HOSTILE + " mot ") * 120),
            art(12, dt.date(2025, 4, 4), title=long_word, lead=long_word,
                url="javascript:alert(1)"),
            art(13, dt.date(2025, 4, 5), title="🇰🇿" * 1300, lead="🇰🇿" * 1300),
        ], NOW)
    freeze(chat.database)
    (view,) = chat.command("/pays KZ")
    assert HOSTILE.strip() in view.text  # the reader sees exactly what was written
    assert utf16_length(view.text) <= 4096 and len(view.entities) <= 100
    chat.press(view, "c1:KZ")
    parts = chat.command("/latest", replies=parts_of(chat.database, W14))
    assert len(parts) > 2 and all(utf16_length(p.text) <= 4096 for p in parts)
    assert parts[0].text.startswith("Nouvelles d'Asie centrale — semaine du 31 mars")
    assert HOSTILE.strip() in parts[0].text
    assert chat.fake.violations == []


def test_the_command_menu_in_three_languages(chat: Chat) -> None:
    menus = chat.fake.commands
    admin_scope = json.dumps({"chat_id": ADMIN, "type": "chat"}, separators=(",", ":"),
                             sort_keys=True)
    assert set(menus) == {(language, scope) for language in (None, "fr", "en", "ru")
                          for scope in (None, admin_scope)}

    def menu(language: str | None, scope: str | None = None) -> dict[str, str]:
        return {c["command"]: c["description"] for c in menus[(language, scope)]}

    assert menu(None) == menu("fr")
    assert plain(menu("fr")["start"]) == "recevoir le résumé chaque semaine"
    assert menu("en")["start"] == "get the digest every week" and "help" in menu("en")
    assert menu("ru")["latest"] == "прочитать последний дайджест"
    assert list(menu(None)) == ["start", "latest", "pays", "stop", "aide"]
    assert list(menu("en", admin_scope)) == ["start", "latest", "pays", "stop", "help",
                                             "stats", "apercu"]


def test_latest_sends_at_most_ten_messages_and_links_the_rest() -> None:
    from bot.chat.digests import LATEST_MAX, capped

    parts = [f"part {n}" for n in range(25)]
    assert capped(parts[:LATEST_MAX], "2025-W14", "fr", "https://ex.org") == parts[:LATEST_MAX]
    sent = capped(parts, "2025-W14", "en", "https://ex.org/")
    assert len(sent) == LATEST_MAX and sent[:-1] == parts[:LATEST_MAX - 1]
    assert sent[-1] == "The rest of this digest is online: https://ex.org/archive/2025-W14/"
