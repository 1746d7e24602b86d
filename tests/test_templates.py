"""A newsroom's own templates (BOT_TEMPLATES_DIR): a file there wins over the shipped one of
the same name, everything else stays shipped, values stay escaped; and where the shipped
templates and catalogs are found in a checkout."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from bot.config import Settings
from bot.delivery.mail_transport import Outbox
from bot.render.email import Masthead, render_email
from bot.render.environment import environment
from bot.shipped import locales_dir, templates_dir
from bot.web import create_app
from tests.conftest import NOW, ROOT, SAMPLE, Bot
from tests.test_render import digest_of, item

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

HOSTILE_NAME = 'Nouvelles <script>alert(1)</script> & "Cie"'
LOGO = "https://lettre.example.org/logo-blanc.png"
COLOUR = "#7a1f2b"
SHIPPED_MASTHEAD = "font-size:26px"  # the shipped masthead's name, as MJML compiles it


def readme_masthead() -> str:
    """The custom masthead README shows (its indented block after the file's name)."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = next(n for n, line in enumerate(lines)
                 if "`newsroom-templates/email/masthead.mjml.j2`" in line)
    block = []
    for line in lines[start + 1:]:
        if line.startswith("    "):
            block.append(line[4:])
        elif block:
            break
    assert block, "README shows no custom masthead"
    return "\n".join(block) + "\n"


@pytest.fixture
def newsroom(tmp_path: Path) -> Path:
    """An override folder holding README's custom masthead."""
    folder = tmp_path / "newsroom-templates"
    (folder / "email").mkdir(parents=True)
    (folder / "email" / "masthead.mjml.j2").write_text(readme_masthead(), encoding="utf-8")
    return folder


def preview_w14(bot: Bot, tmp_path: Path, **env: str) -> str:
    assert bot("import", str(SAMPLE)).exit_code == 0
    result = bot("preview", "--week", "2025-W14", BOT_DIGESTS_DIR=str(tmp_path / "digests"),
                 **env)
    assert result.exit_code == 0, result.stderr
    return (tmp_path / "digests" / "previews" / "2025-W14" / "email.html").read_text(
        encoding="utf-8")


def test_readme_masthead_replaces_the_shipped_one_in_bot_preview(
        bot: Bot, tmp_path: Path, newsroom: Path) -> None:
    html = preview_w14(bot, tmp_path, BOT_TEMPLATES_DIR=str(newsroom))
    assert f'src="{LOGO}"' in html and COLOUR in html
    assert 'alt="Nouvelles d&#39;Asie centrale"' in html  # the name, escaped, as the logo's alt
    assert "Semaine du 31 mars au 6 avril 2025" in html
    assert SHIPPED_MASTHEAD not in html
    # The rest is the shipped layout: sections, articles, the footer's links.
    for shipped in ("Asie centrale", "Kazakhstan", "Ouzbékistan", "Voir dans le navigateur",
                    "Gérer mes préférences", "Se désabonner", "frontière stratégique"):
        assert shipped in html, shipped
    text = (tmp_path / "digests" / "previews" / "2025-W14" / "email.txt").read_text(
        encoding="utf-8")
    assert LOGO not in text and "Se désabonner" in text


def test_without_the_setting_the_shipped_masthead_stays(bot: Bot, tmp_path: Path) -> None:
    html = preview_w14(bot, tmp_path)
    assert SHIPPED_MASTHEAD in html and LOGO not in html


def test_values_stay_escaped_in_an_overriding_template(
        bot: Bot, tmp_path: Path, newsroom: Path) -> None:
    html = preview_w14(bot, tmp_path, BOT_TEMPLATES_DIR=str(newsroom),
                       BOT_NEWSLETTER_NAME=HOSTILE_NAME)
    assert "<script>" not in html
    assert 'alt="Nouvelles &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;Cie&#34;"' in html


def test_a_footer_without_the_unsubscribe_link_is_refused(bot: Bot, tmp_path: Path) -> None:
    folder = tmp_path / "newsroom-templates"
    (folder / "email").mkdir(parents=True)
    shipped = (templates_dir() / "email" / "footer.mjml.j2").read_text(encoding="utf-8")
    assert "{{ unsubscribe_placeholder }}" in shipped
    (folder / "email" / "footer.mjml.j2").write_text(
        shipped.replace("{{ unsubscribe_placeholder }}", "https://example.org/"),
        encoding="utf-8")
    assert bot("import", str(SAMPLE)).exit_code == 0
    result = bot("preview", "--week", "2025-W14", BOT_DIGESTS_DIR=str(tmp_path / "digests"),
                 BOT_TEMPLATES_DIR=str(folder))
    assert result.exit_code == 2
    assert result.stderr == ("error: email/footer.mjml.j2 (BOT_TEMPLATES_DIR) must keep "
                             "{{ unsubscribe_placeholder }}: each reader's own link goes "
                             "there\n")
    assert not (tmp_path / "digests" / "previews" / "2025-W14" / "email.html").exists()


def test_the_environment_is_one_per_locale_and_folder(newsroom: Path) -> None:
    digest = digest_of(item(1, url="https://ex.org/1"))
    plain = Masthead("Nouvelles", "https://ex.org/archive/2025-W14/")
    custom = Masthead("Nouvelles", "https://ex.org/archive/2025-W14/", templates=newsroom)
    before = render_email(digest, plain).html
    assert LOGO in render_email(digest, custom).html
    assert LOGO in render_email(digest, custom, "ru").html
    assert render_email(digest, plain).html == before  # the shipped one is untouched
    assert environment("fr", newsroom) is not environment("fr")
    assert environment("fr", newsroom) is environment("fr", newsroom)


# -- the web pages ------------------------------------------------------------------------

WEB_MASTHEAD = '<p class="masthead newsroom"><img src="/logo.png" alt="{{ newsletter_name }}">'


@pytest.fixture
def site(tmp_path: Path) -> Iterator[TestClient]:
    folder = tmp_path / "web-templates"
    (folder / "web").mkdir(parents=True)
    shipped = (templates_dir() / "web" / "base.html.j2").read_text(encoding="utf-8")
    masthead = re.search(r'<p class="masthead">.*</p>\n', shipped)
    assert masthead is not None
    (folder / "web" / "base.html.j2").write_text(
        shipped.replace(masthead.group(0), WEB_MASTHEAD + "</p>\n"), encoding="utf-8")
    settings = Settings.from_environ({
        "BOT_DATABASE": str(tmp_path / "bot.sqlite3"), "BOT_DIGESTS_DIR": str(tmp_path),
        "BOT_OUTBOX": str(tmp_path / "outbox"), "BOT_SECRET_KEY": "a-test-secret-long-enough",
        "BOT_TEMPLATES_DIR": str(folder), "BOT_NEWSLETTER_NAME": HOSTILE_NAME})
    app = create_app(settings, "a-test-secret-long-enough", lambda: NOW,
                     lambda: Outbox(settings.outbox))
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def test_a_web_page_template_can_be_overridden(site: TestClient) -> None:
    for path in ("/", "/archive/", "/confirm/nonsense"):
        page = site.get(path).text
        assert '<p class="masthead newsroom"><img src="/logo.png" alt="Nouvelles &lt;script&gt;' \
            in page, path
        assert "<script>" not in page
    front = site.get("/").text  # the shipped page and form, in the newsroom's frame
    assert '<form method="post" action="subscribe">' in front and "Kazakhstan" in front


# -- the setting --------------------------------------------------------------------------

def test_config_check_shows_the_folder(bot: Bot, newsroom: Path) -> None:
    result = bot("config", "check", BOT_TEMPLATES_DIR=str(newsroom))
    assert result.exit_code == 0, result.stderr
    assert re.search(rf"^BOT_TEMPLATES_DIR +{re.escape(str(newsroom))}$", result.stdout,
                     re.MULTILINE)
    unset = bot("config", "check")
    assert re.search(r"^BOT_TEMPLATES_DIR +\(not set\)$", unset.stdout, re.MULTILINE)


@pytest.mark.parametrize("make", ["missing", "file"])
def test_a_folder_that_is_not_there_is_a_config_error(bot: Bot, tmp_path: Path,
                                                      make: str) -> None:
    target = tmp_path / "newsroom-templates"
    if make == "file":
        target.write_text("not a folder")
    for command in (("config", "check"), ("preview", "--week", "2025-W14")):
        result = bot(*command, BOT_TEMPLATES_DIR=str(target))
        assert result.exit_code == 2, command
        assert result.stderr == (f"error: BOT_TEMPLATES_DIR must be an existing folder, got "
                                 f"'{target}'\n")
        assert result.stdout == ""


# -- where the shipped files are ----------------------------------------------------------

def test_a_checkout_reads_the_top_level_folders() -> None:
    assert templates_dir() == ROOT / "templates"
    assert locales_dir() == ROOT / "locales"
    assert not (ROOT / "bot" / "templates").exists()
    assert not (ROOT / "bot" / "locales").exists()
