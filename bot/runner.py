"""The weekly schedule inside `bot run`: `schedule`'s own `Scheduler` triggers a check every
few seconds (and the feed polling); what is due is decided by `bot.timing.plan` with the
clock passed in. One process sends at a time: the one holding the store's `sender` lease,
renewed at each check; another `bot run` on the same store takes over when it runs out or
when its holder is seen dead on this host. The delivery ledger keeps every message to once
whatever happens."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import schedule

from bot.archive import digest_for_week
from bot.config import Settings
from bot.delivery.email import EmailSend
from bot.delivery.ledger import dead_holders, holder_name
from bot.delivery.mail_transport import open_transport
from bot.delivery.weeks import (
    LEASE_TTL,
    SENDER_LEASE,
    begin_send,
    email_job,
    mark_if_sent,
    telegram_job,
)
from bot.digest import IsoWeek, unreviewed
from bot.errors import BotError
from bot.ingest import load
from bot.store import open_store
from bot.timing import (
    Action,
    Plan,
    describe,
    last_slot,
    next_slot,
    plan,
    week_of_slot,
)

if TYPE_CHECKING:
    from bot.delivery.bot_api import Pace  # python-telegram-bot: loaded when Telegram is on

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
Notify = Callable[[str], Awaitable[None]]
LEASE = SENDER_LEASE
CHECK_EVERY = 5  # seconds between two looks at the plan (and lease renewals)


class Runner:
    """The scheduler task: checks the plan, sends what is due, polls the feeds."""

    def __init__(self, settings: Settings, clock: Clock, notify: Notify | None = None,
                 pace: Pace | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.notify = notify
        self.pace = pace  # the Telegram pace the bot's replies use too
        self.holder = holder_name()
        self.scheduler = schedule.Scheduler()  # our own, never the module's default
        self.scheduler.every(CHECK_EVERY).seconds.do(self.spawn, self.check)
        if settings.feeds:
            every = max(int(settings.feed_interval.total_seconds()), 1)
            self.scheduler.every(every).seconds.do(self.spawn, self.poll_feeds)
        self.running: dict[str, asyncio.Task[None]] = {}
        self.senders: list[Any] = []  # the sends under way, to stop on shutdown
        self.stopping = False

    def next_send(self) -> str:
        tz = self.settings.timezone
        upcoming = next_slot(self.clock(), self.settings.send_at, tz)
        return f"{describe(upcoming, tz)} ({week_of_slot(upcoming, tz)})"

    async def run(self, stop: asyncio.Event) -> None:
        """Check at once (a missed or interrupted send starts now), then every few seconds,
        until `stop`; then stop the sends under way and give the lease back."""
        self.spawn(self.check)
        if self.settings.feeds:
            self.spawn(self.poll_feeds)
        try:
            while not stop.is_set():
                self.scheduler.run_pending()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
        finally:
            await self.shutdown()

    def spawn(self, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Start `job` unless it is still running from last time (schedule's jobs are
        plain calls; ours are coroutines)."""
        name = job.__name__
        if self.stopping or (name in self.running and not self.running[name].done()):
            return
        self.running[name] = asyncio.get_running_loop().create_task(self.guarded(job),
                                                                    name=name)

    async def guarded(self, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        try:
            await job()
        except BotError as exc:
            log.error("%s: %s", job.__name__, exc)
        except Exception:  # a bug must not end the service: it answers readers meanwhile
            log.exception("%s failed", job.__name__)

    async def shutdown(self) -> None:
        self.stopping = True
        for sender in self.senders:
            sender.stop.set()
        await asyncio.gather(*self.running.values(), return_exceptions=True)
        with open_store(self.settings.database) as store:
            store.drop_lease(LEASE, self.holder)

    # -- the plan ---------------------------------------------------------------------

    async def check(self) -> None:
        now = self.clock()
        with open_store(self.settings.database) as store:
            held = store.lease_holder(LEASE)
            dead = dead_holders([held[0]]) if held else []
            if not store.take_lease(LEASE, self.holder, now, LEASE_TTL, dead):
                return  # another process sends; this one answers readers
            if dead:
                log.warning("took over sending from %s, which is gone", dead[0])
            if "send" in self.running and not self.running["send"].done():
                return  # the lease is renewed; the send goes on
            tz = self.settings.timezone
            week = week_of_slot(last_slot(now, self.settings.send_at, tz), tz)
            decided = plan(now, self.settings.send_at, tz, self.settings.catchup,
                           store.week_states([str(week)]), store.interrupted_weeks())
        await self.act(decided)

    async def act(self, decided: Plan) -> None:
        if decided.action in {Action.SEND, Action.RESUME} and decided.week is not None:
            log.info("%s", decided.reason)
            week = decided.week
            self.running["send"] = asyncio.get_running_loop().create_task(
                self.guarded(lambda: self.send(week)), name="send")
        elif decided.action is Action.STALE and decided.week is not None:
            week = decided.week
            with open_store(self.settings.database) as store:
                if not any(store.count_articles_by_country(week.monday,
                                                           week.next_monday).values()):
                    # Nothing would have gone out (a new store, a quiet week): no alarm.
                    if store.add_notice(str(week), "empty", self.clock()):
                        log.info("%s had no articles; nothing to send", week)
                    return
                first = store.add_notice(str(week), "stale", self.clock())
            if first:
                log.warning("%s", decided.reason)
                slot = decided.slot.astimezone(self.settings.timezone)
                await self.tell_admins(
                    f"⚠️ La lettre de la semaine {decided.week} n’a pas été envoyée : elle "
                    f"était prévue le {slot:%d/%m/%Y à %H:%M}, il y a plus que BOT_CATCHUP "
                    f"({self.settings.catchup.total_seconds() / 3600:g} h). Pour l’envoyer "
                    f"quand même : bot send "
                    f"--week {decided.week}")

    async def send(self, week: IsoWeek) -> None:
        """Freeze and send one week on every configured channel."""
        settings, now = self.settings, self.clock()
        with open_store(settings.database) as store:
            found = digest_for_week(store, week, now, settings.timezone,
                                    article_link=settings.article_link)
            empty = found.digest.is_empty
            held = [] if empty or found.is_final else unreviewed(found.digest)
            if empty:
                first = store.add_notice(str(week), "empty", now)
            elif held:  # the review gate: looked at again at every check until reviewed
                first = store.add_notice(str(week), "review", now)
            else:
                begin_send(store, settings, week, found.digest, now)
        if empty:
            if first:
                log.warning("%s has no articles: nothing is sent", week)
                await self.tell_admins(f"ℹ️ {week} : aucun article, rien n’a été envoyé.")
            return
        if held:
            if first:
                log.warning("%s is not sent: %d articles need review (%s)", week, len(held),
                            "; ".join(line for _, line in held))
                ids = " ".join(str(i) for i, _ in held)
                await self.tell_admins(
                    f"⚠️ La lettre {week} attend une relecture : "
                    + " ; ".join(line for _, line in held)
                    + f". Corriger l’article (bot articles edit), ou l’accepter tel quel : "
                    f"bot articles approve {ids}. Elle part au contrôle suivant.")
            return
        email = EmailSend(settings.database, str(week), found.digest, email_job(settings, week),
                          open_transport(settings.smtp_url, settings.outbox), self.clock)
        self.senders.append(email)
        jobs: list[Callable[[], Awaitable[Any]]] = [lambda: asyncio.to_thread(email.run)]
        if settings.telegram_bot_token:
            from bot.delivery.telegram import TelegramSend

            telegram = TelegramSend(settings.database, str(week), found.digest,
                                    telegram_job(settings), self.clock, catch_signals=False,
                                    pace=self.pace)
            self.senders.append(telegram)
            jobs.append(telegram.run)
        # One channel after the other, as `bot send --channel all` does: both claim their
        # rows under this process's name, and each gives back, when it ends, every row still
        # held under that name (`release_deliveries`), so a channel ending first would hand
        # the other's messages in flight to a second claim: sent twice.
        outcomes: list[Any] = []
        try:
            for job in jobs:
                if self.stopping:
                    break
                try:
                    outcomes.append(await job())
                except Exception as exc:  # the other channel still goes out
                    outcomes.append(exc)
        finally:
            self.senders.clear()
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                log.error("sending %s: %s", week, outcome)
            else:
                log.info("%s: %s", week, ", ".join(f"{n} {k}" for k, n in
                                                   sorted(outcome.counts.items())) or "nobody")
        mark_if_sent(settings, self.clock, week)

    async def tell_admins(self, text: str) -> None:
        if self.notify is not None:
            await self.notify(text)

    # -- feeds ------------------------------------------------------------------------

    async def poll_feeds(self) -> None:
        await asyncio.to_thread(self.read_feeds)

    def read_feeds(self) -> None:
        """Each of BOT_FEEDS through the feed importer; what is already stored is skipped."""
        for feed in self.settings.feeds:
            if self.stopping:
                return
            now = self.clock()
            try:
                batch = load(feed, "feed", self.settings.timezone,
                             now.astimezone(self.settings.timezone).date())
                with open_store(self.settings.database) as store:
                    result = store.insert_articles(batch.articles(), now)
            except BotError as exc:
                log.warning("feed %s: %s", feed, exc)
                continue
            log.info("feed %s: %d new articles%s", feed, len(result.inserted),
                     f", {len(result.linked)} matched (linked)" if result.linked else "")
