"""Sphinx extension: every figure of a chapter links to the code that made it.

A chapter's figure cell calls a function of its chapter module (``theorem1.closed_form_figure(p,
closed)``; notebooks import ``from modcore.chapters import NAME``). For each figure whose cell
shows its source, this finds that call, locates the function with :mod:`inspect`, and adds
under the caption: "Made by modcore.chapters.NAME.FUNCTION (file, lines a-b) at commit C",
linked to a highlighted copy of the module written into the build (``_modcore_source/``), with
line anchors, so the link works offline and shows the code as it was when the page was built.
"""

from __future__ import annotations

import html
import importlib
import inspect
import re
import subprocess
from pathlib import Path

from docutils import nodes

SOURCE_DIR = "_modcore_source"
CHAPTER_PACKAGE = "modcore.chapters"
_CALL = re.compile(r"\b([A-Za-z_]\w*)\.([A-Za-z_]\w*)\s*\(")


def _commit(root: Path) -> str:
    """The short commit the book is built from, marked when the checkout has uncommitted edits."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "modcore"], cwd=root, capture_output=True,
                               text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} with uncommitted changes" if head and dirty else head or "unknown"


def _repository(app) -> Path:
    """The checkout the modules come from (the book's source folder in a normal build)."""
    from modcore import paths

    return paths.REPO_ROOT


def figure_function(code: str):
    """The chapter function a figure cell calls last, as ``(module, function)``; None if none. The
    last: a cell may first compute what its figure shows (``needed = ...table(...)``) and then draw
    it, and the figure is the drawing call's."""
    for alias, name in reversed(_CALL.findall(code)):
        try:
            module = importlib.import_module(f"{CHAPTER_PACKAGE}.{alias}")
        except ImportError:
            continue
        function = getattr(module, name, None)
        if inspect.isfunction(function):
            return module, function
    return None


def _cell_code(cell: nodes.Element) -> str:
    """The visible source of a myst-nb code cell (empty when its input is removed)."""
    return "\n".join(block.astext() for part in cell.children if isinstance(part, nodes.container)
                     and part.get("nb_element") == "cell_code_source" for block in part.findall(nodes.literal_block))


def add_source_lines(app, doctree: nodes.document, docname: str) -> None:
    root = _repository(app)
    used = app.env.__dict__.setdefault("modcore_figure_sources", set())  # read by write_sources
    depth = docname.count("/")
    for cell in doctree.findall(nodes.container):
        if cell.get("nb_element") != "cell_code":
            continue
        figures = list(cell.findall(nodes.figure))
        found = figure_function(_cell_code(cell)) if figures else None
        if found is None:
            continue
        module, function = found
        lines, start = inspect.getsourcelines(function)
        path = Path(inspect.getsourcefile(module)).resolve()
        try:
            shown = path.relative_to(root.resolve())
        except ValueError:
            shown = Path(*module.__name__.split(".")).with_suffix(".py")
        used.add((module.__name__, str(path), str(shown)))
        target = "../" * depth + f"{SOURCE_DIR}/{shown}.html#L-{start}"
        link = nodes.reference("", "", nodes.literal(text=f"{module.__name__}.{function.__name__}"),
                               refuri=target, internal=False)
        note = nodes.paragraph("", "", nodes.Text("Made by "), link,
                               nodes.Text(f" ({shown}, lines {start}\u2013{start + len(lines) - 1}) "
                                          f"at commit {_commit(root)}."),
                               classes=["modcore-figure-source"])
        for figure in figures:
            figure += note.deepcopy()


def write_sources(app, exception) -> None:
    """Highlighted copies of the modules the figures link to, with anchors L-<line>."""
    if exception is not None or app.builder.format != "html":
        return
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    root = _repository(app)
    for name, source, shown in sorted(getattr(app.env, "modcore_figure_sources", set())):
        out = Path(app.outdir) / SOURCE_DIR / f"{shown}.html"
        out.parent.mkdir(parents=True, exist_ok=True)
        formatter = HtmlFormatter(full=True, linenos="inline", lineanchors="L", anchorlinenos=True,
                                  title=f"{html.escape(name)} ({shown}) at commit {_commit(root)}")
        out.write_text(highlight(Path(source).read_text(), PythonLexer(), formatter))


def setup(app):
    app.connect("doctree-resolved", add_source_lines)
    app.connect("build-finished", write_sources)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
