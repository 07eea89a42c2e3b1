"""Sphinx extension of the modcore book: math without a network, and an author-year bibliography.

* MathJax 3 is served from the build. The files come from the pip package
  ``sphinx-mathjax-offline`` (MathJax 3.2.2); only what a page loads is copied into
  ``_static/mathjax`` (the TeX-to-HTML component, its fonts and the TeX extensions MathJax
  loads on demand): about 2 MB instead of the package's 24 MB. ``mathjax_path`` in
  ``_config.yml`` points at the copy.
* Theme files no page loads are dropped from the build (``PRUNED``): the theme's source maps
  (read only by a browser's developer tools), its translation catalogues (used while
  building, not by the pages) and ``fontawesome.js``, which book/_templates keeps out of
  every page (the theme's CSS draws the icons from its web font). The browser test
  (tests/test_browser.py) checks that no page requests a missing file.
* The citations in the text are author-year (``bibtex_reference_style: author_year``), so the
  reference list is labelled the same way: the pybtex style ``authoryear`` registered here is
  pybtex's ``plain`` style with "Author et al., year" labels, sorted by author and year.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections import Counter
from pathlib import Path

from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.errors import ExtensionError

MATHJAX_PACKAGE = "sphinx-mathjax-offline"
# What the pages load: the combined TeX input + CommonHTML output component, its web fonts,
# and the TeX packages that `autoload` fetches when a formula uses them (e.g. \boldsymbol).
MATHJAX_FILES = ("tex-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions")


def mathjax_source() -> Path:
    spec = importlib.util.find_spec(MATHJAX_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionError(f"the book serves MathJax from the pip package {MATHJAX_PACKAGE!r}, which is not "
                             f"installed: pip install {MATHJAX_PACKAGE}==0.0.2 (pinned in environment.yml)")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"


# Relative to the build's _static folder.
PRUNED = ("scripts/fontawesome.js", "**/*.map", "locales")


def finish_static(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    for pattern in PRUNED:
        for path in static.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    source, target = mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    for item in MATHJAX_FILES:
        if (source / item).is_dir():
            shutil.copytree(source / item, target / item, dirs_exist_ok=True)
        else:
            (target / item).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / item, target / item)


class AuthorYearLabels(BaseLabelStyle):
    """Labels "Newman, 2006", "Shi and Malik, 2000", "Boopathy et al., 2025" (as the in-text
    citations read); a, b, ... on clashes."""

    def format_labels(self, sorted_entries):
        labels = [self.format_label(entry) for entry in sorted_entries]
        clashes, seen = Counter(labels), Counter()
        for label in labels:
            if clashes[label] == 1:
                yield label
            else:
                yield label + chr(ord("a") + seen[label])
                seen[label] += 1

    @staticmethod
    def format_label(entry) -> str:
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [" ".join(person.last_names) or " ".join(person.first_names) for person in people]
        if not names:
            author = entry.fields.get("key", entry.key)
        elif len(names) == 1:
            author = names[0]
        elif len(names) == 2:
            author = f"{names[0]} and {names[1]}"
        else:
            author = f"{names[0]} et al."
        author = author.replace("{", "").replace("}", "")
        return f"{author}, {entry.fields['year']}" if "year" in entry.fields else author


class AuthorYearStyle(PlainStyle):
    default_label_style = "authoryear"
    default_sorting_style = "author_year_title"


def setup(app):
    register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    mathjax_source()  # fail at once, with the install command, rather than after the build
    app.connect("build-finished", finish_static)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
