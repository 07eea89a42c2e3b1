"""Each figure names the chapter function that made it (book/_ext/figure_sources.py)."""

import importlib.util
import inspect

from modcore import paths

spec = importlib.util.spec_from_file_location("figure_sources", paths.REPO_ROOT / "book" / "_ext" / "figure_sources.py")
figure_sources = importlib.util.module_from_spec(spec)
spec.loader.exec_module(figure_sources)


def test_a_figure_cell_is_traced_to_its_chapter_function():
    module, function = figure_sources.figure_function("theorem1.closed_form_figure(p, closed)\nplt.show()")
    assert module.__name__ == "modcore.chapters.theorem1" and function.__name__ == "closed_form_figure"
    assert inspect.getsourcefile(function).endswith("modcore/chapters/theorem1.py")



def test_a_cell_that_computes_then_draws_is_traced_to_the_drawing_call():
    code = "needed = sample_complexity.needed_table(runs, p.target_loss)\nsample_complexity.needed_figure(p, needed)\n"
    module, function = figure_sources.figure_function(code + "plt.show()")
    assert function.__name__ == "needed_figure"

def test_code_that_calls_no_chapter_function_is_not_traced():
    assert figure_sources.figure_function("plt.plot([1, 2])\nplt.show()") is None
    assert figure_sources.figure_function("theorem1.NO_SUCH_FUNCTION(p)") is None


def test_every_chapter_figure_cell_calls_a_chapter_function():
    """A figure cell of a moved notebook (mystnb figure metadata) calls its chapter's function, so
    the book can link the figure to its code."""
    import jupytext

    from modcore import chapters

    for name in chapters.names():
        notebook = jupytext.read(paths.NOTEBOOKS_DIR / f"{name}.py")
        for cell in notebook.cells:
            if cell.cell_type == "code" and "figure" in cell.metadata.get("mystnb", {}):
                assert figure_sources.figure_function(cell.source) is not None, (name, cell.source[:80])
