"""The email as readers see it: Debian's Chromium, driven by Playwright, opens the rendered
`email.html` on a 320 px phone and a 1024 px desktop, in light and dark mode.

Long because one Chromium session serves every width and colour scheme, and the page
measurements they share are helpers of this file.

- 320 px: the page does not scroll sideways, no text is clipped by a box that hides its
  overflow, no text runs off the screen, and a 120-character unbroken word wraps.
- 1024 px: the content column is at most 600 px wide.
- 320 px: every entry of the table of contents is on one line and its link leads to its
  section's heading (the page scrolls to it).
- Light and dark (`prefers-color-scheme`): every element showing text has a WCAG contrast
  ratio of at least 4.5 between its text colour and the background behind it.

Two emails: a synthetic week of 60 articles over every section, rendered by
`bot.render.email`, and the bundled sample through `bot import` and `bot preview`. Every case
leaves a full-page screenshot in one folder, whose path each test prints.

One browser for the module. Without /usr/bin/chromium the tests skip, except under `CI=true`
where they fail: CI installs it (`.ci/run`). Playwright never downloads a browser here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import pytest
from playwright.sync_api import Browser, Page

from bot.digest import Digest, IsoWeek, Item, Section
from bot.model import Country
from bot.render.email import Masthead, render_email
from tests.conftest import SAMPLE, Bot

PHONE, DESKTOP = 320, 1024
COLUMN_MAX = 600
MIN_CONTRAST = 4.5
WEEK = IsoWeek(2025, 14)
SITE = "https://nouvelles-asie-centrale.fr"
UNSUBSCRIBE = f"{SITE}/desabonnement?jeton=eyJzIjoxMjg0LCJ3IjoiMjAyNS1XMTQifQ.Zk3v9Qm2"
PREFERENCES = f"{SITE}/preferences?jeton=eyJzIjoxMjg0fQ.a8Rt2LpX"
# One word of 120 characters with no break opportunity (no hyphen, no space).
LONG_WORD = ("https://stat.gov.kg/publications/rapportannuel2025" + "marchedutravail" * 10)[:120]




@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("email-screenshots")


@contextmanager
def opened(browser: Browser, email: Path, width: int,
           scheme: Literal["light", "dark"] = "light") -> Iterator[Page]:
    """`email` in a fresh page `width` px wide, `scheme` emulated, the network shut."""
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  device_scale_factor=1)
    try:
        context.route(re.compile(r"^(?!file:)"), lambda route: route.abort())
        page = context.new_page()
        page.emulate_media(color_scheme=scheme)
        page.goto(email.as_uri())
        assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") is (
            scheme == "dark")
        yield page
    finally:
        context.close()


def shoot(page: Page, folder: Path, name: str, capsys: pytest.CaptureFixture[str],
          measured: str) -> None:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    with capsys.disabled():
        print(f"\n  {name}: {measured}; screenshot {path}")


# -- the emails ---------------------------------------------------------------------------

# Per section: how the lead names the country, and the places its titles lead with.
PLACES: dict[Country, tuple[str, tuple[str, ...]]] = {
    Country.REGION: ("des cinq pays d’Asie centrale",
                     ("Asie centrale", "Samarcande", "Bruxelles", "Vallée de Ferghana",
                      "Mer d’Aral", "Bakou", "Pékin", "Moscou", "Genève")),
    Country.KZ: ("du Kazakhstan",
                 ("Astana", "Almaty", "Chymkent", "Karaganda", "Aktaou", "Atyraou",
                  "Pavlodar", "Semeï", "Kostanaï", "Turkestan", "Baïkonour")),
    Country.KG: ("du Kirghizstan",
                 ("Bichkek", "Och", "Karakol", "Djalal-Abad", "Naryn", "Talas",
                  "Batken", "Tcholpon-Ata", "Issyk-Koul")),
    Country.UZ: ("de l’Ouzbékistan",
                 ("Tachkent", "Samarcande", "Boukhara", "Khiva", "Noukous", "Namangan",
                  "Andijan", "Ferghana", "Termez", "Navoï")),
    Country.TJ: ("du Tadjikistan",
                 ("Douchanbé", "Khodjent", "Kouliab", "Khorog", "Bokhtar", "Pendjikent",
                  "Istaravchan", "Rogoun", "Vakhch")),
    Country.TM: ("du Turkménistan",
                 ("Achgabat", "Turkmenbachi", "Mary", "Dachoguz", "Turkmenabat",
                  "Balkanabat", "Arkadag")),
    Country.OTHER: ("de l’Afghanistan voisin",
                    ("Kaboul", "Oulan-Bator", "Ürümqi", "Téhéran", "Istanbul",
                     "Novossibirsk", "Mazar-e Charif", "Bakou")),
}
TOPICS = (
    ("le gouvernement relève le salaire minimum de 12 %",
     "Le gouvernement {pays} a annoncé une hausse de 12 % du salaire minimum, effective au "
     "1er mai ; les syndicats la jugent « insuffisante » face à une inflation qui reste "
     "au-dessus de 8 % sur un an."),
    ("une nouvelle ligne ferroviaire vers la Chine",
     "Le premier convoi de marchandises a quitté {ville} mardi à destination de Lanzhou. La "
     "ligne, financée à parts égales, doit réduire de quatre jours le trajet des conteneurs "
     "vers l’Europe."),
    ("sécheresse : les agriculteurs réclament des quotas d’eau",
     "Les débits de l’Amou-Daria et du Syr-Daria sont au plus bas depuis vingt ans. À {ville}, "
     "des centaines d’agriculteurs ont demandé au ministère des ressources hydriques une "
     "répartition plus juste des quotas d’irrigation."),
    ("le président reçoit une délégation européenne",
     "La visite, la troisième en un an, porte sur les matières premières critiques et sur la "
     "route transcaspienne. Les autorités {pays} veulent « diversifier les partenaires » sans "
     "froisser Moscou ni Pékin."),
    ("les prix du pain flambent avant la fête de Nowrouz",
     "Le prix de la miche a pris près de 20 % en un mois sur les marchés de {ville}. Les "
     "boulangers invoquent le coût de la farine importée et de l’électricité ; le ministère "
     "promet des contrôles."),
    ("un journaliste condamné à cinq ans de prison",
     "Le tribunal de {ville} a reconnu coupable d’« appel à troubles de masse » un reporter "
     "indépendant arrêté en janvier. Ses avocats dénoncent un procès à huis clos et feront "
     "appel ; Reporters sans frontières demande sa libération."),
    ("ouverture d’une centrale solaire de 500 mégawatts",
     "Construite par un consortium émirati, la centrale doit couvrir près de 5 % de la "
     "consommation {pays}. Le chantier, lancé il y a deux ans, a employé jusqu’à 2 000 "
     "ouvriers."),
    ("la réforme des retraites adoptée en première lecture",
     "Le parlement a voté le relèvement progressif de l’âge légal de départ de deux ans d’ici "
     "2035. Les retraités de {ville} craignent une baisse des pensions ; le gouvernement "
     "promet une indexation sur les prix."),
    ("faut-il craindre une pénurie de gaz cet hiver ?",
     "Les stocks sont inférieurs d’un tiers à ceux de l’an dernier, selon l’opérateur "
     "national. À {ville}, des coupures ont déjà touché plusieurs quartiers en mars, alors que "
     "les exportations vers la Chine augmentent."),
    ("un festival de cinéma met à l’honneur les réalisatrices",
     "Douze films de réalisatrices sont en compétition cette année à {ville}. La direction du "
     "festival veut « donner de la visibilité à une génération » que les financements publics "
     "oublient encore trop souvent."),
    ("le chômage des jeunes au plus haut depuis 2020",
     "Selon l’office statistique {pays}, près d’un jeune sur cinq ne trouve pas d’emploi. "
     "Beaucoup partent travailler en Russie ou en Turquie ; à {ville}, les agences de "
     "recrutement ne désemplissent pas."),
    ("inauguration d’un musée consacré à la route de la soie",
     "Le musée, installé dans un ancien caravansérail de {ville}, expose céramiques, "
     "manuscrits et textiles prêtés par une dizaine de collections. Les autorités espèrent "
     "doubler le nombre de visiteurs étrangers d’ici trois ans."),
)
EXTRA = (
    " Les observateurs rappellent que la question divise la région depuis l’indépendance.",
    " Le ministère des affaires étrangères n’a pas souhaité commenter ces informations.",
    " Une réunion de suivi est prévue le 15 mai 2025 à Astana, en marge du sommet C5+1.",
)
SECTION_SIZES = {Country.REGION: 8, Country.KZ: 10, Country.KG: 8, Country.UZ: 9,
                 Country.TJ: 8, Country.TM: 6, Country.OTHER: 8}  # 57, and 3 featured
# (the featured are listed in their sections too: À la une never empties one)


def synthetic_digest() -> Digest:
    """60 articles over every section, 3 featured; leads of 200–500 characters, most with an
    https link, one link that is not http(s), one lead with a 120-character word."""
    items: dict[Country, list[Item]] = {}
    number = 0
    for offset, (country, size) in enumerate(SECTION_SIZES.items()):
        pays, villes = PLACES[country]
        for n in range(size + (1 if country in (Country.REGION, Country.KZ, Country.UZ) else 0)):
            number += 1
            topic, lead = TOPICS[(n + offset * 5) % len(TOPICS)]
            ville = villes[n % len(villes)]
            lead = lead.format(pays=pays, ville=ville)
            if country is Country.KG and n == 2:
                lead += f" Le rapport complet est en ligne : {LONG_WORD}"
            else:
                lead += "".join(EXTRA[: 1 + number % 3])
            url = (None if number % 7 == 0 else "javascript:alert(1)" if number == 10
                   else f"{SITE}/2025/04/{country.value.lower()}-{number}-article")
            items.setdefault(country, []).append(Item(
                number, f"{ville} : {topic}", lead, url,
                WEEK.sunday - dt.timedelta(days=n % 7), country))
    for item in (i for found in items.values() for i in found):
        assert 200 <= len(item.lead) <= 500, (len(item.lead), item.lead)
    featured = (items[Country.KZ][0], items[Country.UZ][0], items[Country.REGION][0])
    digest = Digest(WEEK, featured, tuple(Section(c, tuple(items[c])) for c in SECTION_SIZES))
    assert len(digest.items) == 60
    assert sum(LONG_WORD in i.lead for i in digest.items) == 1
    return digest


@pytest.fixture(params=["synthetic", "sample"])
def email(request: pytest.FixtureRequest, bot: Bot, tmp_path: Path) -> tuple[str, Path]:
    """(name, path) of an `email.html` rendered by the project's own code."""
    if request.param == "synthetic":
        rendered = render_email(synthetic_digest(), Masthead(
            "Nouvelles d'Asie centrale", f"{SITE}/archive/{WEEK}/",
            "Nouvelles d’Asie centrale, 12 rue des Caravanes, 75011 Paris"))
        html, _ = rendered.personalize(UNSUBSCRIBE, PREFERENCES)
        path = tmp_path / "email.html"
        path.write_text(html, encoding="utf-8")
        return "synthetic", path
    digests = tmp_path / "digests"
    imported = bot("import", str(SAMPLE))
    assert imported.exit_code == 0, imported.stderr
    shown = bot("preview", "--week", str(WEEK), BOT_DIGESTS_DIR=str(digests))
    assert shown.exit_code == 0, shown.stderr
    path = digests / "previews" / str(WEEK) / "email.html"  # a preview is never published
    assert f"wrote {path.resolve()}" in shown.stdout
    return "sample", path


# -- what the browser measures ------------------------------------------------------------

# Text nodes a reader sees: not blank, in a rendered element, with a box on the page.
# Spliced into the functions below.
VISIBLE_TEXT_JS = """
function visibleTextNodes() {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.data.trim() || !el) continue;
    if (!el.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const rects = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0);
    if (rects.length) found.push({node, el, rects});
  }
  return found;
}
"""

LAYOUT_JS = """(longWord) => {
""" + VISIBLE_TEXT_JS + """
  const texts = visibleTextNodes();
  const describe = el => `${el.tagName.toLowerCase()}${el.className ? '.' + el.className : ''} ` +
      JSON.stringify(el.textContent.trim().slice(0, 60));
  // Boxes that hide or scroll their overflow and hold text wider or taller than they are.
  const clipped = [];
  for (const el of document.body.querySelectorAll('*')) {
    const style = getComputedStyle(el);
    if (style.overflowX === 'visible' && style.overflowY === 'visible') continue;
    if (!el.checkVisibility() || !el.textContent.trim()) continue;
    if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)
      clipped.push(`${describe(el)}: scroll ${el.scrollWidth}x${el.scrollHeight}, ` +
                   `client ${el.clientWidth}x${el.clientHeight}`);
  }
  // Text whose line boxes leave the screen on either side.
  const offscreen = [];
  for (const {el, rects} of texts)
    for (const r of rects)
      if (r.left < -0.5 || r.right > innerWidth + 0.5)
        offscreen.push(`${describe(el)}: ${r.left.toFixed(1)}..${r.right.toFixed(1)}`);
  // The lines the long word is laid out on, if the page has it.
  let longWordLines = null;
  for (const {node} of texts) {
    const at = node.data.indexOf(longWord);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + longWord.length);
    longWordLines = new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
  }
  const left = Math.min(...texts.flatMap(t => t.rects.map(r => r.left)));
  const right = Math.max(...texts.flatMap(t => t.rects.map(r => r.right)));
  const sections = [...document.querySelectorAll('.digest > div')]
      .filter(el => el.checkVisibility()).map(el => el.getBoundingClientRect().width);
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth,
          texts: texts.length, clipped, offscreen, longWordLines,
          textExtent: right - left, sectionWidth: Math.max(...sections),
          sections: sections.length};
}
"""

CONTRAST_JS = """() => {
""" + VISIBLE_TEXT_JS + """
  // Any CSS colour → [r, g, b, a] in sRGB 0–255, alpha 0–1, as the browser paints it.
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const cache = new Map();
  const rgba = css => {
    if (!cache.has(css)) {
      ctx.clearRect(0, 0, 1, 1);
      ctx.fillStyle = '#000';
      ctx.fillStyle = css;
      ctx.fillRect(0, 0, 1, 1);
      const [r, g, b, a] = ctx.getImageData(0, 0, 1, 1).data;
      cache.set(css, [r, g, b, a / 255]);
    }
    return cache.get(css);
  };
  const over = (top, below) => [0, 1, 2].map(i => top[3] * top[i] + (1 - top[3]) * below[i]);
  const luminance = rgb => {
    const [r, g, b] = rgb.map(v => {
      const c = v / 255;
      return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  // The canvas under everything: dark when the page opts into dark and the reader wants it.
  const root = document.documentElement;
  const meta = document.querySelector('meta[name="color-scheme"]');
  const optsIn = getComputedStyle(root).colorScheme.includes('dark') ||
      (meta && meta.content.includes('dark'));
  const canvasColour = matchMedia('(prefers-color-scheme: dark)').matches && optsIn
      ? [18, 18, 18] : [255, 255, 255];
  // The background behind `el`: its own and its ancestors' colours, down to an opaque one.
  const background = el => {
    const layers = [];
    let image = null;
    for (let at = el; at; at = at.parentElement) {
      const style = getComputedStyle(at);
      if (style.backgroundImage !== 'none') image = at;
      const colour = rgba(style.backgroundColor);
      if (colour[3] > 0) layers.push(colour);
      if (colour[3] >= 1) break;
    }
    let painted = canvasColour;
    for (const layer of layers.reverse()) painted = over(layer, painted);
    return {painted, image};
  };
  const results = [];
  for (const el of new Set(visibleTextNodes().map(t => t.el))) {
    const style = getComputedStyle(el);
    const {painted, image} = background(el);
    let opacity = 1;
    for (let at = el; at; at = at.parentElement) opacity *= Number(getComputedStyle(at).opacity);
    const text = over([...over(rgba(style.color), painted), opacity], painted);
    const [hi, lo] = [luminance(text), luminance(painted)].sort((a, b) => b - a);
    results.push({ratio: (hi + 0.05) / (lo + 0.05), colour: style.color,
                  background: `rgb(${painted.map(Math.round).join(', ')})`,
                  backgroundImage: image ? image.tagName : null,
                  element: el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''),
                  text: el.textContent.trim().slice(0, 60)});
  }
  return results;
}
"""


def layout(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(LAYOUT_JS, LONG_WORD)
    assert result["texts"] >= 10, "the email shows almost no text: did it render?"
    return result


# -- the tests ----------------------------------------------------------------------------

def test_at_320px_nothing_overflows_and_no_text_is_cut(
        browser: Browser, email: tuple[str, Path], screenshots: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    name, path = email
    with opened(browser, path, PHONE) as page:
        found = layout(page)
        long_word = (f", the long word on {found['longWordLines']} lines"
                     if found["longWordLines"] else "")
        shoot(page, screenshots, f"{name}-{PHONE}px-overflow", capsys,
              f"scrollWidth {found['scrollWidth']} for innerWidth {found['innerWidth']}"
              + long_word)
    assert found["innerWidth"] == PHONE
    assert found["scrollWidth"] <= found["innerWidth"], "the page scrolls sideways"
    assert found["clipped"] == [], "text cut by a box hiding its overflow"
    assert found["offscreen"] == [], "text running off the screen"
    if name == "synthetic":  # the 120-character word is broken over several lines
        assert found["longWordLines"] is not None, "the long word is not on the page"
        assert found["longWordLines"] >= 2


def test_at_1024px_the_column_is_at_most_600px(
        browser: Browser, email: tuple[str, Path], screenshots: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    name, path = email
    with opened(browser, path, DESKTOP) as page:
        found = layout(page)
        shoot(page, screenshots, f"{name}-{DESKTOP}px-column", capsys,
              f"column {found['sectionWidth']:.0f} px over {found['sections']} sections, "
              f"text spans {found['textExtent']:.0f} px")
    assert found["scrollWidth"] <= found["innerWidth"]
    assert found["sections"] >= 3
    assert found["sectionWidth"] <= COLUMN_MAX
    assert found["textExtent"] <= COLUMN_MAX
    assert found["offscreen"] == []
    assert found["clipped"] == []


CONTENTS_JS = """() => [...document.querySelectorAll('a[href^="#"]')].map(a => {
  const target = a.getAttribute('href').slice(1);
  const anchor = document.getElementById(target) || document.getElementsByName(target)[0];
  return {target, text: a.textContent, lines: a.getClientRects().length,
          heading: anchor ? anchor.parentElement.textContent.trim() : null};
})"""


def test_at_320px_the_contents_link_each_section_on_one_line(
        browser: Browser, email: tuple[str, Path], screenshots: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    name, path = email
    with opened(browser, path, PHONE) as page:
        entries: list[dict[str, Any]] = page.evaluate(CONTENTS_JS)
        assert len(entries) >= 3, "no table of contents"
        last = entries[-1]
        page.click(f'a[href="#{last["target"]}"]')
        page.wait_for_function("() => window.scrollY > 0")
        top, scrolled, bottom = page.evaluate(f"""() => [
            document.getElementById('{last["target"]}').getBoundingClientRect().top,
            window.scrollY,
            window.scrollY + innerHeight >= document.documentElement.scrollHeight - 1]""")
        page.evaluate("() => window.scrollTo(0, 0)")
        path_png = screenshots / f"{name}-{PHONE}px-contents.png"
        page.screenshot(path=str(path_png))  # the first screen, as a phone shows it
        with capsys.disabled():
            print(f"\n  {name}-{PHONE}px-contents: {len(entries)} entries, "
                  f"{last['text']!r} scrolls to {scrolled} px; screenshot {path_png}")
    for entry in entries:
        assert entry["lines"] == 1, entry  # "Kazakhstan (14)" never broken
        assert entry["heading"] is not None, entry  # the target exists
        section = entry["text"].rsplit("\u00a0(", 1)[0]
        assert section in entry["heading"], entry  # ... and is its section's heading
    # Its heading at the top of the screen (or on it, when the page can scroll no further).
    assert scrolled > 0 and (abs(top) <= 2 or (bottom and 0 <= top < 900)), (top, scrolled)


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_text_has_a_contrast_of_at_least_4_5(
        browser: Browser, email: tuple[str, Path], scheme: Literal["light", "dark"], width: int,
        screenshots: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name, path = email
    with opened(browser, path, width, scheme) as page:
        results: list[dict[str, Any]] = page.evaluate(CONTRAST_JS)
        lowest = min(results, key=lambda r: r["ratio"])
        shoot(page, screenshots, f"{name}-{width}px-{scheme}", capsys,
              f"{len(results)} text elements, lowest contrast {lowest['ratio']:.2f} "
              f"({lowest['colour']} on {lowest['background']}, {lowest['element']})")
    assert len(results) >= 10, "the email shows almost no text: did it render?"
    assert [r for r in results if r["backgroundImage"]] == [], (
        "text over a background image: its contrast cannot be checked")
    poor = [f"{r['ratio']:.2f} {r['colour']} on {r['background']} {r['element']} "
            f"{r['text']!r}" for r in results if r["ratio"] < MIN_CONTRAST]
    assert poor == [], f"{scheme} mode, {width} px: contrast under {MIN_CONTRAST}"
