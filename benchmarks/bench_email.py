"""Email sending speed: `bot send` against an SMTP sink, and the sink's own capacity.

    python benchmarks/bench_email.py            # 20,000 subscribers, about 1.5 min
    python benchmarks/bench_email.py --quick    # 2,000 subscribers, about 6 s: a smoke run

Prints one line per figure. Every figure compares things measured in this one run (the
machines are shared and noisy). An SMTP sink (aiosmtpd, accepting and counting every message
with a 250) runs in a process of its own on 127.0.0.1 for the whole run. Then:

- the sink's capacity: N copies of one real digest message (2025-W14 of the bundled sample,
  rendered and addressed as `bot send` does it) sent over C connections (C threads with
  smtplib, each reusing its connection), for C = 2 (BOT_EMAIL_CONCURRENCY's default) and 4;
- the real pipeline: `bot send --week 2025-W14 --channel email` as a process on a store of N
  active email subscribers spread over 8 country sets (two of which have nothing that week and
  are skipped), BOT_EMAIL_RATE=10000 (the most it allows), BOT_EMAIL_CONCURRENCY=C; messages
  per second, as a ratio to the sink's capacity over as many connections;
- the command's fixed cost (a rerun that finds the week sent) and the process's peak memory
  with N and N/10 subscribers, and their ratio (subscribers are streamed, not loaded).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import datetime as dt
import multiprocessing
import os
import re
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.utils import getaddresses
from io import BytesIO
from multiprocessing.connection import Connection
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.archive import digest_for_week
from bot.config import MAX_RATE, Settings
from bot.delivery.weeks import email_job
from bot.digest import IsoWeek
from bot.ingest import load
from bot.links import reader_links
from bot.mail import digest_message
from bot.model import Channel, Country, Status
from bot.render.email import render_email
from bot.store import open_store
from bot.subscribers import NewSubscriber

SAMPLE = Path(__file__).resolve().parent.parent / "bot" / "samples" / "articles-fr.txt"
HOST = "127.0.0.1"
PARIS = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
WEEK = IsoWeek(2025, 14)
SECRET = "k" * 32
RATE_CAP = MAX_RATE  # BOT_EMAIL_RATE's maximum (bot/config.py)
CONCURRENCIES = (2, 4)  # BOT_EMAIL_CONCURRENCY's default, and twice it
COUNTRY_SETS: tuple[frozenset[Country], ...] = tuple(frozenset(Country(c) for c in s) for s in (
    (),  # every section
    ("KZ",), ("UZ",), ("KZ", "UZ"), ("REGION",), ("REGION", "KZ"), ("OTHER",), ("TJ", "TM")))
SUMMARY = re.compile(r"by email: (.*)$", re.MULTILINE)


# The sink: its own process, so that it does not share the benchmark's (or the sender's) GIL.

def _sink_main(ready: Connection, counter: ctypes.c_longlong) -> None:
    """Serve SMTP on HOST (a port the system picks, sent through `ready`) until SIGTERM; every
    message is accepted with a 250 and counted in `counter`."""
    from aiosmtpd.smtp import SMTP, Envelope, Session

    class Count:
        async def handle_DATA(self, server: SMTP, session: Session,
                              envelope: Envelope) -> str:
            counter.value += 1  # one writer (this process's one thread); the parent reads
            return "250 2.0.0 OK"

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        handler = Count()
        server = await loop.create_server(lambda: SMTP(handler, hostname="sink"), HOST, 0)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        ready.send(server.sockets[0].getsockname()[1])
        await stop.wait()
        server.close()

    asyncio.run(serve())


class Sink:
    """The sink process: started, waited for until it answers, stopped at the end."""

    def __enter__(self) -> Sink:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter, nothing shared
        self.counter = context.RawValue("q", 0)
        receiving, sending = context.Pipe(duplex=False)
        self.process = context.Process(target=_sink_main, args=(sending, self.counter),
                                       name="smtp-sink", daemon=True)
        self.process.start()
        if not receiving.poll(30):
            raise RuntimeError("the SMTP sink did not start")
        self.port: int = receiving.recv()
        deadline = time.monotonic() + 10
        while True:  # listening means answering a greeting
            try:
                with smtplib.SMTP(HOST, self.port, timeout=5) as probe:
                    probe.noop()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        return self

    @property
    def url(self) -> str:
        return f"smtp://{HOST}:{self.port}"

    @property
    def count(self) -> int:
        return int(self.counter.value)

    def __exit__(self, *exc: object) -> None:
        if self.process.pid is not None and self.process.is_alive():
            os.kill(self.process.pid, signal.SIGTERM)
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


# Step 1: the sink's capacity.

def blast(port: int, data: bytes, sender: str, to: str, count: int, connections: int) -> float:
    """Seconds to send `count` copies of `data` over `connections` threads, each with one
    connection opened beforehand and reused; the clock runs from all threads' start to the
    last 250."""
    shares = [count // connections + (n < count % connections) for n in range(connections)]
    start = threading.Barrier(connections + 1)
    failures: list[BaseException] = []

    def work(share: int) -> None:
        try:
            with smtplib.SMTP(HOST, port, timeout=30) as smtp:
                smtp.ehlo()
                start.wait()
                for _ in range(share):
                    smtp.sendmail(sender, [to], data)
        except BaseException as exc:
            failures.append(exc)
            start.abort()

    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    if failures:
        raise failures[0]
    return seconds


# Step 2: the real pipeline.

def environment(folder: Path, database: Path, smtp_url: str, concurrency: int) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "SMTP_", "MAIL_"))}
    return {**keep, "BOT_DATABASE": str(database), "SMTP_URL": smtp_url,
            "BOT_SECRET_KEY": SECRET, "BOT_EMAIL_RATE": str(RATE_CAP),
            "BOT_EMAIL_CONCURRENCY": str(concurrency),
            "BOT_DIGESTS_DIR": str(folder / "digests")}


def build_store(database: Path, subscribers: int) -> None:
    """The bundled sample imported, 2025-W14 frozen, `subscribers` active email readers going
    round the 8 country sets."""
    with open_store(database) as store:
        store.insert_articles(list(load(str(SAMPLE), None, PARIS, NOW.date()).articles()), NOW)
        assert digest_for_week(store, WEEK, NOW, PARIS).stored is not None  # frozen
        store.add_subscribers([NewSubscriber(Channel.EMAIL, f"reader{n}@example.org", "fr",
                                             COUNTRY_SETS[n % len(COUNTRY_SETS)])
                               for n in range(subscribers)], Status.ACTIVE, "bench", NOW)


def sample_message(database: Path, env: dict[str, str]) -> tuple[bytes, str, str]:
    """One reader's message (an every-section reader, the biggest variant) as `bot send`
    builds it, flattened as smtplib's send_message does; with its envelope sender and
    recipient."""
    settings = Settings.from_environ(env)
    job = email_job(settings, WEEK)
    with open_store(database) as store:
        digest = digest_for_week(store, WEEK, NOW, PARIS).digest
        reader = next(store.list_subscribers(Channel.EMAIL, Status.ACTIVE))
    assert not reader.countries
    links = reader_links(job.public_url, job.secret, reader)
    message = digest_message(render_email(digest.only(reader.countries), job.masthead,
                                          reader.locale), job.sender, reader.address,
                             str(WEEK), reader.id, links.unsubscribe, links.preferences, NOW)
    out = BytesIO()
    BytesGenerator(out, policy=message.policy).flatten(message, linesep="\r\n")
    sender = getaddresses([str(message["From"])])[0][1]
    return out.getvalue(), sender, reader.address


@dataclass
class Run:
    seconds: float
    received: int  # messages the sink accepted during the run
    summary: str  # what the command printed: "15000 sent, 5000 skipped"
    ledger: dict[str, int]
    peak_kib: int
    cpu: float  # its user + system CPU seconds
    peak_how: str  # how peak_kib was measured


def gnu_time() -> str | None:
    """/usr/bin/time if it is GNU time (it takes -f and -o), else None."""
    path = "/usr/bin/time"
    if not os.access(path, os.X_OK):
        return None
    probe = subprocess.run([path, "-f", "%M", "-o", os.devnull, "true"], capture_output=True,
                           check=False)
    return path if probe.returncode == 0 else None


def watch_hwm(pid: int, peak: list[int], done: threading.Event) -> None:
    """The fallback: VmHWM (the process's own high-water mark, in KiB) read every 10 ms
    until it exits; only growth in its last 10 ms could be missed."""
    status = Path(f"/proc/{pid}/status")
    while not done.is_set():
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak[0] = max(peak[0], int(line.split()[1]))
        except (OSError, ValueError):
            pass
        done.wait(0.01)


def run_send(folder: Path, database: Path, sink: Sink, concurrency: int) -> Run:
    """`bot send` as a process: wall time, messages received, CPU time, its own peak memory.

    Peak memory, measured how: not with ru_maxrss of this process's children
    (getrusage(RUSAGE_CHILDREN), nor wait4() on the child's pid): Linux carries a process's
    maximum resident set over exec(), so a child forked from this benchmark (50-odd MiB of
    stores and messages by then) reports at least this benchmark's size, whatever its own.
    GNU time forks the command from its own 2 MiB process and reports the command's maximum
    resident set (%M, KiB) from wait4(): exact, to the very end of the process. Without GNU
    time, /proc/<pid>/status's VmHWM (reset by exec) is polled instead.
    """
    env = environment(folder, database, sink.url, concurrency)
    command = [sys.executable, "-m", "bot.cli", "send", "--week", str(WEEK),
               "--channel", "email"]
    timer = gnu_time()
    rss_path = folder / "maxrss.txt"
    if timer:
        command = [timer, "-f", "%M", "-o", str(rss_path), *command]
    before = sink.count
    with (folder / "send.out").open("w+", encoding="utf-8") as out:
        began = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=folder, stdout=out,
                                   stderr=subprocess.STDOUT)
        peak, done = [0], threading.Event()
        watcher = threading.Thread(target=watch_hwm, args=(process.pid, peak, done))
        if not timer:
            watcher.start()
        # wait4 for the CPU time: user + system of the process and of the children it waited
        # for (GNU time's command), which, unlike the maximum resident set, exec() resets.
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        if not timer:
            watcher.join()
        out.seek(0)
        output = out.read()
    if process.returncode != 0:
        raise RuntimeError(f"bot send exited {process.returncode}:\n{output[-2000:]}")
    if timer:  # after "Command exited with non-zero status" if any, the format's line
        peak[0] = int(rss_path.read_text().split()[-1])
    found = SUMMARY.findall(output)
    with open_store(database) as store:
        ledger = store.delivery_counts(store.digest_id(str(WEEK)), Channel.EMAIL)
    return Run(seconds, sink.count - before, found[-1] if found else output.strip()[-200:],
               ledger, peak[0], usage.ru_utime + usage.ru_stime,
               "GNU time" if timer else "VmHWM polled")


def expected_skips(database: Path, subscribers: int) -> int:
    with open_store(database) as store:
        digest = digest_for_week(store, WEEK, NOW, PARIS).digest
    empty = [s for s in COUNTRY_SETS if digest.only(s).is_empty]
    return sum(1 for n in range(subscribers)
               if COUNTRY_SETS[n % len(COUNTRY_SETS)] in empty)


def names(countries: frozenset[Country]) -> str:
    return "{" + ",".join(sorted(countries)) + "}" if countries else "all"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 subscribers, a smoke run")
    args = parser.parse_args()
    count = 2_000 if args.quick else 20_000
    small = count // 10
    with Sink() as sink, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"sink: aiosmtpd in process {sink.process.pid} on {HOST}:{sink.port}; "
              f"{os.cpu_count()} cores")
        stores = {c: folder / f"send-{c}.sqlite3" for c in CONCURRENCIES}
        for database in stores.values():
            build_store(database, count)
        first = stores[CONCURRENCIES[0]]
        data, sender, to = sample_message(first, environment(folder, first, sink.url, 2))
        skips = expected_skips(first, count)
        with open_store(first) as store:
            digest = digest_for_week(store, WEEK, NOW, PARIS).digest
        empty = ", ".join(names(s) for s in COUNTRY_SETS if digest.only(s).is_empty)
        print(f"store: {count:,} active email subscribers over {len(COUNTRY_SETS)} country "
              f"sets; {skips:,} follow only empty sections ({empty}) and are skipped, "
              f"{count - skips:,} get a message of {len(data) / 1024:.1f} KiB "
              f"(the every-section one)")

        capacity: dict[int, float] = {}
        for connections in CONCURRENCIES:
            blast(sink.port, data, sender, to, min(200, count), connections)  # warm-up
            before = sink.count
            seconds = blast(sink.port, data, sender, to, count, connections)
            assert sink.count - before == count, (sink.count - before, count)
            capacity[connections] = count / seconds
            print(f"sink capacity, {connections} connections: {count:,} messages in "
                  f"{seconds:.2f} s = {capacity[connections]:,.0f} msg/s")

        runs: dict[int, Run] = {}
        for connections, database in stores.items():
            run = run_send(folder, database, sink, connections)
            runs[connections] = run
            sent = count - skips
            assert run.received == sent and run.ledger == {"sent": sent, "skipped": skips}, \
                (run.received, run.ledger)
            rate = run.received / run.seconds
            capped = (f"; at BOT_EMAIL_RATE's cap of {RATE_CAP} msg/s"
                      if rate >= 0.95 * RATE_CAP else f"; under BOT_EMAIL_RATE's cap of "
                      f"{RATE_CAP} msg/s")
            print(f"bot send, BOT_EMAIL_CONCURRENCY={connections}: {count:,} subscribers in "
                  f"{run.seconds:.2f} s ({run.summary}), the sink received {run.received:,}: "
                  f"{rate:,.0f} msg/s{capped}; its CPU time {run.cpu:.1f} s "
                  f"({run.cpu / run.seconds:.0%} of its wall time)")
            print(f"bot send / sink capacity, {connections} connections: "
                  f"{rate / capacity[connections]:.2f} (target >= 0.8)")

        rerun = run_send(folder, first, sink, CONCURRENCIES[0])
        assert rerun.received == 0 and "already sent" in rerun.summary, rerun
        print(f"bot send's fixed cost (a rerun that finds {WEEK} sent): {rerun.seconds:.2f} s")

        small_db = folder / "small.sqlite3"
        build_store(small_db, small)
        small_run = run_send(folder, small_db, sink, CONCURRENCIES[0])
        assert small_run.received == small - expected_skips(small_db, small), small_run
        big_run = runs[CONCURRENCIES[0]]
        print(f"bot send, {small:,} subscribers: {small_run.seconds:.2f} s, "
              f"{small_run.received / small_run.seconds:,.0f} msg/s")
        print(f"bot send's peak memory (RSS): {count:,} subscribers "
              f"{big_run.peak_kib / 1024:.1f} MiB, {small:,} subscribers "
              f"{small_run.peak_kib / 1024:.1f} MiB, ratio "
              f"{big_run.peak_kib / small_run.peak_kib:.2f} (target < 1.5; {big_run.peak_how})")


if __name__ == "__main__":
    main()
