"""The weekly slot and the plan of `bot run` (bot/timing.py), pure: slots across both
daylight-saving changes in Paris and Almaty's change of offset, the week each slot sends,
catch-up, resume, and BOT_SEND_AT in French and English."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.config import SendAt, Settings
from bot.digest import IsoWeek
from bot.errors import ConfigError
from bot.timing import (
    Action,
    describe,
    last_slot,
    next_slot,
    plan,
    slot_on,
    week_of_slot,
)

PARIS = ZoneInfo("Europe/Paris")
ALMATY = ZoneInfo("Asia/Almaty")
UTC = dt.UTC
MONDAY_8 = SendAt(0, dt.time(8, 0))
SUNDAY_0230 = SendAt(6, dt.time(2, 30))
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)


def utc(*fields: int) -> dt.datetime:
    return dt.datetime(*fields, tzinfo=UTC)  # type: ignore[misc]


# -- slots in Europe/Paris --------------------------------------------------------------------


def test_monday_8_in_paris_follows_the_offset_of_each_date() -> None:
    assert slot_on(dt.date(2025, 3, 24), MONDAY_8, PARIS) == utc(2025, 3, 24, 7, 0)  # CET
    assert slot_on(dt.date(2025, 3, 31), MONDAY_8, PARIS) == utc(2025, 3, 31, 6, 0)  # CEST
    assert slot_on(dt.date(2025, 10, 20), MONDAY_8, PARIS) == utc(2025, 10, 20, 6, 0)
    assert slot_on(dt.date(2025, 10, 27), MONDAY_8, PARIS) == utc(2025, 10, 27, 7, 0)


def test_the_slot_after_the_spring_change_is_8_local_not_7() -> None:
    before = utc(2025, 3, 28, 12, 0)  # Friday, CET
    assert last_slot(before, MONDAY_8, PARIS) == utc(2025, 3, 24, 7, 0)
    assert next_slot(before, MONDAY_8, PARIS) == utc(2025, 3, 31, 6, 0)
    # 167 hours apart: the week that holds the change is an hour short
    assert utc(2025, 3, 31, 6, 0) - utc(2025, 3, 24, 7, 0) == 7 * DAY - HOUR
    assert week_of_slot(utc(2025, 3, 31, 6, 0), PARIS) == IsoWeek(2025, 13)
    assert describe(utc(2025, 3, 31, 6, 0), PARIS) == "Monday 2025-03-31 08:00 Europe/Paris"


def test_the_slot_after_the_autumn_change_is_8_local_not_9() -> None:
    before = utc(2025, 10, 24, 12, 0)
    assert next_slot(before, MONDAY_8, PARIS) == utc(2025, 10, 27, 7, 0)
    assert last_slot(utc(2025, 10, 27, 6, 59), MONDAY_8, PARIS) == utc(2025, 10, 20, 6, 0)
    assert last_slot(utc(2025, 10, 27, 7, 0), MONDAY_8, PARIS) == utc(2025, 10, 27, 7, 0)
    assert week_of_slot(utc(2025, 10, 27, 7, 0), PARIS) == IsoWeek(2025, 43)


def test_a_slot_time_the_spring_change_skips_falls_an_hour_later() -> None:
    # 2025-03-30: 02:00 CET → 03:00 CEST, so 02:30 never shows on a Paris clock.
    slot = slot_on(dt.date(2025, 3, 30), SUNDAY_0230, PARIS)
    assert slot == utc(2025, 3, 30, 1, 30)
    assert slot.astimezone(PARIS).strftime("%H:%M %Z") == "03:30 CEST"
    # At 03:10 the wall clock is past 02:30, but the slot is still ahead: once, at 03:30.
    at_0310 = utc(2025, 3, 30, 1, 10)
    assert at_0310.astimezone(PARIS).strftime("%H:%M") == "03:10"
    assert last_slot(at_0310, SUNDAY_0230, PARIS) == utc(2025, 3, 23, 1, 30)
    assert next_slot(at_0310, SUNDAY_0230, PARIS) == slot
    assert last_slot(slot, SUNDAY_0230, PARIS) == slot  # "at or before"
    assert next_slot(slot, SUNDAY_0230, PARIS) == utc(2025, 4, 6, 0, 30)  # 02:30 CEST
    # a Sunday slot sends the week before the one that ends that day
    assert week_of_slot(slot, PARIS) == IsoWeek(2025, 12)


def test_a_slot_time_the_autumn_change_repeats_is_taken_once_at_its_first_occurrence() -> None:
    # 2025-10-26: 03:00 CEST → 02:00 CET, so 02:30 shows twice (00:30 and 01:30 UTC).
    first, second = utc(2025, 10, 26, 0, 30), utc(2025, 10, 26, 1, 30)
    assert first.astimezone(PARIS).strftime("%H:%M") == "02:30"
    assert second.astimezone(PARIS).strftime("%H:%M") == "02:30"
    assert slot_on(dt.date(2025, 10, 26), SUNDAY_0230, PARIS) == first
    assert next_slot(utc(2025, 10, 26, 0, 0), SUNDAY_0230, PARIS) == first
    # After the first one, the second 02:30 is no slot: the next is a week later.
    for now in (first + MINUTE, second, second + MINUTE):
        assert last_slot(now, SUNDAY_0230, PARIS) == first
        assert next_slot(now, SUNDAY_0230, PARIS) == utc(2025, 11, 2, 1, 30)  # 02:30 CET
    assert week_of_slot(first, PARIS) == IsoWeek(2025, 42)


def test_the_second_0230_finds_the_week_sent_at_the_first() -> None:
    first, second = utc(2025, 10, 26, 0, 30), utc(2025, 10, 26, 1, 30)
    due = plan(first + MINUTE, SUNDAY_0230, PARIS, HOUR, {}, [])
    assert (due.action, due.week, due.slot) == (Action.SEND, IsoWeek(2025, 42), first)
    again = plan(second, SUNDAY_0230, PARIS, HOUR, {"2025-W42": "sent"}, [])
    assert again.action is Action.WAIT
    assert (again.week, again.slot) == (IsoWeek(2025, 43), utc(2025, 11, 2, 1, 30))


# -- slots in Asia/Almaty ---------------------------------------------------------------------


def test_almaty_monday_8_before_and_after_its_change_to_utc_plus_5() -> None:
    # Almaty went from UTC+6 to UTC+5 at 2024-03-01 00:00 (clocks back to 23:00).
    assert slot_on(dt.date(2024, 2, 26), MONDAY_8, ALMATY) == utc(2024, 2, 26, 2, 0)
    assert slot_on(dt.date(2025, 4, 7), MONDAY_8, ALMATY) == utc(2025, 4, 7, 3, 0)
    assert next_slot(utc(2024, 2, 27), MONDAY_8, ALMATY) == utc(2024, 3, 4, 3, 0)
    assert last_slot(utc(2024, 3, 4, 2, 59), MONDAY_8, ALMATY) == utc(2024, 2, 26, 2, 0)


def test_almaty_repeated_hour_sends_once() -> None:
    thursday_2330 = SendAt(3, dt.time(23, 30))  # 23:00–24:00 on 2024-02-29 happened twice
    first = utc(2024, 2, 29, 17, 30)  # 23:30 +06
    assert slot_on(dt.date(2024, 2, 29), thursday_2330, ALMATY) == first
    second = utc(2024, 2, 29, 18, 30)  # 23:30 +05
    assert second.astimezone(ALMATY).strftime("%H:%M") == "23:30"
    assert last_slot(second, thursday_2330, ALMATY) == first
    assert next_slot(second, thursday_2330, ALMATY) == utc(2024, 3, 7, 18, 30)
    assert week_of_slot(first, ALMATY) == IsoWeek(2024, 8)


def test_the_week_of_a_slot_is_counted_in_the_newsroom_zone() -> None:
    # Monday 02:00 in Almaty is still Sunday in UTC: the week just ended is W14, not W13.
    slot = slot_on(dt.date(2025, 4, 7), SendAt(0, dt.time(2, 0)), ALMATY)
    assert slot == utc(2025, 4, 6, 21, 0)
    assert week_of_slot(slot, ALMATY) == IsoWeek(2025, 14)
    assert week_of_slot(slot, ZoneInfo("UTC")) == IsoWeek(2025, 13)


# -- every zone, every date: no slot is missed or invented --------------------------------------

ZONES = ["Europe/Paris", "Asia/Almaty", "Pacific/Apia", "America/Santiago",
         "Australia/Lord_Howe", "America/Havana", "Asia/Tehran", "UTC"]


@settings(max_examples=300, deadline=None)
@given(now=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2035, 1, 1),
                        timezones=st.just(UTC)),
       zone=st.sampled_from(ZONES), weekday=st.integers(0, 6),
       time=st.builds(dt.time, st.integers(0, 23), st.integers(0, 59)))  # as parsed
# Samoa skipped Friday 2011-12-30 entirely: that Friday's slot is on Saturday's clock, and
# the slot after it is the next Friday, not a Saturday.
@example(now=utc(2011, 12, 30, 19, 0), zone="Pacific/Apia", weekday=4, time=dt.time(8, 0))
@example(now=utc(2025, 3, 30, 1, 10), zone="Europe/Paris", weekday=6, time=dt.time(2, 30))
@example(now=utc(2025, 10, 26, 1, 0), zone="Europe/Paris", weekday=6, time=dt.time(2, 30))
def test_last_and_next_slot_are_consecutive_slots(now: dt.datetime, zone: str, weekday: int,
                                                  time: dt.time) -> None:
    tz, send_at = ZoneInfo(zone), SendAt(weekday, time)
    last, upcoming = last_slot(now, send_at, tz), next_slot(now, send_at, tz)
    assert last <= now < upcoming
    assert upcoming - last <= 7 * DAY + 2 * HOUR  # no week skipped
    # nothing between them: just before the next slot, the last slot is still `last`
    assert last_slot(upcoming - dt.timedelta(microseconds=1), send_at, tz) == last
    assert last_slot(upcoming, send_at, tz) == upcoming
    # each is that weekday's slot (a skipped wall time moves it, at most a day on Samoa)
    for slot in (last, upcoming):
        local = slot.astimezone(tz)
        days = {slot_on(local.date() - dt.timedelta(days=n), send_at, tz) for n in range(2)}
        assert slot in days
        assert (local - dt.timedelta(days=1)).weekday() == weekday or \
            local.weekday() == weekday


# -- the plan ---------------------------------------------------------------------------------

SLOT = utc(2025, 4, 7, 6, 0)  # Monday 2025-04-07 08:00 Paris: sends 2025-W14
W14 = IsoWeek(2025, 14)


def test_at_the_slot_the_week_just_ended_is_sent() -> None:
    due = plan(SLOT, MONDAY_8, PARIS, 24 * HOUR, {}, [])
    assert (due.action, due.week, due.slot) == (Action.SEND, W14, SLOT)
    assert due.reason == "2025-W14 is due since Monday 2025-04-07 08:00 Europe/Paris"


def test_just_before_the_slot_nothing_is_due() -> None:
    # the previous week was sent; the slot is a second away
    due = plan(SLOT - dt.timedelta(seconds=1), MONDAY_8, PARIS, 24 * HOUR,
               {"2025-W13": "sent"}, [])
    assert (due.action, due.week, due.slot) == (Action.WAIT, W14, SLOT)
    assert "next send Monday 2025-04-07 08:00 Europe/Paris" in due.reason


def test_catch_up_inside_the_window_says_how_late() -> None:
    late = SLOT + 23 * HOUR + 59 * MINUTE
    due = plan(late, MONDAY_8, PARIS, 24 * HOUR, {"2025-W14": "frozen"}, [])
    assert (due.action, due.week) == (Action.SEND, W14)  # a previewed (frozen) week too
    assert "23 h 59 min ago, within BOT_CATCHUP" in due.reason
    assert plan(SLOT + 24 * HOUR, MONDAY_8, PARIS, 24 * HOUR, {}, []).action is Action.SEND


def test_catch_up_outside_the_window_is_stale_and_says_what_to_do() -> None:
    due = plan(SLOT + 24 * HOUR + dt.timedelta(seconds=61), MONDAY_8, PARIS, 24 * HOUR, {}, [])
    assert (due.action, due.week, due.slot) == (Action.STALE, W14, SLOT)
    assert "more than BOT_CATCHUP (1 d)" in due.reason
    assert "bot send --week 2025-W14" in due.reason
    assert plan(SLOT + 2 * HOUR, MONDAY_8, PARIS, HOUR, {}, []).action is Action.STALE


@pytest.mark.parametrize("state", ["sent", "empty", "stale"])
def test_a_week_done_waits_for_the_next_slot(state: str) -> None:
    due = plan(SLOT + HOUR, MONDAY_8, PARIS, 24 * HOUR, {"2025-W14": state}, [])
    assert (due.action, due.week, due.slot) == (Action.WAIT, IsoWeek(2025, 15),
                                                utc(2025, 4, 14, 6, 0))
    assert f"2025-W14 is done ({state})" in due.reason


def test_an_interrupted_send_is_resumed_whatever_the_time() -> None:
    far = SLOT + 9 * DAY  # two slots later, long past BOT_CATCHUP
    due = plan(far, MONDAY_8, PARIS, HOUR, {"2025-W15": "sent"}, ["2025-W13", "2025-W14"])
    assert (due.action, due.week) == (Action.RESUME, IsoWeek(2025, 13))  # the oldest first
    assert "interrupted" in due.reason
    between = plan(SLOT - 3 * DAY, MONDAY_8, PARIS, HOUR, {}, ["2025-W14"])
    assert (between.action, between.week) == (Action.RESUME, W14)


# -- BOT_SEND_AT ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("lundi 08:00", SendAt(0, dt.time(8, 0))),
    ("Monday 8:00", SendAt(0, dt.time(8, 0))),
    ("mercredi 18h30", SendAt(2, dt.time(18, 30))),
    ("DIMANCHE 02:30", SendAt(6, dt.time(2, 30))),
    ("  friday   23:59 ", SendAt(4, dt.time(23, 59))),
    ("samedi 0h00", SendAt(5, dt.time(0, 0))),
    ("Thursday 7h05", SendAt(3, dt.time(7, 5))),
])
def test_send_at_in_french_and_english(value: str, expected: SendAt) -> None:
    settings = Settings.from_environ({"BOT_SEND_AT": value, "BOT_TIMEZONE": "Asia/Almaty",
                                      "BOT_CATCHUP": "90m"})
    assert settings.send_at == expected
    assert settings.timezone == ALMATY
    assert settings.catchup == 90 * MINUTE


@pytest.mark.parametrize(("value", "form"), [
    ("lundi", '"monday 08:00" (or "lundi 08:00")'),
    ("08:00", '"monday 08:00" (or "lundi 08:00")'),
    ("lun 08:00", '"monday 08:00" (or "lundi 08:00")'),
    ("someday 08:00", '"monday 08:00" (or "lundi 08:00")'),
    ("lundi 8", '"monday 08:00" (or "lundi 08:00")'),
    ("lundi 08:00 et jeudi 08:00", '"monday 08:00" (or "lundi 08:00")'),
    ("mercredi 24h00", "a time from 00:00 to 23:59"),
    ("monday 08:60", "a time from 00:00 to 23:59"),
])
def test_bad_send_at_is_one_line_naming_variable_value_and_form(value: str, form: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_environ({"BOT_SEND_AT": value})
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("BOT_SEND_AT must look like ")
    assert form in message
    assert message.endswith(f"got {value!r}")


@pytest.mark.parametrize(("name", "value", "form"), [
    ("BOT_TIMEZONE", "Europe/Pariss", '"Europe/Paris"'),
    ("BOT_CATCHUP", "a day", '"1h", "30m", "1h30m" or seconds'),
    ("BOT_FEED_INTERVAL", "-5", '"1h", "30m", "1h30m" or seconds'),
])
def test_bad_schedule_settings_are_one_line(name: str, value: str, form: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_environ({name: value})
    assert str(err.value).startswith(f"{name} must ")
    assert form in str(err.value) and str(err.value).endswith(f"got {value!r}")
