"""When the weekly digest goes out, and what `bot run` should do about it now. Pure: the
clock's reading and the store's answers are passed in, so every case is tested without
waiting for a Monday.

A slot is BOT_SEND_AT's weekday and time in BOT_TIMEZONE. A wall time the clocks skip that
day (spring forward) is taken as the same time on the old offset, so it falls an hour later
on the new one; a time that happens twice (autumn) is its first occurrence. Each slot sends
the last week complete before it."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.config import SendAt
from bot.digest import IsoWeek, last_complete_week, parse_week

WEEK = dt.timedelta(days=7)


def slot_on(day: dt.date, send_at: SendAt, tz: ZoneInfo) -> dt.datetime:
    """The slot's instant on a local day (UTC)."""
    return dt.datetime.combine(day, send_at.time, tzinfo=tz).astimezone(dt.UTC)


def last_slot(now: dt.datetime, send_at: SendAt, tz: ZoneInfo) -> dt.datetime:
    """The latest slot at or before `now` (UTC)."""
    local = now.astimezone(tz)
    day = local.date() - dt.timedelta(days=(local.weekday() - send_at.weekday) % 7)
    slot = slot_on(day, send_at, tz)
    return slot if slot <= now else slot_on(day - WEEK, send_at, tz)


def next_slot(now: dt.datetime, send_at: SendAt, tz: ZoneInfo) -> dt.datetime:
    """The first slot after `now` (UTC)."""
    # Counted from the slot's weekday, not from the last slot's local date: a skipped wall
    # time can move a slot to the next day (Samoa skipped a whole Friday in 2011).
    local = now.astimezone(tz)
    day = local.date() - dt.timedelta(days=(local.weekday() - send_at.weekday) % 7)
    return next(slot for slot in (slot_on(day + n * WEEK, send_at, tz) for n in range(3))
                if slot > now)


def week_of_slot(slot: dt.datetime, tz: ZoneInfo) -> IsoWeek:
    """The week a slot sends: the last one complete before it."""
    return last_complete_week(slot, tz)


class Action(enum.StrEnum):
    SEND = "send"  # the slot's week is due: freeze and send it
    RESUME = "resume"  # a send was interrupted: finish it, whatever the time
    STALE = "stale"  # the slot passed longer ago than BOT_CATCHUP: do not send, say why
    WAIT = "wait"  # nothing to do before the next slot


@dataclass(frozen=True, slots=True)
class Plan:
    action: Action
    week: IsoWeek | None
    slot: dt.datetime  # the slot concerned (the last one; the next one when waiting)
    reason: str


def plan(now: dt.datetime, send_at: SendAt, tz: ZoneInfo, catchup: dt.timedelta,
         status: dict[str, str], interrupted: list[str]) -> Plan:
    """What to do now. `status` maps weeks to their digest's state (frozen, sending, sent,
    or a notice already given: empty, stale); `interrupted` lists weeks whose send started
    and did not finish."""
    if interrupted:
        week = parse_week(min(interrupted))
        return Plan(Action.RESUME, week, last_slot(now, send_at, tz),
                    f"the send of {week} was interrupted; finishing it")
    slot = last_slot(now, send_at, tz)
    week = week_of_slot(slot, tz)
    upcoming = next_slot(now, send_at, tz)
    state = status.get(str(week))
    if state in {"sent", "empty", "stale"}:
        return Plan(Action.WAIT, week_of_slot(upcoming, tz), upcoming,
                    f"{week} is done ({state}); next send {describe(upcoming, tz)}")
    late = now - slot
    if late <= catchup:
        return Plan(Action.SEND, week, slot,
                    f"{week} is due since {describe(slot, tz)}" +
                    (f" ({duration(late)} ago, within BOT_CATCHUP)" if late > WAIT_NOTED else ""))
    return Plan(Action.STALE, week, slot,
                f"{week} was due {describe(slot, tz)}, {duration(late)} ago: more than "
                f"BOT_CATCHUP ({duration(catchup)}), so it is not sent now; send it by hand "
                f"with bot send --week {week} if it should still go out")


WAIT_NOTED = dt.timedelta(minutes=1)  # later than this after its slot, a send says how late


def describe(instant: dt.datetime, tz: ZoneInfo) -> str:
    """`Monday 2025-04-07 08:00 Europe/Paris`: for logs and `bot stats`."""
    return f"{instant.astimezone(tz):%A %Y-%m-%d %H:%M} {tz.key}"


def duration(span: dt.timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "",
             f"{minutes} min" if minutes or not (days or hours) else ""]
    return " ".join(p for p in parts if p)
