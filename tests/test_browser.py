"""The book built at the ci profile, opened page by page in headless Chromium, offline.

Needs Playwright (pip, pinned in environment.yml) and a Chromium binary: Playwright's own
browser download needs the network, so the test drives the distribution's package
(Debian: ``apt-get install chromium``; ``.ci/run`` installs it when absent). Without either,
the test fails and says how to install it.

Figure rule: at a 1280 x 900 window every figure is shown at no less than
``MIN_FIGURE_SCALE`` of its pixel width, so a 10-pt label of a 100-dpi matplotlib figure is
at least 8 px tall on screen.

Width rule ("nothing cut off", ``OVERFLOW_JS``): at the same window, every element of a page's
text column lies inside the column; nothing is clipped by a box that hides its overflow; and
no box needs a horizontal scroll to show its content, except a wide table or a wide display
equation, which scroll inside their own box. Code cells and text outputs therefore wrap their
long lines (book/_static/modcore.css): a printed verdict is read whole, not cut at the
column's edge with its end behind a scroll bar the reader does not see.
"""

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

pytestmark = pytest.mark.slow  # builds the book and opens every page (minutes); `pytest -m "not slow"` leaves it out

MIN_FIGURE_SCALE = 0.6
WINDOW = {"width": 1280, "height": 900}
SCREENSHOTS = {"book/_executed/scorecard.html": "scorecard.png", "book/_executed/essay_modularity.html": "essay.png",
               "book/_executed/execution_stats.html": "execution_stats.png"}
RAW_TEX = ("\\(", "\\)", "\\[", "\\]", "$$", "\\begin{")


def chromium_path() -> str:
    """The Chromium binary: $MODCORE_CHROMIUM, else the first of the usual names on PATH."""
    candidates = [os.environ.get("MODCORE_CHROMIUM")] + [shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")]
    found = next((path for path in candidates if path and Path(path).exists()), None)
    if found is None:
        pytest.fail("no Chromium found for the browser test: install the distribution's package "
                    "(Debian/Ubuntu: `apt-get update && apt-get install -y chromium`; .ci/run does this "
                    "when it runs as root) or set MODCORE_CHROMIUM to a Chromium/Chrome binary", pytrace=False)
    return found


# What one page showed; collected once per page by the `pages` fixture, checked by the tests.
@dataclass
class Page:
    failed: list[str] = field(default_factory=list)     # requests that failed
    remote: list[str] = field(default_factory=list)     # requests to anything but a local file
    broken_images: list[str] = field(default_factory=list)
    errors: int = 0                                      # cell error / traceback outputs
    raw_tex: list[str] = field(default_factory=list)     # untypeset TeX left in the text
    untypeset: int = 0                                   # math elements without a MathJax container
    math_errors: int = 0                                 # MathJax error boxes
    links: list[str] = field(default_factory=list)      # local file links (absolute URLs)
    small_figures: list[str] = field(default_factory=list)
    bad_alt: list[str] = field(default_factory=list)    # figures whose alt text is empty or a file name
    cut_off: list[str] = field(default_factory=list)    # content wider than the column, clipped or scrolled away
    height: int = 0                                      # the page's full height in CSS px (its screenshot's)


FACTS_JS = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  await document.fonts.ready;
  const images = [...document.images];
  await Promise.all(images.map((img) => img.decode().catch(() => null)));
  const article = document.querySelector("article") || document.body;
  const text = article.cloneNode(true);
  text.querySelectorAll("pre, code, script, style, mjx-container").forEach((node) => node.remove());
  const figures = [...article.querySelectorAll("img")].filter((img) => img.naturalWidth > 0);
  return {
    broken: images.filter((img) => !(img.complete && img.naturalWidth > 0)).map((img) => img.getAttribute("src")),
    errors: article.querySelectorAll(".output.error, .output.traceback, .tag_papermill-error-cell-tag").length,
    text: text.textContent,
    math: [...article.querySelectorAll(".math")].filter((el) => !el.querySelector("mjx-container")).length,
    mathErrors: article.querySelectorAll("mjx-merror").length,
    links: [...document.querySelectorAll("a[href]")].map((a) => a.href),
    figures: figures.map((img) => [img.getAttribute("src"), img.getBoundingClientRect().width, img.naturalWidth]),
    alts: figures.map((img) => [img.getAttribute("src"), (img.getAttribute("alt") || "").trim()]),
  };
}"""


# Every element of the text column, measured: one line per element that is wider than the
# column (outside any scroll box), clipped by a box that hides overflow, or a box other than a
# table's or a display equation's that needs a horizontal scroll. Only the outermost offender
# of a nest is reported.
OVERFLOW_JS = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  await Promise.all([...document.images].map((img) => img.decode().catch(() => null)));
  const column = document.querySelector("article.bd-article, main article, article") || document.body;
  const edge = column.getBoundingClientRect();
  const scrolls = (style) => style.overflowX === "auto" || style.overflowX === "scroll";
  const clips = (style) => style.overflowX === "hidden" || style.overflowX === "clip";
  const may_scroll = (el) => el.matches("mjx-container") || el.querySelector("table") !== null;
  const name = (el) => el.tagName.toLowerCase() + [...el.classList].slice(0, 3).map((c) => "." + c).join("");
  const words = (el) => (el.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 70);
  const found = [], flagged = new Set();
  if (document.documentElement.scrollWidth > window.innerWidth + 1) {
    found.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px wide in a ${window.innerWidth} px window`);
  }
  for (const el of column.querySelectorAll("*")) {
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") continue;
    // A formula is measured as a whole: its glyphs overhang by a pixel or two, and its hidden
    // copy for screen readers (mjx-assistive-mml) is clipped on purpose.
    if (el.parentElement && el.parentElement.closest("mjx-container")) continue;
    if (el.closest(".visually-hidden, .sr-only")) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    let holder = el.parentElement;
    while (holder && holder !== column && !scrolls(getComputedStyle(holder)) && !clips(getComputedStyle(holder))) {
      holder = holder.parentElement;
    }
    let why = null;
    // a box that lets its content overflow visibly reaches as far as its content does
    const right = Math.max(box.right, style.overflowX === "visible" && !el.matches("mjx-container") ? box.left + el.scrollWidth : 0);
    if (!holder || holder === column) {
      const over = Math.max(right - edge.right, edge.left - box.left);
      if (over > 1) why = `wider than the text column by ${over.toFixed(0)} px`;
    } else if (clips(getComputedStyle(holder))) {
      const limit = holder.getBoundingClientRect();
      const over = Math.max(right - limit.right, limit.left - box.left);
      if (over > 1 && limit.width > 2) why = `cut off by its ${name(holder)} by ${over.toFixed(0)} px`;
    }
    if (why === null && scrolls(style) && el.scrollWidth > el.clientWidth + 1 && !may_scroll(el)) {
      why = `hidden behind a horizontal scroll: ${el.scrollWidth} px of content in ${el.clientWidth} px`;
    }
    if (why === null) continue;
    let outer = el.parentElement;
    while (outer && !flagged.has(outer)) outer = outer.parentElement;
    flagged.add(el);
    if (!outer) found.push(`${name(el)} ${why}: "${words(el)}"`);
  }
  return found;
}"""


def _visit(browser, url: str, screenshot: Path | None) -> Page:
    page_facts = Page()
    context = browser.new_context(viewport=WINDOW)
    page = context.new_page()
    page.on("requestfailed", lambda request: page_facts.failed.append(f"{request.url} ({request.failure})"))
    page.on("request", lambda request: None if urlparse(request.url).scheme in ("file", "data", "blob", "about")
            else page_facts.remote.append(request.url))
    # The site's root index.html is a redirect stub (a zero-delay meta refresh): read the page
    # the browser ends on, not the stub the refresh is tearing down. (Known from the file, not
    # from the page, which may already be navigating away when asked.)
    redirects = re.search(r'http-equiv="refresh"', Path(unquote(urlparse(url).path)).read_text(), re.I) is not None
    response = page.goto(url, wait_until="load")
    if response is not None and not response.ok:
        page_facts.failed.append(f"{url} ({response.status})")
    if redirects:
        page.wait_for_url(lambda now: now != url, wait_until="load")
    # Settled: FACTS_JS awaits the typesetting, the fonts and every image's decoding. (Not
    # "networkidle": on file:// pages it sometimes never came, at random, under load.)
    facts = page.evaluate(FACTS_JS)
    page_facts.broken_images = facts["broken"]
    page_facts.errors = facts["errors"]
    page_facts.raw_tex = [token for token in RAW_TEX if token in facts["text"]]
    page_facts.untypeset = facts["math"]
    page_facts.math_errors = facts["mathErrors"]
    page_facts.links = [link for link in facts["links"] if urlparse(link).scheme == "file"]
    page_facts.small_figures = [f"{src}: {shown:.0f} px of {natural} px" for src, shown, natural in facts["figures"]
                                if shown < MIN_FIGURE_SCALE * natural]
    page_facts.bad_alt = [f"{src}: alt={alt!r}" for src, alt in facts["alts"]
                          if not alt or "_images/" in alt or alt.lower().endswith((".png", ".svg", ".jpg"))]
    page_facts.cut_off = page.evaluate(OVERFLOW_JS)
    page_facts.height = page.evaluate("document.documentElement.scrollHeight")
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    context.close()
    return page_facts


@pytest.fixture(scope="module")
def pages(built_book) -> dict[str, Page]:
    """Every HTML page of the book built at ci: ``{path relative to _build/html: Page}``."""
    assert built_book.returncode == 0, f"the book did not build:\n{built_book.log}"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed: `pip install playwright==1.65.2` (pinned in environment.yml; "
                    "`make install` does it). Its browser download is not needed: the test drives the "
                    "system Chromium.", pytrace=False)
    executable = chromium_path()
    html = built_book.html
    names = sorted(str(p.relative_to(html)) for p in html.rglob("*.html") if p.relative_to(html).parts[0] != "_static")
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            seen = {name: _visit(browser, (html / name).as_uri(),
                                 html / "_screenshots" / SCREENSHOTS[name] if name in SCREENSHOTS else None)
                    for name in names}
        finally:
            browser.close()
    return seen


def _offending(pages: dict[str, Page], attribute: str) -> str:
    """One line per page that shows ``attribute``; empty when none does."""
    return "\n".join(f"{name}: {getattr(page, attribute)}" for name, page in pages.items() if getattr(page, attribute))


def test_every_page_loads_every_request_and_nothing_from_the_network(pages):
    assert len(pages) > 5
    assert not (failed := _offending(pages, "failed")), failed
    assert not (remote := _offending(pages, "remote")), remote


def test_every_image_loads(pages):
    assert not (broken := _offending(pages, "broken_images")), broken


def test_no_page_shows_a_cell_error(pages):
    assert not (errors := _offending(pages, "errors")), errors


def test_every_local_link_points_to_an_existing_file(pages):
    missing = {name: sorted({link for link in page.links if not Path(unquote(urlparse(link).path)).exists()})
               for name, page in pages.items()}
    assert not any(missing.values()), "\n".join(f"{name}: {links}" for name, links in missing.items() if links)


def test_every_formula_is_typeset_by_the_bundled_mathjax(pages):
    assert not (raw := _offending(pages, "raw_tex")), f"TeX left as text:\n{raw}"
    assert not (untypeset := _offending(pages, "untypeset")), f"math elements MathJax did not typeset:\n{untypeset}"
    assert not (bad := _offending(pages, "math_errors")), f"MathJax error boxes:\n{bad}"


def test_every_figure_is_shown_at_least_at_the_stated_fraction_of_its_width(pages):
    small = _offending(pages, "small_figures")
    assert not small, f"figures shown below {MIN_FIGURE_SCALE:.0%} of their pixel width (make them narrower, or split them):\n{small}"


def test_every_figure_has_alt_text_that_describes_it_not_a_file_name(pages):
    assert not (bad := _offending(pages, "bad_alt")), f"figures without a description (mystnb figure alt):\n{bad}"


def test_nothing_is_wider_than_its_column_or_cut_off(pages):
    assert not (cut := _offending(pages, "cut_off")), (
        "content wider than the text column, clipped, or hidden behind a horizontal scroll (only wide tables and "
        f"display equations may scroll; see book/_static/modcore.css):\n{cut}")


def test_screenshots_show_the_whole_page(pages, built_book):
    """Each saved screenshot is the full page at the test's window width, and shows something:
    a blank or half-rendered page (a failed stylesheet, a cropped capture) fails."""
    from PIL import Image

    for page_name, file_name in SCREENSHOTS.items():
        with Image.open(built_book.html / "_screenshots" / file_name) as image:
            width, height = image.size
            grey = image.convert("L").resize((width // 4, height // 4))
        assert (width, height) == (WINDOW["width"], pages[page_name].height), f"{file_name} is not the whole page"
        histogram = grey.histogram()
        inked = sum(histogram[:200]) / sum(histogram)  # pixels darker than the white page
        assert inked > 0.02, f"{file_name} is nearly blank ({inked:.1%} of it is drawn)"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield launched
        launched.close()


WIDE_PAGE = """<!DOCTYPE html><html><head>{css}</head><body style="margin: 0">
<main><article class="bd-article" style="width: 500px">
<div class="cell_input"><div class="highlight"><pre style="overflow: auto">{long}</pre></div></div>
<div class="cell_output"><div class="output text_plain"><pre>{long}</pre></div></div>
<div class="cell_output"><div class="output text_html"><table><tr>{cells}</tr></table></div></div>
</article></main></body></html>"""


@pytest.mark.parametrize("with_book_css", [False, True])
def test_the_width_rule_fails_a_page_without_the_book_css_and_passes_it_with(browser, tmp_path, with_book_css):
    """The rule on a page made to break it: a code line and a printed line longer than the
    column, and a table wider than it. Without the book's stylesheet it must find all three
    (and the page scrolling sideways because of them);
    with it, the lines wrap and the table scrolls in its own box, and it finds nothing."""
    css = (Path(__file__).parents[1] / "book" / "_static" / "modcore.css").read_text() if with_book_css else ""
    page_file = tmp_path / "wide.html"
    page_file.write_text(WIDE_PAGE.format(css=f"<style>{css}</style>", long="verdict: agree " * 60,
                                          cells="<td>a&nbsp;long&nbsp;table&nbsp;cell</td>" * 30))
    page = browser.new_page(viewport=WINDOW)
    page.goto(page_file.as_uri())
    found = page.evaluate(OVERFLOW_JS)
    page.close()
    if with_book_css:
        assert found == []
    else:
        assert len(found) == 4, found
        assert found[0].startswith("the page scrolls sideways"), found
        assert "horizontal scroll" in found[1] and "verdict" in found[1], found  # the code line
        assert "wider than the text column" in found[2] and "verdict" in found[2], found  # the printed line
        assert "wider than the text column" in found[3] and "table cell" in found[3], found
