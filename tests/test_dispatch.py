"""The delivery ledger with an in-process transport and a pinned clock: who gets the digest,
retries, bounces, skips, takeovers, and two senders at once."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import threading
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.archive import digest_for_week
from bot.delivery.email import EmailJob, EmailSend
from bot.delivery.ledger import dead_holders
from bot.delivery.mail_transport import DeliveryError
from bot.digest import IsoWeek
from bot.ingest import load
from bot.mail import Sender, Wire
from bot.model import Channel, Country, Status
from bot.render.email import Masthead
from bot.store import Store, open_store
from bot.subscribers import NewSubscriber
from tests.conftest import NOW, SAMPLE

PARIS = __import__("zoneinfo").ZoneInfo("Europe/Paris")
WEEK = IsoWeek(2025, 14)  # the sample's week with REGION, KZ and UZ articles


class FakeTransport:
    """Records sends; can be told to fail some addresses, temporarily or for good."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.temporary: Counter[str] = Counter()  # address → failures left
        self.permanent: set[str] = set()
        self.lock = threading.Lock()

    def send(self, sent: EmailMessage | Wire) -> None:
        message = sent if isinstance(sent, EmailMessage) else \
            email.message_from_bytes(sent.data, policy=email.policy.default)  # type: ignore[arg-type]
        to = str(message["To"])
        with self.lock:
            if to in self.permanent:
                raise DeliveryError("550 mailbox unavailable", temporary=False)
            if self.temporary[to] > 0:
                self.temporary[to] -= 1
                raise DeliveryError("451 try later", temporary=True)
            self.sent.append(message)

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "a fake transport"


class Clock:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = NOW
        self.lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += dt.timedelta(seconds=max(seconds, 0.001))


JOB = EmailJob(Sender("Nouvelles <digest@example.org>", "Nouvelles"),
               Masthead("Nouvelles", "https://ex.org/archive/2025-W14/"), "https://ex.org",
               "s" * 32, rate=1000.0, concurrency=1)
# One worker: the pinned clock moves when a worker sleeps, and a second worker spinning on it
# would make leases run out in no real time at all. Concurrency is tested on the real clock.


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    database = tmp_path / "bot.sqlite3"
    with open_store(database) as store:
        articles = list(load(str(SAMPLE), None, PARIS, NOW.date()).articles())
        store.insert_articles(articles, NOW)
        digest_for_week(store, WEEK, NOW, PARIS)  # freezes it
    return database


def subscribe(database: Path, *addresses: str, countries: frozenset[Country] = frozenset(),
              status: Status = Status.ACTIVE) -> None:
    with open_store(database) as store:
        store.add_subscribers([NewSubscriber(Channel.EMAIL, a, "fr", countries)
                               for a in addresses], status, "test", NOW)


def run(database: Path, transport: FakeTransport, clock: Clock | None = None,
        job: EmailJob = JOB) -> EmailSend:
    clock = clock or Clock()
    with open_store(database) as store:
        digest = digest_for_week(store, WEEK, clock(), PARIS).digest
    send = EmailSend(database, str(WEEK), digest, job, transport, clock, clock.sleep)
    send.run()
    return send


def counts(database: Path) -> dict[str, int]:
    with open_store(database) as store:
        return store.delivery_counts(store.digest_id(str(WEEK)))


def recipients(transport: FakeTransport) -> Counter[str]:
    return Counter(str(m["To"]) for m in transport.sent)


def test_every_active_subscriber_gets_one_copy(ledger: Path) -> None:
    subscribe(ledger, *(f"r{n}@ex.org" for n in range(30)))
    subscribe(ledger, "gone@ex.org", status=Status.UNSUBSCRIBED)
    transport = FakeTransport()
    run(ledger, transport)
    assert recipients(transport) == Counter({f"r{n}@ex.org": 1 for n in range(30)})
    assert counts(ledger) == {"sent": 30}
    run(ledger, transport)  # again: nothing more
    assert len(transport.sent) == 30


def test_recipients_are_fixed_when_the_send_starts(ledger: Path) -> None:
    subscribe(ledger, "a@ex.org")
    transport = FakeTransport()
    transport.temporary["a@ex.org"] = 1  # keeps the send open
    clock = Clock()
    with open_store(ledger) as store:
        digest = digest_for_week(store, WEEK, NOW, PARIS).digest
        store.fix_recipients(store.digest_id(str(WEEK)), Channel.EMAIL, NOW)
    subscribe(ledger, "late@ex.org")
    EmailSend(ledger, str(WEEK), digest, JOB, transport, clock, clock.sleep).run()
    assert recipients(transport) == Counter({"a@ex.org": 1})


def test_temporary_failures_retry_with_backoff_then_succeed(ledger: Path) -> None:
    subscribe(ledger, "slow@ex.org", "ok@ex.org")
    transport = FakeTransport()
    transport.temporary["slow@ex.org"] = 3
    clock = Clock()
    run(ledger, transport, clock)
    assert recipients(transport) == Counter({"slow@ex.org": 1, "ok@ex.org": 1})
    # 30 s, 60 s, 120 s of backoff went by on the pinned clock: nobody slept for real
    assert clock() - NOW >= dt.timedelta(seconds=210)
    with open_store(ledger) as store:
        row = store.conn.execute("SELECT attempts, d.status FROM deliveries d JOIN subscribers s "
                                 "ON s.id = d.subscriber_id WHERE address = 'slow@ex.org'"
                                 ).fetchone()
    assert tuple(row) == (4, "sent")


def test_a_permanent_failure_fails_the_delivery_and_bounces_the_reader(ledger: Path) -> None:
    subscribe(ledger, "bad@ex.org", "good@ex.org")
    transport = FakeTransport()
    transport.permanent.add("bad@ex.org")
    run(ledger, transport)
    assert counts(ledger) == {"sent": 1, "failed": 1}
    with open_store(ledger) as store:
        assert store.find_subscriber(Channel.EMAIL, "bad@ex.org").status is Status.BOUNCED  # type: ignore[union-attr]


def test_giving_up_after_the_last_attempt(ledger: Path) -> None:
    subscribe(ledger, "never@ex.org")
    transport = FakeTransport()
    transport.temporary["never@ex.org"] = 99
    run(ledger, transport)
    assert counts(ledger) == {"failed": 1}
    with open_store(ledger) as store:
        error = store.conn.execute("SELECT last_error FROM deliveries").fetchone()[0]
    assert error == "gave up after 8 attempts: 451 try later"


def test_readers_of_empty_sections_are_skipped_with_the_reason(ledger: Path) -> None:
    subscribe(ledger, "kz@ex.org", countries=frozenset({Country.KZ}))
    subscribe(ledger, "tj@ex.org", countries=frozenset({Country.TJ}))
    transport = FakeTransport()
    run(ledger, transport)
    assert recipients(transport) == Counter({"kz@ex.org": 1})
    with open_store(ledger) as store:
        row = store.conn.execute("SELECT status, last_error FROM deliveries WHERE status = "
                                 "'skipped'").fetchone()
    assert tuple(row) == ("skipped", "no articles this week in the sections followed")
    kz_copy = transport.sent[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Kazakhstan" in kz_copy and "Ouzbékistan" not in kz_copy


def test_a_reader_who_leaves_during_the_send_is_skipped(ledger: Path) -> None:
    subscribe(ledger, "a@ex.org", "b@ex.org")
    with open_store(ledger) as store:
        store.fix_recipients(store.digest_id(str(WEEK)), Channel.EMAIL, NOW)
        b = store.find_subscriber(Channel.EMAIL, "b@ex.org")
        assert b is not None
        store.set_subscriber_status(b.id, Status.UNSUBSCRIBED, NOW)
    transport = FakeTransport()
    run(ledger, transport)
    assert recipients(transport) == Counter({"a@ex.org": 1})
    assert counts(ledger) == {"sent": 1, "skipped": 1}


def _claim_all(store: Store, holder: str, now: dt.datetime, lease: dt.timedelta) -> int:
    digest_id = store.digest_id(str(WEEK))
    store.fix_recipients(digest_id, Channel.EMAIL, now)
    return len(store.claim_deliveries(digest_id, Channel.EMAIL, now, lease, holder, 100))


def test_rows_of_a_dead_sender_are_taken_over_at_once(ledger: Path) -> None:
    subscribe(ledger, "a@ex.org", "b@ex.org")
    host = __import__("socket").gethostname()
    with open_store(ledger) as store:  # a sender that died holding both rows, long lease
        assert _claim_all(store, f"{host}:999999999", NOW, dt.timedelta(hours=5)) == 2
    assert dead_holders([f"{host}:999999999", f"{host}:{__import__('os').getpid()}",
                         "elsewhere:1"]) == [f"{host}:999999999"]
    transport = FakeTransport()
    run(ledger, transport)
    assert recipients(transport) == Counter({"a@ex.org": 1, "b@ex.org": 1})


def test_rows_of_a_sender_elsewhere_wait_for_their_lease(ledger: Path) -> None:
    subscribe(ledger, "a@ex.org")
    with open_store(ledger) as store:
        assert _claim_all(store, "other-host:1", NOW, dt.timedelta(minutes=5)) == 1
        digest_id = store.digest_id(str(WEEK))
        early = NOW + dt.timedelta(minutes=4)
        assert store.claim_deliveries(digest_id, Channel.EMAIL, early, dt.timedelta(minutes=5),
                                      "me:1", 10) == []
        late = store.claim_deliveries(digest_id, Channel.EMAIL, NOW + dt.timedelta(minutes=6),
                                      dt.timedelta(minutes=5), "me:1", 10)
    assert [c.attempts for c in late] == [2]


def test_a_taken_over_claim_records_nothing(ledger: Path) -> None:
    subscribe(ledger, "a@ex.org")
    with open_store(ledger) as store:
        digest_id = store.digest_id(str(WEEK))
        store.fix_recipients(digest_id, Channel.EMAIL, NOW)
        lease = dt.timedelta(minutes=1)
        (old,) = store.claim_deliveries(digest_id, Channel.EMAIL, NOW, lease, "x:1", 1)
        later = NOW + dt.timedelta(minutes=2)
        (new,) = store.claim_deliveries(digest_id, Channel.EMAIL, later, lease, "y:2", 1)
        assert not store.finish_delivery(old, "sent", later, message_id="<old@x>")
        assert store.finish_delivery(new, "sent", later, message_id="<new@y>")
        assert store.conn.execute("SELECT message_id FROM deliveries").fetchone()[0] == "<new@y>"


def test_two_senders_at_once_send_each_message_once(ledger: Path) -> None:
    subscribe(ledger, *(f"r{n}@ex.org" for n in range(200)))
    transport = FakeTransport()
    with open_store(ledger) as store:
        digest = digest_for_week(store, WEEK, NOW, PARIS).digest
    job = EmailJob(JOB.sender, JOB.masthead, JOB.public_url, JOB.secret, rate=1000.0,
                   concurrency=3)
    now = lambda: dt.datetime.now(dt.UTC)  # noqa: E731 - the real clock, real waits
    senders = [EmailSend(ledger, str(WEEK), digest, job, transport, now) for _ in range(2)]
    for sender in senders:  # two processes would differ by pid: give them different names
        sender.ledger.holder += f"-{id(sender)}"
    threads = [threading.Thread(target=s.run) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert recipients(transport) == Counter({f"r{n}@ex.org": 1 for n in range(200)})


def test_message_ids_are_the_same_on_a_resend(ledger: Path) -> None:
    subscribe(ledger, "a@ex.org")
    first, second = FakeTransport(), FakeTransport()
    run(ledger, first)
    with open_store(ledger) as store:  # as if the send had crashed after sending
        store.conn.execute("UPDATE deliveries SET status = 'pending'")
    run(ledger, second)
    assert first.sent[0]["Message-ID"] == second.sent[0]["Message-ID"]
