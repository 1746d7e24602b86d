"""A loopback Telegram Bot API server for the tests, reached by the real python-telegram-bot.

Long because it is one server holding Telegram's state (chats, messages, updates, flood
windows), which every Bot API method reads and changes; its HTML parse mode is in
tests/fakes/telegram_html.py.

    with FakeBotApi() as api:                    # or the `fake_telegram` fixture
        bot = telegram.Bot(api.token, base_url=api.url)     # TELEGRAM_API_URL=api.url
        ... await bot.send_message(42, "<b>Salut</b>", parse_mode="HTML") ...
        api.send_command(42, "/start")           # an update for getUpdates
        assert [s.text for s in api.messages_to(42)] == ["Salut"]
        assert api.violations == []              # the bot never sent what Telegram refuses

HTTP/1.1 on 127.0.0.1 (a thread per connection, so a long-polling getUpdates never holds up
sendMessage). Requests arrive at `/bot<token>/<method>`, by GET or POST, with parameters in
the query string or a form (urlencoded or multipart, object values as JSON strings, which is
how PTB sends them) or a JSON body. Answers are Telegram's: `{"ok": true, "result": …}`, or
`{"ok": false, "error_code": N, "description": "…", "parameters": {"retry_after": S}}`, which
PTB turns into BadRequest (400), Forbidden (403), InvalidToken (401/404), Conflict (409),
RetryAfter (any status with `retry_after`) or NetworkError (5xx). Method names are matched
without regard to case, as Telegram does.

What it enforces, as Telegram does (a refused request is not delivered):
- HTML parse mode: the tag subset (b strong i em u ins s strike del span.tg-spoiler
  tg-spoiler a[href] code[class=language-x] pre blockquote[expandable] tg-emoji[emoji-id]), read
  byte by byte the way tdlib reads it, with tdlib's error texts ("Unsupported start tag "p" at
  byte offset 12", "Can't find end tag corresponding to start tag "b"", …). A bare "<" always
  fails, as on Telegram. Entities: &lt; &gt; &amp; &quot; and &#NNN; / &#xHH;, with their ";".
  STRICTER THAN TELEGRAM, on purpose (`strict_html`, True by default): tdlib keeps a "&" that
  starts no entity as text, and takes "&amp" without ";"; the Bot API documentation asks for
  every "&" to be escaped, so the double refuses both. Set `strict_html = False` for tdlib's
  leniency.
- The text as the reader sees it (leading and trailing whitespace trimmed, as Telegram trims
  it) holds 1–4096 UTF-16 code units ("message text is empty", "message is too long"), and
  at most 100 entities. STRICTER THAN TELEGRAM: Telegram silently drops the formatting past
  the 100th entity; the double refuses the message ("too many entities"), so that a bot
  never loses formatting unnoticed.
- Inline keyboards: each button has a text and exactly one action field; callback_data is
  1–64 bytes of UTF-8 ("BUTTON_DATA_INVALID"); urls are http(s)/tg; at most 8 buttons a row
  and 100 in all.
- Flood limits (by the time of arrival): at most `global_rate` accepted sendMessage and
  editMessageText calls in any sliding 1-second window over all chats, and at most
  `group_per_minute` to one group or channel in any sliding 60-second window. Past them:
  429 "Too Many Requests: retry after N", `parameters.retry_after = N`, N the whole seconds
  (rounded up, at least 1) until the window has room. `None` turns a limit off.
- answerCallbackQuery only for a query this double issued (`press_button`), once, within
  `callback_timeout` seconds (15; None: no limit), with a text of at most 200 characters.
- editMessageText / editMessageReplyMarkup only for a message the bot sent in that chat;
  "message is not modified: …" when the text, entities and keyboard are all unchanged; an
  edit without reply_markup removes the keyboard, as on Telegram.
- setMyCommands: 1–32 characters of [a-z0-9_] a command, 1–256 a description, 100 at most.
- getUpdates: `offset` confirms (and forgets) the updates before it (a negative offset keeps
  the last ones), `limit` (1–100), `timeout` (long polling: answers at once when updates are
  queued, else when one is pushed or after `timeout` seconds), `allowed_updates` (kept for
  the next calls, as Telegram keeps it). A second getUpdates ends the first with 409
  Conflict, as does a webhook set with setWebhook.

Chats: a positive id is a private chat, an id from -1000000000000 down (the "-100…" ids) or
an "@username" a channel, another negative id a group. An "@username" gets a channel id of
its own (`add_channel` chooses it), and the name and the id then reach the same chat. Each
chat numbers its messages from 1, the bot's and the users' (`send_command`) alike. A
channel post has `sender_chat` and no `from`, as on Telegram.

Faults the tests inject (each applies to the next requests, until undone):
- `block(chat)`: sends to the chat → 403 "Forbidden: bot was blocked by the user" (for a
  group: "Forbidden: bot was kicked from the group chat"; a channel: "Forbidden: bot is not
  a member of the channel chat"); `deactivate(chat)` → 403 "Forbidden: user is
  deactivated"; `unknown_chat(chat)` → 400 "Bad Request: chat not found"; `unblock(chat)`
  undoes all three.
- `fail_next(method, status, description, count, retry_after)`: the next `count` calls of
  `method` answer that error, with no other effect; `burst_429(count, retry_after)` is
  fail_next("sendMessage", 429, …). Injected 429s count in `injected_429`, the limits' own
  in `rate_limited`; both are in `throttled`.
- `drop_next(method, count, after=False)`: the connection is closed with no answer (PTB:
  NetworkError). With `after=True` the call takes effect first and only the answer is lost,
  as when the network fails on the way back (a message in flight at a crash).
- `latency`: seconds slept before answering sendMessage (the message is delivered first).

Records (copies, safe to read from any thread): `sent`, `edits`, `answers`, `violations`
(content Telegram refuses: bad HTML, lengths, entities, keyboards, bad parameters; never
the faults a test injected), `refusals` (every error answered), `throttled`, `calls` (every
request: time, method, parameters; never the token), `deleted`, `errors` (exceptions inside
the double, answered 500; a test seeing one has found a bug here). `reset()` forgets them;
settings, blocks, chats and their messages, queued updates, pending faults and the flood
windows are kept.

Times (`Sent.at`, `calls`, the flood windows, callback expiry) come from `clock`,
`time.monotonic` by default; pass a `ManualClock` to test the limits without waiting.
Long-polling timeouts and `latency` are real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

import pytest

from tests.fakes.telegram_html import (
    HtmlError,
    checked_url,
    entity_order,
    parse_html,
    trim_text,
    utf16_length,
)

HOST = "127.0.0.1"
MAX_TEXT = 4096  # UTF-16 code units after entity parsing
MAX_ENTITIES = 100
MAX_CALLBACK_DATA = 64  # bytes of UTF-8
MAX_ANSWER_TEXT = 200
MAX_BUTTONS = 100
MAX_ROW = 8
GLOBAL_WINDOW = 1.0
GROUP_WINDOW = 60.0
CHANNEL_ID_MIN = -1_000_000_000_000  # ids at or below this are channels ("-100…")
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup of "
                "the message")
QUERY_TOO_OLD = ("Bad Request: query is too old and response timeout expired or query ID is "
                 "invalid")
STATUS_TEXT = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
               409: "Conflict", 429: "Too Many Requests", 500: "Internal Server Error",
               502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
BUTTON_ACTIONS = ("url", "callback_data", "web_app", "login_url", "switch_inline_query",
                  "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
                  "copy_text", "callback_game", "pay")
ENTITY_TYPES = frozenset({
    "mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number", "bold",
    "italic", "underline", "strikethrough", "spoiler", "blockquote", "expandable_blockquote",
    "code", "pre", "text_link", "text_mention", "custom_emoji"})
UPDATE_TYPES_OFF_BY_DEFAULT = frozenset({"chat_member", "message_reaction",
                                         "message_reaction_count"})

Params = dict[str, Any]
ChatId = int | str


@dataclass(frozen=True)
class Sent:
    """One accepted sendMessage (in `sent`) or editMessageText/ReplyMarkup (in `edits`)."""

    chat_id: ChatId  # as the bot gave it, numeric strings made ints, "@name" in lower case
    message_id: int
    text: str  # as the reader sees it: after HTML parsing and trimming
    html: str  # the text parameter as sent
    parse_mode: str | None
    entities: list[dict[str, Any]]  # MessageEntity dicts, offsets in UTF-16 code units
    reply_markup: dict[str, Any] | None
    link_preview_disabled: bool  # link_preview_options.is_disabled or disable_web_page_preview
    at: float  # clock() when accepted
    disable_notification: bool = False
    reply_to_message_id: int | None = None
    method: str = "sendMessage"


@dataclass(frozen=True)
class Violation:
    """A request refused because of what the bot sent (not because of an injected fault)."""

    method: str
    chat_id: ChatId | None
    reason: str  # the description answered, e.g. "Bad Request: message is too long"
    at: float


@dataclass(frozen=True)
class Refusal:
    """Any request answered with an error, injected or not."""

    method: str
    chat_id: ChatId | None
    status: int
    description: str
    at: float


@dataclass(frozen=True)
class Throttled:
    """A 429 answered: by a flood limit (`scope` "global" or "chat") or injected."""

    method: str
    chat_id: ChatId | None
    retry_after: int
    scope: str  # "global", "chat" or "injected"
    at: float

    @property
    def injected(self) -> bool:
        return self.scope == "injected"


class ManualClock:
    """A clock the test moves: `FakeBotApi(clock=clock)`, then `clock.advance(60)`."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


class ApiError(Exception):
    """An error answer. `violation`: the request itself is at fault (recorded as such)."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None,
                 violation: bool = False, scope: str = "injected") -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after
        self.violation = violation
        self.scope = scope  # for a 429: "global", "chat" (flood limits) or "injected"


def _bad(description: str) -> ApiError:
    """A 400 for content Telegram refuses: recorded in `violations`."""
    return ApiError(400, f"Bad Request: {description}", violation=True)


@dataclass
class _Fault:
    status: int
    description: str
    retry_after: int | None


@dataclass
class _Stored:
    message: dict[str, Any]  # the Message as the API returns it, current version
    by_bot: bool


@dataclass
class _Chat:
    id: int
    type: str  # "private", "group" or "channel"
    username: str | None = None  # lower case, without "@"
    first_name: str | None = None
    next_message_id: int = 1
    messages: dict[int, _Stored] = field(default_factory=dict)
    window: deque[float] = field(default_factory=deque)  # accepted sends (group limit)

    def as_dict(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            chat["first_name"] = self.first_name or "Lectrice"
        elif self.type == "channel":
            chat["title"] = self.username or f"Canal {self.id}"
            if self.username:
                chat["username"] = self.username
        else:
            chat["title"] = f"Groupe {self.id}"
        return chat


@dataclass
class _Query:
    at: float
    answered: bool = False


@dataclass
class _Content:
    text: str
    html: str
    parse_mode: str | None
    entities: list[dict[str, Any]]


@dataclass
class _Markup:
    sent: dict[str, Any] | None  # what the bot sent, parsed
    inline: dict[str, Any] | None  # an inline keyboard: shown in the Message


@dataclass
class _Reply:
    status: int
    payload: dict[str, Any]
    delay: float = 0.0
    drop: bool = False


class FakeBotApi:
    """The Bot API double: see the module's docstring."""

    def __init__(self, *, token: str = "123456:TEST-token", global_rate: float | None = 30,
                 group_per_minute: int | None = 20, bot_username: str = "asie_centrale_bot",
                 bot_name: str = "Nouvelles d'Asie centrale", port: int = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if global_rate is not None and global_rate < 1:
            raise ValueError("global_rate is messages per second, at least 1 (or None)")
        if group_per_minute is not None and group_per_minute < 1:
            raise ValueError("group_per_minute is at least 1 (or None)")
        self.token = token
        head = token.partition(":")[0]
        self.bot_id = int(head) if head.isdigit() else 1
        self.global_rate = global_rate  # accepted sends in any 1 s window (int part)
        self.group_per_minute = group_per_minute  # to one group/channel in any 60 s window
        self.bot_username = bot_username
        self.bot_name = bot_name
        self.host = HOST
        self.port = port  # 0 until the first start() picks a free one; kept afterwards
        self.clock = clock
        self.latency = 0.0  # seconds slept before answering sendMessage
        self.strict_html = True  # refuse "&" starting no entity (tdlib keeps it as text)
        self.callback_timeout: float | None = 15.0  # answerCallbackQuery within this
        self.lock = threading.RLock()
        self._changed = threading.Condition(self.lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._connections: set[socket.socket] = set()
        # settings and state
        self._chats: dict[int, _Chat] = {}
        self._names: dict[str, int] = {}  # channel username (lower) → id
        self._next_channel = 1
        self._blocked: dict[ChatId, str] = {}  # normalised chat → "blocked" | "deactivated"
        self._unknown: set[ChatId] = set()
        self._faults: dict[str, deque[_Fault]] = {}
        self._drops: dict[str, deque[bool]] = {}  # method → [after?]
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1000
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._webhook = ""
        self._queries: dict[str, _Query] = {}
        self._next_query = 1
        self._commands: dict[tuple[str | None, str | None], list[dict[str, str]]] = {}
        self._settings: dict[tuple[str, Any], Any] = {}
        self._global_window: deque[float] = deque()
        # records
        self._sent: list[Sent] = []
        self._edits: list[Sent] = []
        self._answers: list[dict[str, Any]] = []
        self._violations: list[Violation] = []
        self._refusals: list[Refusal] = []
        self._throttled: list[Throttled] = []
        self._calls: list[tuple[float, str, Params]] = []
        self._deleted: list[tuple[ChatId, int]] = []
        self._errors: list[str] = []
        self._methods: dict[str, tuple[str, Callable[[Params], Any]]] = {
            name.lower(): (name, handler) for name, handler in {
                "getMe": self._get_me,
                "logOut": self._true,
                "close": self._true,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "answerCallbackQuery": self._answer_callback_query,
                "sendChatAction": self._send_chat_action,
                "getChat": self._get_chat,
                "setMyCommands": self._set_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "getMyCommands": self._get_my_commands,
                "setMyDescription": self._setting("description"),
                "getMyDescription": self._getting("description"),
                "setMyShortDescription": self._setting("short_description"),
                "getMyShortDescription": self._getting("short_description"),
                "setMyName": self._setting("name"),
                "getMyName": self._getting("name"),
                "setChatMenuButton": self._set_menu_button,
                "getChatMenuButton": self._get_menu_button,
            }.items()}

    # -- life ------------------------------------------------------------------------------

    def start(self) -> FakeBotApi:
        """Listen (again) on `port`; a no-op when running."""
        if self._server is None:
            server = _Server(self, (self.host, self.port))
            self.port = server.server_address[1]
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                                      name=f"fake-telegram-{self.port}", daemon=True)
            thread.start()
            self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop listening, end long polls, close every open connection; a no-op when stopped."""
        server, self._server = self._server, None
        thread, self._thread = self._thread, None
        if server is None:
            return
        server.shutdown()
        with self.lock:
            self._stopping = True
            self._changed.notify_all()
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()  # joins the connections' threads
        if thread is not None:
            thread.join()
        with self.lock:
            self._stopping = False

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The value for TELEGRAM_API_URL (PTB's base_url): http://127.0.0.1:PORT/bot"""
        assert self.port, "start the server once before asking for its url"
        return f"http://{self.host}:{self.port}/bot"

    @property
    def bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.bot_name,
                "username": self.bot_username}

    # -- what the test feeds in ------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates; gives it the next update_id when it has none."""
        update = dict(update)
        with self.lock:
            if "update_id" not in update:
                update["update_id"] = self._next_update_id
            self._next_update_id = max(self._next_update_id, int(update["update_id"])) + 1
            self._updates.append(update)
            self._changed.notify_all()
        return update

    def send_command(self, chat_id: int, text: str, *, user_id: int | None = None,
                     language_code: str | None = "fr", first_name: str = "Lectrice"
                     ) -> dict[str, Any]:
        """Queue a message from a user (a private chat for a positive chat_id); a leading
        "/cmd" or "/cmd@bot" gets its bot_command entity. Returns the update."""
        with self.lock:
            chat = self._chat(chat_id)
            if chat.type == "private" and chat.first_name is None:
                chat.first_name = first_name
            user = self._user(user_id if user_id is not None else
                              (chat.id if chat.type == "private" else 1),
                              language_code, first_name)
            message: dict[str, Any] = {"message_id": self._next_id(chat),
                                       "from": user, "chat": chat.as_dict(),
                                       "date": int(time.time()), "text": text}
            command = re.match(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{1,64})?(?![^\s])", text)
            if command:
                message["entities"] = [{"type": "bot_command", "offset": 0,
                                        "length": utf16_length(command.group())}]
            chat.messages[message["message_id"]] = _Stored(message, by_bot=False)
            return self.push_update({"message": message})

    def press_button(self, chat_id: int, message_id: int, data: str, *,
                     user_id: int | None = None, language_code: str | None = "fr"
                     ) -> dict[str, Any]:
        """Queue a callback_query, as when a user taps a button carrying `data` under the
        message `message_id`. For a message the double does not know (a stale button), the
        query carries an inaccessible message ({chat, message_id, date: 0}), as Telegram
        sends for old ones. The data is not checked against the message's keyboard, so a
        forged or outdated tap can be simulated. Returns the update."""
        with self.lock:
            chat = self._chat(chat_id)
            stored = chat.messages.get(message_id)
            message = _copy(stored.message) if stored is not None else \
                {"chat": chat.as_dict(), "message_id": message_id, "date": 0}
            query_id = str(4_200_000_000_000_000_000 + self._next_query)
            self._next_query += 1
            self._queries[query_id] = _Query(self.clock())
            user = self._user(user_id if user_id is not None else
                              (chat.id if chat.type == "private" else 1),
                              language_code, chat.first_name or "Lectrice")
            query = {"id": query_id, "from": user, "message": message,
                     "chat_instance": str(abs(chat.id) * 7919 % 10**12), "data": data}
            return self.push_update({"callback_query": query})

    def add_channel(self, username: str, chat_id: int | None = None) -> int:
        """Make "@username" a channel with that id (one is chosen when None); returns it."""
        name = username.removeprefix("@").lower()
        with self.lock:
            if chat_id is None:
                if name in self._names:
                    return self._names[name]
                chat_id = CHANNEL_ID_MIN - 1_000_000_000 - self._next_channel
                self._next_channel += 1
            chat = self._chats.get(chat_id) or _Chat(chat_id, "channel")
            chat.type = "channel"
            chat.username = name
            self._chats[chat_id] = chat
            self._names[name] = chat_id
            return chat_id

    # -- faults ----------------------------------------------------------------------------

    def block(self, chat_id: ChatId) -> None:
        """Sends to this chat → 403 (the user blocked the bot, or it left the group)."""
        with self.lock:
            self._blocked[_key(chat_id)] = "blocked"

    def deactivate(self, chat_id: ChatId) -> None:
        """Sends to this chat → 403 "Forbidden: user is deactivated"."""
        with self.lock:
            self._blocked[_key(chat_id)] = "deactivated"

    def unknown_chat(self, chat_id: ChatId) -> None:
        """Sends to this chat → 400 "Bad Request: chat not found"."""
        with self.lock:
            self._unknown.add(_key(chat_id))

    def unblock(self, chat_id: ChatId) -> None:
        """Undo block, deactivate and unknown_chat for this chat."""
        with self.lock:
            self._blocked.pop(_key(chat_id), None)
            self._unknown.discard(_key(chat_id))

    def fail_next(self, method: str, status: int, description: str | None = None,
                  count: int = 1, retry_after: int | None = None) -> None:
        """The next `count` calls of `method` answer this error and do nothing else. The
        description defaults to the status's ("Bad Gateway", "Too Many Requests: retry
        after N"); a 429 without retry_after gets retry_after 1, as Telegram always sends it."""
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = STATUS_TEXT.get(status, f"Error {status}")
            if retry_after is not None:
                description += f": retry after {retry_after}"
        with self.lock:
            queue = self._faults.setdefault(method.lower(), deque())
            queue.extend(_Fault(status, description, retry_after) for _ in range(count))

    def burst_429(self, count: int, retry_after: int = 1) -> None:
        """The next `count` sendMessage calls answer 429 with this retry_after."""
        self.fail_next("sendMessage", 429, None, count, retry_after)

    def drop_next(self, method: str, count: int = 1, *, after: bool = False) -> None:
        """The next `count` calls of `method` get their connection closed without an answer;
        with `after`, once the call has taken effect (delivered, but the answer is lost)."""
        with self.lock:
            self._drops.setdefault(method.lower(), deque()).extend([after] * count)

    # -- what it saw -----------------------------------------------------------------------

    @property
    def sent(self) -> list[Sent]:
        """A copy of the accepted sendMessage calls, in order."""
        with self.lock:
            return list(self._sent)

    def messages_to(self, chat_id: ChatId) -> list[Sent]:
        """The accepted sendMessage calls to this chat ("@name" and its id alike)."""
        with self.lock:
            same = self._aliases(chat_id)
            return [s for s in self._sent if _key(s.chat_id) in same]

    @property
    def edits(self) -> list[Sent]:
        """A copy of the accepted editMessageText / editMessageReplyMarkup calls."""
        with self.lock:
            return list(self._edits)

    @property
    def answers(self) -> list[dict[str, Any]]:
        """The accepted answerCallbackQuery calls: callback_query_id, text, show_alert, url."""
        with self.lock:
            return [dict(a) for a in self._answers]

    @property
    def commands(self) -> dict[tuple[str | None, str | None], list[dict[str, str]]]:
        """(language_code, scope) → the commands set. None for no language; the scope as
        compact JSON with sorted keys ('{"type":"all_private_chats"}'), None for default."""
        with self.lock:
            return {key: [dict(c) for c in value] for key, value in self._commands.items()}

    @property
    def violations(self) -> list[Violation]:
        with self.lock:
            return list(self._violations)

    @property
    def refusals(self) -> list[Refusal]:
        with self.lock:
            return list(self._refusals)

    @property
    def throttled(self) -> list[Throttled]:
        """Every 429 answered, injected or caused by a limit, in order."""
        with self.lock:
            return list(self._throttled)

    @property
    def rate_limited(self) -> int:
        """How many 429s the flood limits caused."""
        with self.lock:
            return sum(1 for t in self._throttled if not t.injected)

    @property
    def injected_429(self) -> int:
        """How many 429s were answered because a test asked (fail_next, burst_429)."""
        with self.lock:
            return sum(1 for t in self._throttled if t.injected)

    @property
    def calls(self) -> list[tuple[float, str, Params]]:
        """Every request: (clock() on arrival, method, parameters). The token is not kept."""
        with self.lock:
            return [(at, method, dict(params)) for at, method, params in self._calls]

    def methods_called(self) -> list[str]:
        return [method for _, method, _ in self.calls]

    @property
    def deleted(self) -> list[tuple[ChatId, int]]:
        with self.lock:
            return list(self._deleted)

    @property
    def errors(self) -> list[str]:
        """Tracebacks of exceptions inside the double (each answered 500)."""
        with self.lock:
            return list(self._errors)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """The updates not yet confirmed by a getUpdates offset."""
        with self.lock:
            return [dict(u) for u in self._updates]

    def message(self, chat_id: ChatId, message_id: int) -> dict[str, Any] | None:
        """The current version of a message in a chat (as the API returns it), or None."""
        with self.lock:
            chat = self._find_chat(chat_id)
            stored = chat.messages.get(message_id) if chat is not None else None
            return _copy(stored.message) if stored is not None else None

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until predicate() is true (re-checked at every request); False on timeout.
        Not from an event loop running the bot: use `until` there."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.05))
            return True

    async def until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """`wait_for` for a coroutine: lets the event loop run while waiting."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    def reset(self) -> None:
        """Forget the records (settings, blocks, chats, updates, faults, windows kept)."""
        with self.lock:
            for record in (self._sent, self._edits, self._answers, self._violations,
                           self._refusals, self._throttled, self._calls, self._deleted,
                           self._errors):
                record.clear()

    # -- one request (runs in a connection's thread) ---------------------------------------

    def _handle(self, method_asked: str, params: Params) -> _Reply:
        known = self._methods.get(method_asked.lower())
        method = known[0] if known else method_asked
        with self.lock:
            at = self.clock()
            self._calls.append((at, method, dict(params)))
            self._changed.notify_all()
            if known is None:
                return _Reply(404, _error(404, "Not Found"))
            drops = self._drops.get(method.lower())
            drop_after = drops.popleft() if drops else None
            faults = self._faults.get(method.lower())
            fault = faults.popleft() if faults and drop_after is None else None
        if drop_after is False:
            return _Reply(0, {}, drop=True)
        if fault is not None:
            error = ApiError(fault.status, fault.description, retry_after=fault.retry_after)
            return self._refuse(method, params, error, injected=True)
        try:
            reply = _Reply(200, {"ok": True, "result": known[1](params)})
        except ApiError as error:
            reply = self._refuse(method, params, error)
        except Exception:
            with self.lock:
                self._errors.append(traceback.format_exc())
                self._changed.notify_all()
            reply = _Reply(500, _error(500, "Internal Server Error: the test double failed"))
        reply.delay = self.latency if method == "sendMessage" else 0.0
        reply.drop = bool(drop_after)  # drop_next(after=True): done, but the answer is lost
        return reply

    def _refuse(self, method: str, params: Params, error: ApiError, *,
                injected: bool = False) -> _Reply:
        chat_id = _key(params["chat_id"]) if params.get("chat_id") not in (None, "") else None
        with self.lock:
            at = self.clock()
            self._refusals.append(Refusal(method, chat_id, error.status, error.description, at))
            if error.violation:
                self._violations.append(Violation(method, chat_id, error.description, at))
            if error.status == 429:
                scope = "injected" if injected else error.scope
                self._throttled.append(Throttled(method, chat_id, error.retry_after or 0, scope,
                                                 at))
            self._changed.notify_all()
        payload = _error(error.status, error.description)
        if error.retry_after is not None:
            payload["parameters"] = {"retry_after": error.retry_after}
        return _Reply(error.status, payload)

    # -- chats -----------------------------------------------------------------------------

    def _chat(self, value: Any) -> _Chat:
        """The chat a chat_id names, made on first use (lock held)."""
        key = _key(value) if value is not None else ""
        if key == "":
            raise _bad("chat_id is empty")
        if isinstance(key, str):
            if not re.fullmatch(r"@[a-z0-9_]{4,32}", key):
                raise ApiError(400, "Bad Request: chat not found")
            chat_id = self.add_channel(key)
        elif key == 0:
            raise ApiError(400, "Bad Request: chat not found")
        else:
            chat_id = key
        chat = self._chats.get(chat_id)
        if chat is None:
            kind = "private" if chat_id > 0 else "channel" if chat_id <= CHANNEL_ID_MIN \
                else "group"
            chat = self._chats[chat_id] = _Chat(chat_id, kind)
        if self._aliases(chat.id) & self._unknown:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _find_chat(self, value: ChatId) -> _Chat | None:
        key = _key(value)
        if isinstance(key, str):
            found = self._names.get(key[1:])
            return self._chats.get(found) if found is not None else None
        return self._chats.get(key)

    def _aliases(self, value: ChatId) -> set[ChatId]:
        """The keys naming the same chat: its id and, for a channel, "@name"."""
        key = _key(value)
        chat = self._find_chat(key)
        names: set[ChatId] = {key}
        if chat is not None:
            names.add(chat.id)
            if chat.username:
                names.add(f"@{chat.username}")
        return names

    def _reachable(self, chat: _Chat) -> None:
        state = next((self._blocked[k] for k in self._aliases(chat.id) if k in self._blocked),
                     None)
        if state == "deactivated":
            raise ApiError(403, "Forbidden: user is deactivated")
        if state == "blocked":
            raise ApiError(403, {
                "private": "Forbidden: bot was blocked by the user",
                "group": "Forbidden: bot was kicked from the group chat",
                "channel": "Forbidden: bot is not a member of the channel chat",
            }[chat.type])

    def _next_id(self, chat: _Chat) -> int:
        number = chat.next_message_id
        chat.next_message_id += 1
        return number

    def _user(self, user_id: int, language_code: str | None, first_name: str) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            user["language_code"] = language_code
        return user

    def _admit(self, method: str, chat: _Chat) -> float:
        """The time of an accepted send, or a 429 when a flood limit is reached (lock held)."""
        now = self.clock()
        waits: list[tuple[float, str]] = []
        window = self._global_window
        while window and window[0] <= now - GLOBAL_WINDOW:
            window.popleft()
        if self.global_rate is not None and len(window) >= int(self.global_rate):
            waits.append((window[len(window) - int(self.global_rate)] + GLOBAL_WINDOW - now,
                          "global"))
        limited = chat.type != "private" and self.group_per_minute is not None
        while chat.window and chat.window[0] <= now - GROUP_WINDOW:
            chat.window.popleft()
        if limited and self.group_per_minute is not None \
                and len(chat.window) >= self.group_per_minute:
            waits.append((chat.window[len(chat.window) - self.group_per_minute]
                          + GROUP_WINDOW - now, "chat"))
        if waits:
            wait, scope = max(waits)
            seconds = max(1, math.ceil(round(wait, 6)))
            raise ApiError(429, f"Too Many Requests: retry after {seconds}",
                           retry_after=seconds, scope=scope)
        window.append(now)
        chat.window.append(now)
        return now

    # -- the methods -----------------------------------------------------------------------

    def _true(self, params: Params) -> bool:
        return True

    def _get_me(self, params: Params) -> dict[str, Any]:
        return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False,
                "has_main_web_app": False}

    def _get_updates(self, params: Params) -> list[dict[str, Any]]:
        offset = _int(params, "offset")
        limit = min(max(_int(params, "limit") or 100, 1), 100)
        timeout = max(_number(params, "timeout") or 0.0, 0.0)
        allowed = _json(params, "allowed_updates")
        if allowed is not None and not (isinstance(allowed, list)
                                        and all(isinstance(a, str) for a in allowed)):
            raise _bad("can't parse allowed_updates JSON array")
        deadline = time.monotonic() + timeout
        with self.lock:
            if self._webhook:
                raise ApiError(409, "Conflict: can't use getUpdates method while webhook is "
                                    "active; use deleteWebhook to delete the webhook first")
            self._poll_generation += 1
            generation = self._poll_generation
            self._changed.notify_all()  # ends an older long poll with 409
            if allowed is not None:
                self._allowed_updates = list(allowed)
            if offset is not None and offset < 0:
                self._updates = self._updates[offset:]
            elif offset is not None:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while True:
                if self._poll_generation != generation:
                    raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                                        "make sure that only one bot instance is running")
                self._updates = [u for u in self._updates if self._wanted(u)]
                if self._updates or self._stopping:
                    return [_copy(u) for u in self._updates[:limit]]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._changed.wait(remaining)

    def _wanted(self, update: dict[str, Any]) -> bool:
        kind = next((k for k in update if k != "update_id"), "")
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in UPDATE_TYPES_OFF_BY_DEFAULT

    def _set_webhook(self, params: Params) -> bool:
        url = str(params.get("url") or "")
        if url and not url.startswith("https://"):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        with self.lock:
            self._webhook = url
            if _bool(params.get("drop_pending_updates")):
                self._updates.clear()
        return True

    def _delete_webhook(self, params: Params) -> bool:
        with self.lock:
            self._webhook = ""
            if _bool(params.get("drop_pending_updates")):
                self._updates.clear()
            self._changed.notify_all()
        return True

    def _get_webhook_info(self, params: Params) -> dict[str, Any]:
        with self.lock:
            return {"url": self._webhook, "has_custom_certificate": False,
                    "pending_update_count": len(self._updates)}

    def _send_message(self, params: Params) -> dict[str, Any]:
        content = self._content(params)
        markup = _reply_markup(params)
        preview_disabled = _preview_disabled(params)
        reply = _reply_parameters(params)
        with self.lock:
            chat = self._chat(params.get("chat_id"))
            self._reachable(chat)
            replied: _Stored | None = None
            if reply is not None:
                replied = chat.messages.get(reply[0])
                if replied is None and not reply[1]:
                    raise ApiError(400, "Bad Request: message to be replied not found")
            at = self._admit("sendMessage", chat)
            message = self._bot_message(chat, content, markup)
            if replied is not None:
                message["reply_to_message"] = replied.message
            chat.messages[message["message_id"]] = _Stored(message, by_bot=True)
            self._sent.append(Sent(
                chat_id=_key(params["chat_id"]), message_id=message["message_id"],
                text=content.text, html=content.html, parse_mode=content.parse_mode,
                entities=content.entities, reply_markup=markup.sent,
                link_preview_disabled=preview_disabled, at=at,
                disable_notification=_bool(params.get("disable_notification")),
                reply_to_message_id=reply[0] if replied is not None and reply else None))
            self._changed.notify_all()
            return _copy(message)

    def _bot_message(self, chat: _Chat, content: _Content, markup: _Markup) -> dict[str, Any]:
        message: dict[str, Any] = {"message_id": self._next_id(chat), "date": int(time.time()),
                                   "chat": chat.as_dict(), "text": content.text}
        if chat.type == "channel":
            message["sender_chat"] = chat.as_dict()
        else:
            message["from"] = self.bot_user
        if content.entities:
            message["entities"] = content.entities
        if markup.inline is not None:
            message["reply_markup"] = markup.inline
        return message

    def _editable(self, params: Params) -> tuple[_Chat, _Stored]:
        """The chat and message an edit names (lock held)."""
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        message_id = _int(params, "message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        chat = self._chat(params.get("chat_id"))
        self._reachable(chat)
        stored = chat.messages.get(message_id)
        if stored is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not stored.by_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat, stored

    def _edit_message_text(self, params: Params) -> dict[str, Any]:
        content = self._content(params)
        markup = _reply_markup(params)
        preview_disabled = _preview_disabled(params)
        if markup.sent is not None and markup.inline is None:
            raise _bad("only inline keyboards can be edited")
        with self.lock:
            chat, stored = self._editable(params)
            old = stored.message
            if (old.get("text"), old.get("entities") or [], old.get("reply_markup")) == \
                    (content.text, content.entities, markup.inline):
                raise ApiError(400, NOT_MODIFIED)
            at = self._admit("editMessageText", chat)
            new = {k: v for k, v in old.items() if k not in {"entities", "reply_markup"}}
            new["text"] = content.text
            new["edit_date"] = int(time.time())
            if content.entities:
                new["entities"] = content.entities
            if markup.inline is not None:
                new["reply_markup"] = markup.inline
            stored.message = new
            self._edits.append(Sent(
                chat_id=_key(params["chat_id"]), message_id=new["message_id"],
                text=content.text, html=content.html, parse_mode=content.parse_mode,
                entities=content.entities, reply_markup=markup.sent,
                link_preview_disabled=preview_disabled, at=at, method="editMessageText"))
            self._changed.notify_all()
            return _copy(new)

    def _edit_message_reply_markup(self, params: Params) -> dict[str, Any]:
        markup = _reply_markup(params)
        if markup.sent is not None and markup.inline is None:
            raise _bad("only inline keyboards can be edited")
        with self.lock:
            chat, stored = self._editable(params)
            old = stored.message
            if old.get("reply_markup") == markup.inline:
                raise ApiError(400, NOT_MODIFIED)
            at = self._admit("editMessageReplyMarkup", chat)
            new = {k: v for k, v in old.items() if k != "reply_markup"}
            new["edit_date"] = int(time.time())
            if markup.inline is not None:
                new["reply_markup"] = markup.inline
            stored.message = new
            self._edits.append(Sent(
                chat_id=_key(params["chat_id"]), message_id=new["message_id"],
                text=new.get("text", ""), html=new.get("text", ""), parse_mode=None,
                entities=list(new.get("entities", [])), reply_markup=markup.sent,
                link_preview_disabled=False, at=at, method="editMessageReplyMarkup"))
            self._changed.notify_all()
            return _copy(new)

    def _delete_message(self, params: Params) -> bool:
        message_id = _int(params, "message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        with self.lock:
            chat = self._chat(params.get("chat_id"))
            if chat.messages.pop(message_id, None) is None:
                raise ApiError(400, "Bad Request: message to delete not found")
            self._deleted.append((_key(params["chat_id"]), message_id))
            self._changed.notify_all()
        return True

    def _answer_callback_query(self, params: Params) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        text = params.get("text")
        text = None if text is None else str(text)
        if text is not None and utf16_length(text) > MAX_ANSWER_TEXT:
            raise _bad("MESSAGE_TOO_LONG")
        with self.lock:
            query = self._queries.get(query_id)
            too_late = query is not None and self.callback_timeout is not None \
                and self.clock() - query.at > self.callback_timeout
            if query is None or query.answered or too_late:
                raise ApiError(400, QUERY_TOO_OLD)
            query.answered = True
            self._answers.append({"callback_query_id": query_id, "text": text,
                                  "show_alert": _bool(params.get("show_alert")),
                                  "url": params.get("url")})
            self._changed.notify_all()
        return True

    def _send_chat_action(self, params: Params) -> bool:
        if not params.get("action"):
            raise _bad("action is empty")
        with self.lock:
            self._reachable(self._chat(params.get("chat_id")))
        return True

    def _get_chat(self, params: Params) -> dict[str, Any]:
        with self.lock:
            chat = self._chat(params.get("chat_id")).as_dict()
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                        "gifts_from_channels": False,
                                        "unique_gifts": False, "premium_subscription": False}}

    def _commands_key(self, params: Params) -> tuple[str | None, str | None]:
        scope = _json(params, "scope")
        if scope is not None and not (isinstance(scope, dict) and isinstance(
                scope.get("type"), str)):
            raise _bad("can't parse BotCommandScope JSON object")
        scope_key = None if scope is None or scope == {"type": "default"} else \
            json.dumps(scope, sort_keys=True, separators=(",", ":"))
        language = params.get("language_code") or None
        if language is not None and not re.fullmatch(r"[a-z]{2}", str(language)):
            raise _bad("invalid language code specified")
        return language, scope_key

    def _set_my_commands(self, params: Params) -> bool:
        commands = _json(params, "commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON array")
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        checked: list[dict[str, str]] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("BotCommand must be an Object")
            name, description = command.get("command"), command.get("description")
            if not isinstance(name, str) or not re.fullmatch(r"/?[a-z0-9_]{1,32}", name):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not description.strip() \
                    or len(description) > 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            checked.append({"command": name.removeprefix("/"), "description": description})
        key = self._commands_key(params)
        with self.lock:
            if checked:
                self._commands[key] = checked
            else:
                self._commands.pop(key, None)
            self._changed.notify_all()
        return True

    def _delete_my_commands(self, params: Params) -> bool:
        key = self._commands_key(params)
        with self.lock:
            self._commands.pop(key, None)
            self._changed.notify_all()
        return True

    def _get_my_commands(self, params: Params) -> list[dict[str, str]]:
        key = self._commands_key(params)
        with self.lock:
            return [dict(c) for c in self._commands.get(key, [])]

    def _setting(self, name: str) -> Callable[[Params], bool]:
        def setter(params: Params) -> bool:
            with self.lock:
                self._settings[(name, params.get("language_code") or None)] = \
                    str(params.get(name) or "")
            return True
        return setter

    def _getting(self, name: str) -> Callable[[Params], dict[str, str]]:
        def getter(params: Params) -> dict[str, str]:
            with self.lock:
                value = self._settings.get((name, params.get("language_code") or None), "")
            return {name: value}
        return getter

    def _set_menu_button(self, params: Params) -> bool:
        button = _json(params, "menu_button")
        with self.lock:
            self._settings[("menu_button", params.get("chat_id"))] = button
        return True

    def _get_menu_button(self, params: Params) -> dict[str, Any]:
        with self.lock:
            button = self._settings.get(("menu_button", params.get("chat_id")))
        return button if isinstance(button, dict) else {"type": "commands"}

    # -- content ---------------------------------------------------------------------------

    def _content(self, params: Params) -> _Content:
        raw = params.get("text")
        html = "" if raw is None else raw if isinstance(raw, str) else json.dumps(raw)
        try:
            html.encode("utf-8")
        except UnicodeEncodeError:
            raise _bad("strings must be encoded in UTF-8") from None
        mode_given = params.get("parse_mode")
        mode = str(mode_given) if mode_given not in (None, "") else None
        if mode is not None and mode.lower() == "html":
            try:
                text, entities = parse_html(html, strict=self.strict_html)
            except HtmlError as error:
                raise _bad(f"can't parse entities: {error}") from None
        elif mode is not None and mode.lower() in {"markdown", "markdownv2"}:
            raise _bad(f"parse_mode {mode} is not implemented by the test double; use HTML")
        elif mode is not None:
            raise _bad(f"unsupported parse_mode {mode}")
        else:
            text, entities = html, _given_entities(_json(params, "entities"), html)
        text, entities = trim_text(text, entities)
        if not text:
            raise _bad("message text is empty")
        if utf16_length(text) > MAX_TEXT:
            raise _bad("message is too long")
        if len(entities) > MAX_ENTITIES:
            raise _bad(f"too many entities: {len(entities)} (at most {MAX_ENTITIES} a "
                       "message; Telegram would drop the formatting past the 100th)")
        return _Content(text, html, mode, entities)


# -- HTTP ----------------------------------------------------------------------------------

class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeBotApi, address: tuple[str, int]) -> None:
        self.fake = fake
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # the client went away (e.g. a cancelled long poll), or stop() cut it
        with self.fake.lock:
            self.fake._errors.append(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as PTB's httpx pool expects
    timeout = 30  # an idle connection is closed after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):  # no Nagle delay between headers and body
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        fake = self.server.fake
        with fake.lock:
            stopping = fake._stopping
            if not stopping:
                fake._connections.add(self.connection)
        if stopping:
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        with self.server.fake.lock:
            self.server.fake._connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        body = self._body()
        path, _, query = self.path.partition("?")
        matched = re.fullmatch(r"/bot([^/]*)/([A-Za-z0-9_]*)", path)
        if matched is None:
            self._answer(_Reply(404, _error(404, "Not Found")))
            return
        token, method = matched.groups()
        fake = self.server.fake
        if token != fake.token:
            with fake.lock:  # recorded without the token it came with
                fake._refusals.append(Refusal(method, None, 401, "Unauthorized", fake.clock()))
                fake._changed.notify_all()
            self._answer(_Reply(401, _error(401, "Unauthorized")))
            return
        try:
            params = _params(query, body, self.headers.get("Content-Type", ""))
        except ValueError as error:
            self._answer(_Reply(400, _error(400, f"Bad Request: {error}")))
            return
        self._answer(fake._handle(method, params))

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, reply: _Reply) -> None:
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply.delay:
            time.sleep(reply.delay)
        data = json.dumps(reply.payload, ensure_ascii=False).encode()
        with contextlib.suppress(OSError):
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)


def _params(query: str, body: bytes, content_type: str) -> Params:
    """The request's parameters: query string, then the body (form, multipart or JSON)."""
    params: Params = dict(parse_qsl(query, keep_blank_values=True))
    kind = content_type.split(";")[0].strip().lower()
    if not body:
        return params
    if kind == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError:
            raise ValueError("can't parse JSON encoded request body") from None
        if not isinstance(decoded, dict):
            raise ValueError("JSON body must be an object")
        params.update(decoded)
    elif kind == "multipart/form-data":
        message = BytesParser(policy=policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if not isinstance(name, str) or not isinstance(payload, bytes):
                continue
            filename = part.get_filename()
            params[name] = f"<file {filename}: {len(payload)} bytes>" if filename \
                else payload.decode("utf-8", "surrogateescape")
    else:
        params.update(parse_qsl(body.decode("utf-8", "surrogateescape"),
                                keep_blank_values=True))
    return params


def _copy(value: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a JSON object, so that no caller shares the double's state."""
    copied: dict[str, Any] = json.loads(json.dumps(value))
    return copied


def _error(status: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": status, "description": description}


def _key(value: Any) -> ChatId:
    """A chat_id as the double compares them: ints, numeric strings made ints, "@name" in
    lower case."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text.lower() if text.startswith("@") else text


def _int(params: Params, name: str) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not re.fullmatch(r"-?\d+", str(value).strip()):
        raise _bad(f"field \"{name}\" must be of type Integer")
    return int(str(value).strip())


def _number(params: Params, name: str) -> float | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _bad(f"field \"{name}\" must be a Number") from None


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1"}
    return bool(value)


def _json(params: Params, name: str) -> Any:
    """A parameter that holds an object: a JSON string in a form, itself in a JSON body."""
    value = params.get(name)
    if not isinstance(value, str):
        return value
    if value == "":
        return None
    try:
        return json.loads(value)
    except ValueError:
        raise _bad(f"can't parse {name} JSON object") from None


def _preview_disabled(params: Params) -> bool:
    options = _json(params, "link_preview_options")
    if options is not None and not isinstance(options, dict):
        raise _bad("can't parse link preview options JSON object")
    return bool(options and options.get("is_disabled")) or \
        _bool(params.get("disable_web_page_preview"))


def _reply_parameters(params: Params) -> tuple[int, bool] | None:
    """(message_id replied to, allow_sending_without_reply), or None."""
    reply = _json(params, "reply_parameters")
    if reply is not None:
        if not isinstance(reply, dict) or not isinstance(reply.get("message_id"), int):
            raise _bad("can't parse reply parameters JSON object")
        return reply["message_id"], bool(reply.get("allow_sending_without_reply"))
    message_id = _int(params, "reply_to_message_id")
    if message_id is None:
        return None
    return message_id, _bool(params.get("allow_sending_without_reply"))


def _reply_markup(params: Params) -> _Markup:
    markup = _json(params, "reply_markup")
    if markup is None:
        return _Markup(None, None)
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        if {"keyboard", "remove_keyboard", "force_reply"} & markup.keys():
            return _Markup(markup, None)  # reply keyboards: accepted, not shown in a Message
        raise _bad("can't parse reply keyboard markup JSON object")
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of '
                   "Arrays")
    if sum(len(row) for row in rows) > MAX_BUTTONS or any(len(row) > MAX_ROW for row in rows):
        raise _bad("BUTTONS_TOO_MUCH")
    for row in rows:
        for button in row:
            _check_button(button)
    return _Markup(markup, {"inline_keyboard": rows})


def _check_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise _bad("InlineKeyboardButton must be an Object")
    if not isinstance(button.get("text"), str):
        raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
    if not button["text"].strip():
        raise _bad("BUTTON_TEXT_INVALID")
    actions = [name for name in BUTTON_ACTIONS if button.get(name) is not None]
    if not actions:
        raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the "
                   "inline keyboard")
    if len(actions) > 1:
        raise _bad("can't parse inline keyboard button: exactly one of the optional fields "
                   f"must be used, got {', '.join(actions)}")
    data = button.get("callback_data")
    if data is not None and not (isinstance(data, str)
                                 and 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA):
        raise _bad("BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None and (not isinstance(url, str) or checked_url(url) is None
                            or not url.lower().startswith(("http://", "https://", "tg://"))):
        raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def _given_entities(value: Any, text: str) -> list[dict[str, Any]]:
    """The `entities` parameter of a plain-text message, checked."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad("can't parse entities JSON object")
    length = utf16_length(text)
    entities = []
    for entity in value:
        if not isinstance(entity, dict) or entity.get("type") not in ENTITY_TYPES:
            raise _bad("can't parse MessageEntity: unsupported type")
        offset, size = entity.get("offset"), entity.get("length")
        if not isinstance(offset, int) or not isinstance(size, int) or offset < 0 or size < 0:
            raise _bad("can't parse MessageEntity: offset and length must be Integers >= 0")
        if entity["type"] == "text_link" and not isinstance(entity.get("url"), str):
            raise _bad('can\'t parse MessageEntity: field "url" must be of type String')
        if entity["type"] == "custom_emoji" and not entity.get("custom_emoji_id"):
            raise _bad("can't parse MessageEntity: custom_emoji_id is required")
        size = min(offset + size, length) - offset
        if size > 0:
            entities.append({**entity, "offset": offset, "length": size})
    return sorted(entities, key=entity_order)


@pytest.fixture
def fake_telegram() -> Iterator[FakeBotApi]:
    """A running `FakeBotApi` (default limits), stopped after the test."""
    with FakeBotApi() as api:
        yield api
