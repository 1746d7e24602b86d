"""The loopback Bot API double (tests/fakes/telegram.py) behaves like Telegram, as seen by
the real python-telegram-bot stack over HTTP.

Long because it holds the double to Telegram's rules one by one: every limit and error text
of tests/fakes/telegram.py, each a short test.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes
from telegram.warnings import PTBDeprecationWarning

from tests.fakes.telegram import FakeBotApi, ManualClock, parse_html, utf16_length

pytestmark = pytest.mark.filterwarnings(  # PTB's own RetryAfter.__init__ reads the property
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")
T = TypeVar("T")
FLAG = "🇰🇿"  # 2 code points, 4 UTF-16 code units


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    with FakeBotApi() as fake:
        yield fake


def with_bot(api: FakeBotApi, scenario: Callable[[Bot], Awaitable[T]]) -> T:
    """Run `scenario` with an initialised PTB Bot pointed at the double."""
    async def main() -> T:
        async with Bot(api.token, base_url=api.url) as bot:
            return await scenario(bot)
    return asyncio.run(main())


def send(api: FakeBotApi, chat_id: int | str, text: str, **kwargs: Any) -> Message:
    async def scenario(bot: Bot) -> Message:
        return await bot.send_message(chat_id, text, **kwargs)
    return with_bot(api, scenario)


def refusal(api: FakeBotApi, chat_id: int | str, text: str, **kwargs: Any) -> TelegramError:
    """The error PTB raises for this sendMessage."""
    with pytest.raises(TelegramError) as caught:
        send(api, chat_id, text, **kwargs)
    return caught.value


def seconds(error: RetryAfter) -> float:
    """RetryAfter.retry_after in seconds: an int in v22 (with a deprecation warning), a
    timedelta with PTB_TIMEDELTA=1."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def raw(api: FakeBotApi, method: str, *, token: str | None = None, **kwargs: Any
        ) -> httpx.Response:
    """A request without PTB (its client-side shaping out of the way)."""
    return httpx.post(f"{api.url}{token or api.token}/{method}", timeout=5, **kwargs)


# -- the basics ----------------------------------------------------------------------------

def test_get_me_through_ptb(api: FakeBotApi) -> None:
    async def scenario(bot: Bot) -> tuple[Any, str]:
        return await bot.get_me(), bot.username
    me, username = with_bot(api, scenario)
    assert (me.id, me.is_bot, me.username) == (123456, True, "asie_centrale_bot")
    assert username == "asie_centrale_bot"
    assert me.can_join_groups is True and me.supports_inline_queries is False
    assert api.methods_called() == ["getMe", "getMe"]  # Bot.initialize() calls it too


def test_wrong_token_and_unknown_method_answer_like_telegram(api: FakeBotApi) -> None:
    async def wrong_token() -> None:
        async with Bot("123456:WRONG-token", base_url=api.url):
            pass
    with pytest.raises(InvalidToken):
        asyncio.run(wrong_token())
    response = raw(api, "getMe", token="654321:OTHER")
    assert (response.status_code, response.json()) == (
        401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    response = raw(api, "sendPigeon", data={"chat_id": 1})
    assert (response.status_code, response.json()) == (
        404, {"ok": False, "error_code": 404, "description": "Not Found"})
    assert raw(api, "GETME").json()["result"]["username"] == "asie_centrale_bot"


def test_the_token_is_never_recorded(api: FakeBotApi) -> None:
    send(api, 5, "<b>Salut</b>", parse_mode="HTML")
    refusal(api, 5, "<p>", parse_mode="HTML")
    raw(api, "getMe", token="654321:OTHER")
    assert [method for method in api.methods_called() if method != "getMe"] == \
        ["sendMessage", "sendMessage"]
    recorded = repr((api.calls, api.sent, api.refusals, api.violations))
    assert api.token not in recorded and "TEST-token" not in recorded
    assert "654321:OTHER" not in recorded
    assert [(r.method, r.status) for r in api.refusals] == [("sendMessage", 400), ("getMe", 401)]


# -- HTML parse mode -----------------------------------------------------------------------

def test_good_html_gives_the_plain_text_and_utf16_entities(api: FakeBotApi) -> None:
    html = (f'<b>Kazakhstan</b> {FLAG} <i>Astana</i> &amp; '
            '<a href="https://example.org/?a=1&amp;b=2">lien</a>\n'
            '<s>x</s><u>y</u><span class="tg-spoiler">z</span><code>c</code>'
            '<pre><code class="language-python">p</code></pre>'
            '<blockquote expandable>q</blockquote> &lt;&gt;&quot;&#x27;&#233;')
    message = send(api, 5, html, parse_mode="HTML")
    text = f"Kazakhstan {FLAG} Astana & lien\nxyzcpq <>\"'é"
    assert message.text == text
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 10), ("italic", 16, 6), ("text_link", 25, 4), ("strikethrough", 30, 1),
        ("underline", 31, 1), ("spoiler", 32, 1), ("code", 33, 1), ("pre", 34, 1),
        ("expandable_blockquote", 35, 1)]
    # PTB slices by UTF-16 offsets too: each entity covers the text it should
    assert list(message.parse_entities().values()) == \
        ["Kazakhstan", "Astana", "lien", "x", "y", "z", "c", "p", "q"]
    assert message.entities[2].url == "https://example.org/?a=1&b=2"
    assert message.entities[7].language == "python"
    (sent,) = api.sent
    assert (sent.chat_id, sent.text, sent.html, sent.parse_mode) == (5, text, html, "HTML")
    assert sent.entities[0] == {"type": "bold", "offset": 0, "length": 10}
    assert api.violations == []


@pytest.mark.parametrize(("html", "reason"), [
    ("<br>", 'Unsupported start tag "br" at byte offset 0'),
    ("Tachkent é <p>x</p>", 'Unsupported start tag "p" at byte offset 12'),  # bytes, é is 2
    ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
    ("a <", "Unclosed start tag at byte offset 2"),
    ("Kazakh & Ouzbek", 'Character "&" at byte offset 7 does not start an entity'),
    ("&nbsp;Astana", 'Character "&" at byte offset 0'),
    ("&amp sans point-virgule", 'Character "&" at byte offset 0'),
    ("<b>gras", 'Can\'t find end tag corresponding to start tag "b"'),
    ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
    ("x</b>", "Unexpected end tag at byte offset 1"),
    ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ('<a href="https://e.org">x</a', "Unclosed end tag at byte offset 25"),
])
def test_bad_html_is_refused(api: FakeBotApi, html: str, reason: str) -> None:
    error = refusal(api, 5, html, parse_mode="HTML")
    assert isinstance(error, BadRequest)
    # PTB strips "Bad Request: " and capitalize()s the rest, so compare without case
    assert f"can't parse entities: {reason}".lower() in error.message.lower()
    (violation,) = api.violations
    assert violation.method == "sendMessage" and violation.chat_id == 5
    assert violation.reason == f"Bad Request: can't parse entities: {reason}" or \
        violation.reason.startswith(f"Bad Request: can't parse entities: {reason}")
    assert api.sent == []


def test_lenient_mode_keeps_a_bare_ampersand_as_tdlib_does(api: FakeBotApi) -> None:
    api.strict_html = False
    assert send(api, 5, "Kazakh & Ouzbek, &amp sans ;", parse_mode="HTML").text == \
        "Kazakh & Ouzbek, & sans ;"
    assert parse_html("x & y", strict=False) == ("x & y", [])


def test_plain_text_is_not_parsed(api: FakeBotApi) -> None:
    message = send(api, 5, "<b>1 < 2 & 3</b>")
    assert message.text == "<b>1 < 2 & 3</b>" and message.entities == ()
    assert api.sent[0].parse_mode is None


# -- limits on one message -----------------------------------------------------------------

def test_length_is_counted_in_utf16_after_parsing(api: FakeBotApi) -> None:
    assert utf16_length(FLAG * 1024) == 4096
    assert send(api, 5, FLAG * 1024, parse_mode="HTML").text == FLAG * 1024
    assert "too long" in refusal(api, 5, FLAG * 1024 + "x", parse_mode="HTML").message
    # "&amp;" is one character once parsed, and tags are no characters at all
    assert send(api, 5, "&amp;" * 4096, parse_mode="HTML").text == "&" * 4096
    assert "too long" in refusal(api, 5, "&amp;" * 4097, parse_mode="HTML").message
    assert send(api, 5, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML").text == "a" * 4096
    assert "too long" in refusal(api, 5, "é" * 4097).message
    assert [v.reason for v in api.violations] == ["Bad Request: message is too long"] * 3
    assert len(api.sent) == 3


def test_empty_text_is_refused_after_parsing_and_trimming(api: FakeBotApi) -> None:
    for text in ("<b></b>", "  \n ", "<i> </i>"):
        assert "text is empty" in refusal(api, 5, text, parse_mode="HTML").message
    message = send(api, 5, "\n<b> Astana </b>\n\n", parse_mode="HTML")
    assert message.text == "Astana"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("bold", 0, 6)]


def test_at_most_100_entities(api: FakeBotApi) -> None:
    hundred = " ".join(f"<b>{n}</b>" for n in range(100))
    assert len(send(api, 5, hundred, parse_mode="HTML").entities) == 100
    error = refusal(api, 5, hundred + " <i>un de trop</i>", parse_mode="HTML")
    assert isinstance(error, BadRequest) and "too many entities" in error.message.lower()
    assert len(api.sent) == 1 and len(api.violations) == 1


def test_callback_data_is_at_most_64_bytes(api: FakeBotApi) -> None:
    def keyboard(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton("Pays", callback_data=data)]])
    message = send(api, 5, "Choisir", reply_markup=keyboard("é" * 32))  # 64 bytes
    assert message.reply_markup is not None
    assert message.reply_markup.inline_keyboard[0][0].callback_data == "é" * 32
    assert api.sent[0].reply_markup == {
        "inline_keyboard": [[{"text": "Pays", "callback_data": "é" * 32}]]}
    # PTB does not check the length itself: the server refuses
    error = refusal(api, 5, "Choisir", reply_markup=keyboard("é" * 32 + "x"))  # 65 bytes
    assert isinstance(error, BadRequest) and error.message == "Button_data_invalid"
    # the same without PTB, as a JSON body
    response = raw(api, "sendMessage", json={
        "chat_id": 5, "text": "Choisir",
        "reply_markup": {"inline_keyboard": [[{"text": "Pays", "callback_data": "x" * 65}]]}})
    assert (response.status_code, response.json()) == (400, {
        "ok": False, "error_code": 400, "description": "Bad Request: BUTTON_DATA_INVALID"})
    both = InlineKeyboardMarkup([[InlineKeyboardButton("Pays", callback_data="p",
                                                       url="https://example.org")]])
    assert "exactly one" in refusal(api, 5, "Choisir", reply_markup=both).message
    assert [v.reason for v in api.violations][:2] == ["Bad Request: BUTTON_DATA_INVALID"] * 2
    assert len(api.sent) == 1


# -- flood limits --------------------------------------------------------------------------

def test_forty_messages_at_once_meet_the_30_per_second_limit(api: FakeBotApi) -> None:
    async def scenario(bot: Bot) -> list[RetryAfter]:
        errors = []
        for n in range(40):
            try:
                await bot.send_message(1000 + n, f"message {n}")
            except RetryAfter as error:
                errors.append(error)
        return errors
    errors = with_bot(api, scenario)
    assert 1 <= len(errors) <= 10  # 10 when the 40 take less than a second, as they do
    assert {seconds(error) for error in errors} == {1.0}
    assert api.rate_limited == len(errors) and api.injected_429 == 0
    assert len(api.sent) == 40 - len(errors)
    assert [s.chat_id for s in api.sent[:30]] == list(range(1000, 1030))
    times = [s.at for s in api.sent]
    assert all(later - first >= 1.0 for first, later in zip(times, times[30:], strict=False))
    assert {t.scope for t in api.throttled} == {"global"}
    assert api.violations == []


def test_the_window_slides_and_spaced_messages_are_never_limited() -> None:
    clock = ManualClock()
    with FakeBotApi(clock=clock) as api:
        async def scenario(bot: Bot) -> list[float]:
            for n in range(60):  # 29.4 a second: never 31 in one window
                await bot.send_message(n + 1, "espacé")
                clock.advance(0.034)
            clock.advance(5)
            for n in range(30):  # 30 at the same instant: the limit, not past it
                await bot.send_message(n + 1, "rafale")
            waits = []
            for step in (0.0, 0.25, 0.749):
                clock.advance(step)
                with pytest.raises(RetryAfter) as caught:
                    await bot.send_message(99, "de trop")
                waits.append(seconds(caught.value))
            clock.advance(0.001)  # a full second after the burst: room again
            await bot.send_message(99, "enfin")
            return waits
        assert with_bot(api, scenario) == [1.0, 1.0, 1.0]
        assert api.rate_limited == 3 and len(api.sent) == 91


def test_twenty_messages_a_minute_to_a_group_or_channel() -> None:
    clock = ManualClock()
    with FakeBotApi(clock=clock, global_rate=None) as api:
        async def scenario(bot: Bot) -> list[float]:
            waits = []
            for chat in (-4242, "@asiecentrale"):
                for n in range(20):
                    await bot.send_message(chat, f"n° {n}")
                with pytest.raises(RetryAfter) as caught:
                    await bot.send_message(chat, "de trop")
                waits.append(seconds(caught.value))
            for n in range(25):  # private chats have no such limit
                await bot.send_message(7, f"privé {n}")
            clock.advance(15)
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(-4242, "toujours trop tôt")
            waits.append(seconds(caught.value))
            clock.advance(45)
            await bot.send_message(-4242, "une minute après")
            return waits
        assert with_bot(api, scenario) == [60.0, 60.0, 45.0]
        assert api.rate_limited == 3
        assert {t.scope for t in api.throttled} == {"chat"}
        assert len(api.messages_to(-4242)) == 21 and len(api.messages_to("@AsieCentrale")) == 20


def test_limits_can_be_turned_off() -> None:
    with FakeBotApi(global_rate=None, group_per_minute=None) as api:
        async def scenario(bot: Bot) -> None:
            for n in range(45):
                await bot.send_message(-4242, f"n° {n}")
        with_bot(api, scenario)
        assert len(api.sent) == 45 and api.rate_limited == 0


# -- faults --------------------------------------------------------------------------------

def test_blocked_deactivated_and_unknown_chats(api: FakeBotApi) -> None:
    api.block(7)
    api.deactivate(8)
    api.unknown_chat(9)
    api.block(-4242)
    blocked = refusal(api, 7, "Salut")
    assert isinstance(blocked, Forbidden)
    assert blocked.message == "Forbidden: bot was blocked by the user"
    deactivated = refusal(api, "8", "Salut")
    assert isinstance(deactivated, Forbidden) and "user is deactivated" in deactivated.message
    unknown = refusal(api, 9, "Salut")
    assert isinstance(unknown, BadRequest) and unknown.message == "Chat not found"
    assert "kicked" in refusal(api, -4242, "Salut").message
    assert api.violations == [] and api.sent == []
    assert [(r.chat_id, r.status) for r in api.refusals] == [(7, 403), (8, 403), (9, 400),
                                                            (-4242, 403)]
    api.unblock(7)
    assert send(api, 7, "Re-bonjour").text == "Re-bonjour"


def test_fail_next_answers_the_error_and_does_nothing_else(api: FakeBotApi) -> None:
    api.fail_next("sendMessage", 502, "Bad Gateway")
    api.fail_next("sendMessage", 500, count=2)
    for _ in range(3):
        assert isinstance(refusal(api, 5, "Salut"), NetworkError)
    api.fail_next("sendMessage", 429, retry_after=7)
    error = refusal(api, 5, "Salut")
    assert isinstance(error, RetryAfter) and seconds(error) == 7.0
    api.burst_429(2, retry_after=3)
    for _ in range(2):
        error = refusal(api, 5, "Salut")
        assert isinstance(error, RetryAfter) and seconds(error) == 3.0
    assert api.sent == []
    assert send(api, 5, "Enfin").message_id == 1  # nothing before was delivered
    assert (api.injected_429, api.rate_limited) == (3, 0)
    assert [r.status for r in api.refusals] == [502, 500, 500, 429, 429, 429]
    assert api.violations == []


def test_drop_next_cuts_the_connection(api: FakeBotApi) -> None:
    api.drop_next("sendMessage")
    assert isinstance(refusal(api, 5, "perdu"), NetworkError)
    assert api.sent == []
    api.drop_next("sendMessage", after=True)  # delivered, but the answer is lost
    assert isinstance(refusal(api, 5, "livré sans réponse"), NetworkError)
    assert [s.text for s in api.sent] == ["livré sans réponse"]
    assert send(api, 5, "suivant").message_id == 2


def test_latency_delays_the_answer(api: FakeBotApi) -> None:
    api.latency = 0.3
    started = time.monotonic()
    send(api, 5, "lent")
    assert time.monotonic() - started >= 0.3


# -- updates -------------------------------------------------------------------------------

def test_get_updates_long_polls_and_honours_offset(api: FakeBotApi) -> None:
    async def scenario(bot: Bot) -> None:
        api.send_command(5, "/start", first_name="Aïgerim")
        started = time.monotonic()
        (first,) = await bot.get_updates(timeout=5)  # queued: answered at once
        assert time.monotonic() - started < 1
        assert first.message is not None and first.message.text == "/start"
        assert [(e.type, e.offset, e.length) for e in first.message.entities] == \
            [("bot_command", 0, 6)]
        assert first.message.from_user is not None
        assert first.message.from_user.first_name == "Aïgerim"
        assert first.message.from_user.language_code == "fr"
        api.send_command(5, "/pays@asie_centrale_bot kz")
        assert len(await bot.get_updates(timeout=0)) == 2  # nothing confirmed yet
        (second,) = await bot.get_updates(offset=first.update_id + 1, timeout=0)
        assert second.message is not None and (second.message.text or "").startswith("/pays")
        assert second.message.entities[0].length == len("/pays@asie_centrale_bot")
        assert [u["update_id"] for u in api.pending_updates] == [second.update_id]
        offset = second.update_id + 1
        started = time.monotonic()
        assert await bot.get_updates(offset=offset, timeout=1) == ()  # waits, then nothing
        assert 0.9 <= time.monotonic() - started < 3
        assert api.pending_updates == []
        asyncio.get_running_loop().call_later(0.2, api.send_command, 5, "/latest")
        started = time.monotonic()
        (third,) = await bot.get_updates(offset=offset, timeout=5)  # woken by the push
        assert time.monotonic() - started < 2
        assert third.message is not None and third.message.text == "/latest"
        for text in ("/a", "/b", "/c"):
            api.send_command(5, text)
        limited = await bot.get_updates(offset=third.update_id + 1, limit=2, timeout=0)
        assert [u.message.text for u in limited if u.message] == ["/a", "/b"]
        (last,) = await bot.get_updates(offset=-1, timeout=0)
        assert last.message is not None and last.message.text == "/c"
    with_bot(api, scenario)


def test_a_long_poll_does_not_hold_up_sending(api: FakeBotApi) -> None:
    async def scenario(bot: Bot) -> None:
        poll = asyncio.create_task(bot.get_updates(timeout=3))
        assert await api.until(lambda: "getUpdates" in api.methods_called())
        started = time.monotonic()
        await bot.send_message(5, "pendant l'attente")
        assert time.monotonic() - started < 0.5
        assert not poll.done()
        api.send_command(5, "/fin")
        (update,) = await poll
        assert update.message is not None and update.message.text == "/fin"
    with_bot(api, scenario)


def test_a_second_poller_ends_the_first_with_conflict(api: FakeBotApi) -> None:
    async def scenario() -> None:
        async with Bot(api.token, base_url=api.url) as one, \
                Bot(api.token, base_url=api.url) as two:
            first = asyncio.create_task(one.get_updates(timeout=3))
            assert await api.until(lambda: "getUpdates" in api.methods_called())
            second = asyncio.create_task(two.get_updates(timeout=0))
            with pytest.raises(Conflict, match="terminated by other getUpdates request"):
                await first
            assert await second == ()
    asyncio.run(scenario())


def test_an_application_answers_a_pushed_command(api: FakeBotApi) -> None:
    seen: list[Update] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update)
        assert update.effective_message is not None and update.effective_user is not None
        await update.effective_message.reply_text(
            f"Bienvenue, <b>{update.effective_user.first_name}</b>", parse_mode="HTML")

    async def scenario() -> bool:
        app = ApplicationBuilder().token(api.token).base_url(api.url).build()
        app.add_handler(CommandHandler("start", start))
        await app.initialize()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            api.send_command(77, "/start")
            api.send_command(77, "/start@un_autre_bot")  # for another bot: ignored
            api.send_command(77, "/start@asie_centrale_bot")
            return await api.until(lambda: len(api.messages_to(77)) >= 2)
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()

    assert asyncio.run(scenario())
    assert [s.text for s in api.messages_to(77)] == ["Bienvenue, Lectrice"] * 2
    assert api.sent[0].entities == [{"type": "bold", "offset": 11, "length": 8}]
    assert len(seen) == 2
    assert api.pending_updates == []  # the updater confirmed what it read, on stopping
    assert api.errors == [] and api.violations == []


def test_callback_queries_are_answered_once(api: FakeBotApi) -> None:
    async def scenario(bot: Bot) -> str:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Kazakhstan",
                                                               callback_data="pays:KZ")]])
        message = await bot.send_message(5, "Quels pays ?", reply_markup=keyboard)
        api.press_button(5, message.message_id, "pays:KZ")
        (update,) = await bot.get_updates(timeout=1)
        query = update.callback_query
        assert query is not None and query.data == "pays:KZ"
        assert isinstance(query.message, Message) and query.message.text == "Quels pays ?"
        assert await query.answer("Suivi : Kazakhstan") is True
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await query.answer()
        edited = await query.edit_message_text("Vous suivez <b>Kazakhstan</b>",
                                               parse_mode="HTML")
        assert isinstance(edited, Message)
        assert edited.text == "Vous suivez Kazakhstan" and edited.reply_markup is None
        assert edited.edit_date is not None
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await query.edit_message_text("Vous suivez <b>Kazakhstan</b>", parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await bot.edit_message_text("x", chat_id=5, message_id=999)
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query("123")
        api.press_button(5, 999, "pays:UZ")  # a button under a message long gone
        (stale,) = await bot.get_updates(offset=update.update_id + 1, timeout=1)
        assert stale.callback_query is not None
        # PTB 22.5 builds a Message (not an InaccessibleMessage) from {"date": 0, …}
        assert stale.callback_query.message is not None
        assert stale.callback_query.message.is_accessible is False
        assert stale.callback_query.message.message_id == 999
        return query.id
    query_id = with_bot(api, scenario)
    assert api.answers == [{"callback_query_id": query_id, "text": "Suivi : Kazakhstan",
                            "show_alert": False, "url": None}]
    (edit,) = api.edits
    assert (edit.message_id, edit.text, edit.reply_markup) == (1, "Vous suivez Kazakhstan", None)
    assert api.message(5, 1) is not None and "reply_markup" not in (api.message(5, 1) or {})
    assert api.violations == []


def test_answer_text_is_at_most_200_characters(api: FakeBotApi) -> None:
    api.push_update({"update_id": 5000})  # numbering goes on after the ids given
    update = api.press_button(5, 1, "x")
    assert update["update_id"] == 5001
    query_id = update["callback_query"]["id"]

    async def scenario(bot: Bot) -> None:
        with pytest.raises(BadRequest, match=r"(?i)message_too_long"):
            await bot.answer_callback_query(query_id, "x" * 201)
        assert await bot.answer_callback_query(query_id, "x" * 200, show_alert=True)
    with_bot(api, scenario)
    assert api.answers[0]["show_alert"] is True


# -- other methods and shapes --------------------------------------------------------------

def test_commands_are_checked_and_kept_per_language_and_scope(api: FakeBotApi) -> None:
    async def scenario(bot: Bot) -> None:
        assert await bot.set_my_commands([("start", "S'abonner"), ("pays", "Par pays")],
                                         language_code="fr")
        assert await bot.set_my_commands([BotCommand("latest", "Latest digest")],
                                         scope=BotCommandScopeAllPrivateChats())
        fetched = await bot.get_my_commands(language_code="fr")
        assert [(c.command, c.description) for c in fetched] == \
            [("start", "S'abonner"), ("pays", "Par pays")]
        assert await bot.get_my_commands() == ()
        for command, description in (("Start", "x"), ("a" * 33, "x"), ("pays-kz", "x")):
            with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
                await bot.set_my_commands([(command, description)])
        for description in ("", "x" * 257):
            with pytest.raises(BadRequest, match=r"(?i)bot_command_description_invalid"):
                await bot.set_my_commands([("aide", description)])
        assert await bot.delete_my_commands(scope=BotCommandScopeAllPrivateChats())
    with_bot(api, scenario)
    assert api.commands == {("fr", None): [{"command": "start", "description": "S'abonner"},
                                           {"command": "pays", "description": "Par pays"}]}
    assert len(api.violations) == 5


def test_chat_kinds_and_message_numbers(api: FakeBotApi) -> None:
    async def scenario(bot: Bot) -> list[Message]:
        return [await bot.send_message(chat, "Salut") for chat in
                (5, 5, -4242, -1001234567890, "@AsieCentrale", "@asiecentrale")]
    private, again, group, channel, named, same = with_bot(api, scenario)
    assert (private.chat.type, private.message_id, again.message_id) == ("private", 1, 2)
    assert private.from_user is not None and private.from_user.username == "asie_centrale_bot"
    assert (group.chat.type, group.message_id) == ("group", 1)
    assert (channel.chat.type, channel.message_id, channel.from_user) == ("channel", 1, None)
    assert channel.sender_chat is not None and channel.sender_chat.id == -1001234567890
    assert named.chat.type == "channel" and named.chat.id < -1_000_000_000_000
    assert (named.chat.username, same.chat.id, same.message_id) == \
        ("asiecentrale", named.chat.id, 2)
    assert [s.chat_id for s in api.messages_to(named.chat.id)] == ["@asiecentrale"] * 2
    assert api.sent[0].chat_id == 5  # "5" in the form, an int here


def test_reply_link_preview_and_notification_parameters(api: FakeBotApi) -> None:
    async def scenario(bot: Bot) -> Message:
        first = await bot.send_message(5, "https://example.org",
                                       link_preview_options=LinkPreviewOptions(is_disabled=True),
                                       disable_notification=True)
        with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
            await bot.send_message(5, "réponse", reply_to_message_id=99)
        return await bot.send_message(5, "réponse", reply_to_message_id=first.message_id)
    reply = with_bot(api, scenario)
    assert reply.reply_to_message is not None and reply.reply_to_message.message_id == 1
    first, second = api.sent
    assert (first.link_preview_disabled, first.disable_notification) == (True, True)
    assert (second.link_preview_disabled, second.reply_to_message_id) == (False, 1)
    # the old parameter, which PTB itself turns into link_preview_options
    response = raw(api, "sendMessage", data={"chat_id": "5", "text": "x",
                                             "disable_web_page_preview": "true"})
    assert response.json()["ok"] is True and api.sent[-1].link_preview_disabled is True


def test_get_json_and_multipart_requests(api: FakeBotApi) -> None:
    got = httpx.get(f"{api.url}{api.token}/sendMessage",
                    params={"chat_id": 5, "text": "<i>GET</i>", "parse_mode": "HTML"})
    assert got.json()["result"]["entities"] == [{"type": "italic", "offset": 0, "length": 3}]
    posted = raw(api, "sendMessage", json={"chat_id": "@asiecentrale", "text": "JSON",
                                           "link_preview_options": {"is_disabled": True}})
    assert posted.json()["result"]["chat"]["type"] == "channel"
    multipart = raw(api, "sendMessage", data={"chat_id": "5", "text": "multipart"},
                    files={"piece": ("note.txt", b"contenu")})
    assert multipart.json()["result"]["text"] == "multipart"
    assert [s.text for s in api.sent] == ["GET", "JSON", "multipart"]
    assert api.sent[1].link_preview_disabled is True
    assert api.calls[-1][2]["piece"].startswith("<file note.txt")
    assert raw(api, "sendMessage", content=b"{", headers={
        "Content-Type": "application/json"}).status_code == 400


def test_other_methods_the_bot_may_call(api: FakeBotApi) -> None:
    async def scenario(bot: Bot) -> None:
        assert await bot.send_chat_action(5, "typing")
        chat = await bot.get_chat(5)
        assert (chat.id, chat.type) == (5, "private")
        message = await bot.send_message(5, "à effacer")
        assert await bot.delete_message(5, message.message_id)
        with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
            await bot.delete_message(5, message.message_id)
        assert await bot.delete_webhook(drop_pending_updates=True)
        assert (await bot.get_webhook_info()).url == ""
        api.block(5)
        with pytest.raises(Forbidden):
            await bot.send_chat_action(5, "typing")
    with_bot(api, scenario)
    assert api.deleted == [(5, 1)]


def test_wait_for_from_another_thread(api: FakeBotApi) -> None:
    threading.Timer(0.1, send, (api, 5, "plus tard")).start()
    assert api.wait_for(lambda: len(api.sent) == 1, timeout=5)
    assert not api.wait_for(lambda: len(api.sent) == 2, timeout=0.1)


def test_reset_forgets_records_but_keeps_blocks(api: FakeBotApi) -> None:
    api.block(7)
    send(api, 5, "un")
    refusal(api, 5, "<p>", parse_mode="HTML")
    api.reset()
    assert (api.sent, api.violations, api.calls, api.refusals) == ([], [], [], [])
    assert isinstance(refusal(api, 7, "bloqué"), Forbidden)
    assert send(api, 5, "deux").message_id == 2  # the chat's numbering goes on


def test_stop_ends_a_long_poll_and_start_keeps_the_port() -> None:
    api = FakeBotApi().start()
    port = api.port
    answers: list[httpx.Response | Exception] = []

    def poll() -> None:
        try:
            answers.append(httpx.post(f"{api.url}{api.token}/getUpdates",
                                      data={"timeout": "30"}, timeout=10))
        except httpx.HTTPError as error:
            answers.append(error)

    poller = threading.Thread(target=poll)
    poller.start()
    assert api.wait_for(lambda: "getUpdates" in api.methods_called())
    started = time.monotonic()
    api.stop()
    poller.join(5)
    assert time.monotonic() - started < 2 and answers
    api.start()
    try:
        assert api.port == port
        assert raw(api, "getMe").json()["ok"] is True
    finally:
        api.stop()
    assert not api.running


def test_parse_html_matches_the_module_constants() -> None:
    text, entities = parse_html(f"<b>{FLAG}</b><i>x</i>")
    assert text == f"{FLAG}x"
    assert entities == [{"type": "bold", "offset": 0, "length": 4},
                        {"type": "italic", "offset": 4, "length": 1}]
    assert json.dumps(entities)  # plain JSON, as the API answers
