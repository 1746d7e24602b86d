"""`bot import` and `bot articles list|edit`: what goes into the store, and the editors'
corrections."""

from __future__ import annotations

import json

import click

from bot.cli.group import Context, cli, columns, parse_day, pass_context, plural
from bot.errors import InputError, one_line
from bot.model import Article, Country, NewArticle, parse_country
from bot.store import ArticleQuery


@cli.command("import")
@click.argument("location", metavar="PATH|URL")
@click.option("--format", "fmt", type=click.Choice(["listing", "feed", "jsonl"]),
              help="Input format; guessed from the content when not given.")
@click.option("--skip-invalid", is_flag=True,
              help="Import the good records; write the bad ones, with reasons, to "
                   "PATH.rejects next to the input.")
@click.option("--dry-run", is_flag=True, help="Show what would be imported; write nothing.")
@pass_context
def import_command(context: Context, location: str, fmt: str | None, skip_invalid: bool,
                   dry_run: bool) -> None:
    """Import articles from a listing, an RSS/Atom feed or JSON lines (file or URL)."""
    import_location(context, location, fmt, skip_invalid, dry_run)


def import_location(context: Context, location: str, fmt: str | None = None,
            skip_invalid: bool = False, dry_run: bool = False) -> None:
    from bot.errors import ImportRejected
    from bot.ingest import load
    from bot.rejects import write_rejects

    now = context.now()
    batch = load(location, fmt, context.settings.timezone, now.date())
    if batch.errors and not skip_invalid:
        raise ImportRejected(batch.errors)
    with context.open_store() as store:
        if dry_run:
            tagged = list(batch.articles())
            stored = store.find_stored(tagged)
            links = store.find_links(tagged)
            _echo_drafts(tagged, stored, links)
            new = sum(a.content_hash not in stored and a.content_hash not in links
                      for a in tagged)
            matched = sum(a.content_hash in links for a in tagged)
            click.echo(f"dry run: {new} new, " + (f"{matched} matched, " if matched else "")
                       + f"{len(tagged) - new - matched} already in the store, "
                       f"{len(batch.errors)} rejected; nothing was written")
            return
        if batch.errors:
            path = write_rejects(batch.source, batch.errors, now)
            click.echo(f"{plural(len(batch.errors), 'bad record')} skipped, written to {path}",
                       err=True)
        # Tagging streams into the store: big imports write while workers still read.
        result = store.insert_articles(batch.articles(), now)
    review = sum(1 for d in batch.drafts if d.needs_review)
    click.echo(f"{batch.source.name}: {plural(len(result.inserted), 'new article')}, "
               + (f"{len(result.linked)} matched (linked), " if result.linked else "") +
               f"{len(result.duplicates)} already in the store ({batch.format})"
               + (f"; {plural(review, 'needs', 'need')} review: bot articles list "
                  "--needs-review" if review else ""))


@cli.group()
def articles() -> None:
    """List and correct the stored articles."""


@articles.command("list")
@click.option("--week", help='An ISO week, like "2025-W34".')
@click.option("--country", help="A country code (KZ KG UZ TJ TM REGION OTHER) or name.")
@click.option("--needs-review", is_flag=True, help="Only articles an editor should check.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many articles.")
@pass_context
def list_articles(context: Context, week: str | None, country: str | None,
                  needs_review: bool, as_json: bool, limit: int | None) -> None:
    """List articles, newest first."""
    from bot.digest import parse_week

    iso = parse_week(week) if week else None
    query = ArticleQuery(
        since=iso.monday if iso else None, until=iso.next_monday if iso else None,
        country=parse_country(country, field_name="--country") if country else None,
        needs_review=needs_review, limit=limit,
    )
    with context.open_store() as store:
        found = store.list_articles(query)
    if as_json:
        out = "".join(json.dumps(a.as_json(), ensure_ascii=False) + "\n" for a in found)
        click.echo(out, nl=False)
    else:
        _echo_articles(found)


@articles.command("edit")
@click.argument("article_id", metavar="ID", type=int)
@click.option("--country", help="The section it belongs in: a code or a name.")
@click.option("--date", "day", help="Its date, like 2025-08-21.")
@click.option("--title", help="A corrected title.")
@click.option("--feature/--no-feature", default=None, help="Put it in « À la une », or not.")
@pass_context
def edit_article(context: Context, article_id: int, country: str | None, day: str | None,
                 title: str | None, feature: bool | None) -> None:
    """Correct an article's country, date, title or featured flag; clears needs-review."""
    new_country: Country | None = parse_country(country, field_name="--country") \
        if country else None
    published = parse_day(day) if day else None
    if country is None and day is None and title is None and feature is None:
        raise InputError("nothing to change: give --country, --date, --title or "
                         f"--feature/--no-feature (bot articles approve {article_id} lets it "
                         "go out as it is)")
    if title is not None:
        title = " ".join(title.split())
        if not title:
            raise InputError("--title must not be blank")
    with context.open_store() as store:
        article = store.edit_article(article_id, context.now(), title=title,
                                     country=new_country, published=published,
                                     featured=feature)
    _echo_articles([article])


@articles.command("approve")
@click.argument("article_ids", metavar="ID…", type=int, nargs=-1, required=True)
@pass_context
def approve_articles(context: Context, article_ids: tuple[int, ...]) -> None:
    """Let articles that need review go out as they are (clears needs-review)."""
    with context.open_store() as store:
        approved = store.approve_articles(list(dict.fromkeys(article_ids)), context.now())
    _echo_articles(approved)


def _echo_articles(found: list[Article]) -> None:
    rows = [(str(a.id), a.published.isoformat(), a.date_source.value, a.country.value,
             "★" if a.featured else "", a.needs_review or "", one_line(a.title)) for a in found]
    columns(rows, ("ID", "DATE", "DATED BY", "COUNTRY", "", "REVIEW", "TITLE"))
    click.echo(plural(len(found), "article"))


def _echo_drafts(found: list[NewArticle], stored: set[str], links: dict[str, int]) -> None:
    def status(a: NewArticle) -> str:
        if a.content_hash in links:
            return f"matched #{links[a.content_hash]}"
        return "stored" if a.content_hash in stored else "new"

    rows = [(a.location, a.published.isoformat(), a.date_source.value, a.country.value,
             status(a), a.needs_review or "", one_line(a.title)) for a in found]
    columns(rows, ("FROM", "DATE", "DATED BY", "COUNTRY", "STATUS", "REVIEW", "TITLE"))
