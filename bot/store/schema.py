"""The schema: migrations by `PRAGMA user_version`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


# Each entry upgrades the file from user_version N to N + 1. Append only: never edit one
# that has shipped, since files in the field already ran it.
MIGRATIONS: tuple[str, ...] = (
    # 1: the article store
    """
    CREATE TABLE articles (
        id            INTEGER PRIMARY KEY,
        title         TEXT NOT NULL,
        lead          TEXT NOT NULL,
        url           TEXT,
        guid          TEXT,
        source        TEXT NOT NULL,
        published     TEXT NOT NULL,              -- local date, YYYY-MM-DD
        published_at  TEXT,                       -- UTC instant when the source gave one
        date_source   TEXT NOT NULL
            CHECK (date_source IN ('explicit', 'editor', 'text', 'neighbour', 'import')),
        country       TEXT NOT NULL
            CHECK (country IN ('KZ', 'KG', 'UZ', 'TJ', 'TM', 'REGION', 'OTHER')),
        countries     TEXT NOT NULL DEFAULT '',   -- space-separated codes, strongest first
        featured      INTEGER NOT NULL DEFAULT 0 CHECK (featured IN (0, 1)),
        needs_review  TEXT,                       -- the reason, NULL when fine
        content_hash  TEXT NOT NULL UNIQUE,
        imported_at   TEXT NOT NULL,
        edited_at     TEXT
    );
    -- Partial: a listing's articles have neither, and skip these indexes altogether.
    CREATE UNIQUE INDEX articles_url ON articles (url) WHERE url IS NOT NULL;
    CREATE UNIQUE INDEX articles_guid ON articles (guid) WHERE guid IS NOT NULL;
    CREATE INDEX articles_by_date ON articles (published, id);
    CREATE INDEX articles_by_country ON articles (country, published, id);
    CREATE INDEX articles_needing_review ON articles (published) WHERE needs_review IS NOT NULL;
    """,
    # 2: readers, frozen digests and the delivery ledger
    """
    CREATE TABLE subscribers (
        id               INTEGER PRIMARY KEY,
        channel          TEXT NOT NULL CHECK (channel IN ('email', 'telegram')),
        address          TEXT NOT NULL,           -- email address or Telegram chat id
        locale           TEXT NOT NULL DEFAULT 'fr',
        countries        TEXT NOT NULL DEFAULT '',-- space-separated codes; empty = all
        status           TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced', 'blocked')),
        consent_source   TEXT,
        created_at       TEXT NOT NULL,
        confirmed_at     TEXT,
        unsubscribed_at  TEXT,
        updated_at       TEXT NOT NULL,
        UNIQUE (channel, address)
    );
    CREATE INDEX subscribers_by_status ON subscribers (channel, status);
    CREATE TABLE digests (
        id              INTEGER PRIMARY KEY,
        week            TEXT NOT NULL UNIQUE,     -- ISO week, 2025-W34
        status          TEXT NOT NULL DEFAULT 'frozen'
            CHECK (status IN ('frozen', 'sending', 'sent')),
        schema_version  INTEGER NOT NULL,
        snapshot        TEXT NOT NULL,            -- the frozen digest as JSON
        frozen_at       TEXT NOT NULL,
        sent_at         TEXT
    );
    CREATE TABLE deliveries (
        id               INTEGER PRIMARY KEY,
        digest_id        INTEGER NOT NULL REFERENCES digests (id),
        subscriber_id    INTEGER NOT NULL REFERENCES subscribers (id),
        status           TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'sending', 'sent', 'skipped', 'failed')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  TEXT,
        lease_until      TEXT,
        last_error       TEXT,
        message_id       TEXT,
        parts_sent       INTEGER NOT NULL DEFAULT 0,
        updated_at       TEXT NOT NULL,
        UNIQUE (digest_id, subscriber_id)
    );
    CREATE INDEX deliveries_to_claim ON deliveries (digest_id, status, next_attempt_at);
    """,
    # 3: who holds a delivery being sent (host and pid), so that a crashed sender's rows are
    # taken over at once on the same machine instead of when the lease runs out
    """
    ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
    ALTER TABLE deliveries ADD COLUMN channel TEXT NOT NULL DEFAULT 'email';
    CREATE INDEX deliveries_by_channel ON deliveries (digest_id, channel, status);
    """,
    # 4: due deliveries of one channel in the order they are claimed, read straight from an
    # index (the claim sorted every due row of the ledger before: quadratic over a send); it
    # also serves every lookup deliveries_by_channel did
    """
    DROP INDEX deliveries_to_claim;
    DROP INDEX deliveries_by_channel;
    CREATE INDEX deliveries_due ON deliveries (digest_id, channel, status, next_attempt_at);
    """,
    # 5: `bot run`: which process sends (a lease, renewed while it lives), and the notices
    # already given about a week (empty, too late), so a restart does not repeat them
    """
    CREATE TABLE leases (
        name    TEXT PRIMARY KEY,
        holder  TEXT NOT NULL,
        until   TEXT NOT NULL
    );
    CREATE TABLE notices (
        week        TEXT NOT NULL,
        kind        TEXT NOT NULL CHECK (kind IN ('empty', 'stale')),
        created_at  TEXT NOT NULL,
        PRIMARY KEY (week, kind)
    );
    """,
    # 6: an article's title folded (bot.folding.title_key: no accents, case or punctuation),
    # so that a feed entry fills in the URL of the listing's article of the same title; NULL
    # for a title made up from the lead (needs review) until an editor gives it one. The
    # index is on the key's CRC-32 (rows.title_hash), a small integer: an index of the text
    # itself made a 100,000-article import's storing a third slower. It holds only the
    # articles still without a URL, the ones an entry can link. bot_title_key and
    # bot_title_hash are registered on every connection (bot.store._connect).
    """
    ALTER TABLE articles ADD COLUMN title_key TEXT;
    ALTER TABLE articles ADD COLUMN title_hash INTEGER;
    UPDATE articles SET title_key = nullif(bot_title_key(title), '')
        WHERE needs_review IS NULL;
    UPDATE articles SET title_hash = bot_title_hash(title_key) WHERE title_key IS NOT NULL;
    CREATE INDEX articles_unlinked_by_title ON articles (title_hash) WHERE url IS NULL;
    """,
    # 7: a third notice, `review`: bot run told the admins a week waits for its articles to
    # be reviewed (SQLite cannot widen a CHECK: the table is made anew); and since when a
    # lease is held, so that `bot send` can say who sends, and since when
    """
    CREATE TABLE notices_new (
        week        TEXT NOT NULL,
        kind        TEXT NOT NULL CHECK (kind IN ('empty', 'stale', 'review')),
        created_at  TEXT NOT NULL,
        PRIMARY KEY (week, kind)
    );
    INSERT INTO notices_new (week, kind, created_at) SELECT week, kind, created_at FROM notices;
    DROP TABLE notices;
    ALTER TABLE notices_new RENAME TO notices;
    ALTER TABLE leases ADD COLUMN since TEXT;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
