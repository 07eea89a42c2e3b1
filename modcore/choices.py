"""Every choice the sources leave open, in one place: the book's page "Choices the sources
leave open" is rendered from :data:`SECTIONS` (``notebooks/choices.py``), so a changed default
changes the page.

A row's ``value`` and ``why`` may hold placeholders that are filled in when the page is
rendered, from the code itself:

``{module.path:NAME}``
    the attribute ``NAME`` of a modcore module, e.g. ``{modcore.experiments.theorem1:AGREE_WITHIN_SE}``
    (a dotted name after the colon reads an attribute of an attribute);
``{notebook:NAME:PARAMETER}``
    the default of a notebook parameter: its value in the notebook's ``parameters`` cell (the
    ``default`` profile; ``ci`` and ``paper`` override some, see ``python -m modcore list``).

A placeholder that no longer resolves (a renamed constant or parameter) raises, so the page
cannot silently go stale: the test suite renders it.
"""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import dataclass

from modcore import paths

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.]*):([\w.:]+)\}")
_PARAMETERS_TAG = re.compile(r'tags=\[[^\]]*"parameters"')


@dataclass(frozen=True)
class Choice:
    what: str
    value: str  # may hold placeholders (module docstring)
    why: str


@dataclass(frozen=True)
class Section:
    title: str
    where: str  # the modules and chapters it concerns
    rows: tuple[Choice, ...]


def notebook_defaults(name: str) -> dict:
    """The literal assignments of ``notebooks/<name>.py``'s cell tagged ``parameters``."""
    path = paths.NOTEBOOKS_DIR / f"{name}.py"
    lines = path.read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("# %%") and _PARAMETERS_TAG.search(line)]
    if len(starts) != 1:
        raise ValueError(f"{path} must have exactly one cell tagged parameters, found {len(starts)}")
    body = []
    for line in lines[starts[0] + 1:]:
        if line.startswith("# %%"):
            break
        body.append(line)
    return {node.targets[0].id: ast.literal_eval(node.value)
            for node in ast.parse("\n".join(body)).body if isinstance(node, ast.Assign)}


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_format(item) for item in value)
    return str(value)


def resolve(text: str) -> str:
    """``text`` with every placeholder replaced by the value it names."""
    def replace(match: re.Match) -> str:
        source, name = match.groups()
        if source == "notebook":
            notebook, parameter = name.split(":", 1)
            defaults = notebook_defaults(notebook)
            if parameter not in defaults:
                raise KeyError(f"notebook {notebook!r} has no parameter {parameter!r} (choices placeholder)")
            return _format(defaults[parameter])
        value = importlib.import_module(source)
        for attribute in name.split("."):
            value = getattr(value, attribute)  # AttributeError names a renamed constant
        return _format(value)

    return _PLACEHOLDER.sub(replace, text)


def to_markdown(sections: tuple[Section, ...] | None = None) -> str:
    """The page body: one table per section, every placeholder resolved."""
    parts = []
    for section in sections or SECTIONS:
        parts += [f"## {section.title}", "", section.where, "", "| what | our choice | why |", "|---|---|---|"]
        parts += [f"| {row.what} | {resolve(row.value)} | {resolve(row.why)} |" for row in section.rows]
        parts.append("")
    return "\n".join(parts)


_T1 = "modcore.experiments.theorem1"

SECTIONS: tuple[Section, ...] = (
    Section(
        "Theory", "`modcore.theory`, `modcore.experiments.theorem1`, `.dimension_scaling`, `.theorem2`; "
        "chapters on Theorem 1, Fig. 3 and Theorem 2.",
        (
            Choice("statement of Theorems 1 and 2",
                   "derived from the stated setup: white Gaussian features, $\\theta \\sim \\mathcal N(0, \\Lambda)$, "
                   "minimum-norm least squares on $dn$ equations",
                   "the paper's appendix was not available to us; the derivation is exact for any finite $P$ and every "
                   "chapter checks it by Monte Carlo"),
            Choice("Fig. 1 spectrum",
                   "$c$ = {notebook:theorem1:spectrum_scale}, $\\Omega$ = {notebook:theorem1:omega}, "
                   "$m$ = {notebook:theorem1:input_dim}; closed form at $P = \\infty$, Monte Carlo at "
                   "$P$ = {notebook:theorem1:mc_n_features}",
                   "the paper does not give Fig. 1's constants; these are close to the fit to Fig. 3. Theorem 1 is "
                   "stated for $P \\to \\infty$; the Monte Carlo needs a finite $P$ to draw every feature"),
            Choice("label noise", "a standard deviation $\\sigma$ on each training label; the test loss adds "
                   "$d\\sigma^2$ only when test labels are noisy too",
                   "the theorem's test loss is against the clean target"),
            Choice("samples needed for a target loss",
                   "the first $n$ with $dn \\ge q + 2$ ($q = Kp$) at which the test loss reaches the target; "
                   "a target the model never reaches is reported as unreachable",
                   "Fig. 3 counts samples on the underparameterised side of the threshold"),
            Choice("Fig. 3 fit", "$P = \\infty$, $d = 1$, no noise, target 1.2; one shared $(c, \\Omega)$ and one $p$ "
                   "per curve, least squares on $\\log n$; agreement if every point is within a factor "
                   "{notebook:dimension_scaling:fit_tolerance}",
                   "the paper does not say how $c$ and $\\Omega$ were fitted"),
            Choice("Theorem 2 closed form", "$K$ = {notebook:theorem2:n_modules} modules, $b$ = "
                   "{notebook:theorem2:module_dim}, $p$ = {notebook:theorem2:n_params} features per module, "
                   "the monolithic model with $Kp$ features", "equal parameter counts make the comparison fair"),
            Choice("Theorem 2 Monte Carlo", "inputs $x \\sim \\mathcal N(0, I_m)$, random overlapping module "
                   "projections; Fourier features of $U_k^\\top x$ with frequencies spaced by "
                   "{modcore.theory:FREQUENCY_SPACING}, weights from the power law with $b$ in place of $m$; "
                   "target test loss {notebook:theorem2:mc_loss_target}",
                   "tests the $m$-independence instead of assuming it: the modules really read "
                   "$m$-dimensional inputs; random frequencies made a module's features nearly collinear"),
            Choice("Theorem 2 rule", "$n^*$ independent of $m$ if the 95 % interval "
                   "({modcore.experiments.theorem2:N_BOOTSTRAP} bootstrap resamples over trials) of its change over "
                   "the $m$ range lies within a factor 1 ± {modcore.experiments.theorem2:FLAT_TOLERANCE}",
                   "fixed before the runs"),
            Choice("Monte-Carlo test loss", "$d \\lVert \\theta - \\hat\\theta \\rVert^2$, exact for white features",
                   "no test set is needed"),
            Choice("points near the threshold", "Monte Carlo skips points within "
                   "{" + _T1 + ":THRESHOLD_EXCLUSION} (relative) of $p = dn$",
                   "the loss has infinite variance for $\\lvert dn - p \\rvert \\le 3$"),
            Choice("agreement rule", "a gap above {" + _T1 + ":AGREE_WITHIN_SE} Monte-Carlo standard errors is a "
                   "disagreement", "fixed before the runs"),
        ),
    ),
    Section(
        'Sine-wave task and networks', '`modcore.tasks.sine`, `modcore.models`, `modcore.train`',
        (
            Choice('module directions',
                   'independent random matrices with orthonormal columns (a random unit vector for $b = 1$); not mutually orthogonal; `direction_norm="gaussian"` gives columns of norm about $\\sqrt m$',
                   "$kb$ can exceed $m$; unit norm keeps every module's argument $\\mathcal N(0,1)$ whatever $m$; the Fig. 2 chapter reruns everything with Gaussian directions, which changes two of its four trend verdicts"),
            Choice('module functions',
                   'amplitudes (1, 0.5, 0.2), angular frequencies (1, 3, 5) shared by all modules; phases uniform in $[0, 2\\pi)$ per module and component',
                   "the paper's illustration; phases unknown"),
            Choice('target',
                   '$y = k^{-1/2} \\sum_i g_i(U_i^\\top x)$, no label noise, noise-free test labels, 10,000 test points',
                   "the paper's sine-wave task (its illustration of one module's function, and Fig. 2); the scale of the labels and the noise are not given"),
            Choice('monolithic network',
                   "MLP with 2 hidden layers, ReLU, PyTorch's default initialisation; width chosen so that the exact parameter count is closest to the target $p$",
                   'the paper does not give widths or depths'),
            Choice('modular network',
                   'projections $\\hat U_i$ initialised as random unit columns (no bias), module MLPs of the same depth and activation, outputs summed and divided by $\\sqrt K$',
                   "the paper's modular architecture (Eq. 6): learned projections, module outputs summed and scaled by $1/\\sqrt K$; module sizes are not given"),
            Choice('training',
                   "full-batch Adam, learning rate 3e-3, 2,000 steps, float32; task, data and initialisation each from its own stream of the run's seed",
                   'the paper gives no optimiser settings'),
            Choice('Fig. 2 grid',
                   'k panel at $m = 7$, m panel at $k = 3$, both $n = 1000$ with $p \\in \\{300, 1153, 3000\\}$; p panel at $n = 1000$, n panel at $p = 1153$, both $k = 3$ and $m \\in \\{5, 7, 9\\}$; 2 seeds per point',
                   'the paper fixes $n = 1000$ / $p = 1153$ and $m = 5 \\dots 9$ for the last two panels, nothing else'),
            Choice("theory's $p$ and the fit",
                   "$p_\\text{theory}$ = the network's exact parameter count; $(c, \\Omega)$ by least squares on log test MSE over runs with $p \\le n/2$; $P = \\infty$, $d = 1$",
                   "the paper's fitting procedure is in an appendix we could not read"),
            Choice('trend verdicts',
                   'flat in $k$: relative change below 25 %; rising in $m$: ratio at least 1.25; double descent: a peak at least 10 % above the lowest loss on both sides, within a factor 2 of the threshold',
                   "fixed before the runs, applied to the paper's digitised curves too"),
            Choice('optimisation gap',
                   'Adam 2,000 and 10,000 steps, L-BFGS 2,000 iterations in float64, and the network linearised at its initialisation solved exactly; $n \\in \\{100, 300, 1000, 3000\\}$, $p = 1153$, $m \\in \\{5, 9\\}$, $k = 3$',
                   "the issue's three ways of training closer to the optimum"),
            Choice('CPU threads',
                   'cache-sized ensemble chunks run on one thread (`modcore.train.CPU_SINGLE_THREAD_BELOW`)',
                   'on a shared 2-core machine two threads made such steps 10-30x slower'),
        ),
    ),
    Section(
        'The essay chapter', '`modcore.modularity`, `modcore.essay`',
        (
            Choice('graph',
                   'nodes are units (inputs included), edges $\\lvert W \\rvert$, biases ignored; nodes with degree at most 1e-6 of the median dropped, from the network and every shuffle alike',
                   'Filan et al. {cite}`filan2021clusterability`; dead units would otherwise form their own trivially separate clusters'),
            Choice('clustering',
                   'spectral clustering, `assign_labels="discretize"`, seeded; retina $k \\in \\{2, 4\\}$, digits $k \\in \\{4, 12\\}$; the primary score is the n-cut z at the first $k$',
                   'Filan et al. {cite}`filan2021clusterability` use spectral clustering and the n-cut {cite}`shi2000normalized`; seeding makes the partition reproducible; two $k$ per task keep the cost to seconds'),
            Choice('null',
                   'within-layer shuffles of all weights (and of the non-zero weights where a network has exact zeros); $p = (r+1)/(N+1)$ with ties counted as at least as modular; z with ddof 1',
                   'Filan et al., slightly more conservative'),
            Choice('Q',
                   'Louvain $Q_\\text{max}$ (seeded, resolution 1) against the first `n_louvain_shuffles` shuffles, and Q of the spectral partition against all of them',
                   'Louvain dominates the cost'),
            Choice('retina task',
                   '8 inputs, L-AND-R, random 128/128 split per seed; 8-16-8-4-1 tanh, BCE, Adam 3e-3, full batch, 3,000 steps',
                   'the retina task of Kashtan and Alon {cite}`kashtan2005spontaneous` and Clune et al. {cite}`clune2013evolutionary`, trained by gradient descent instead of evolution; sizes and steps are ours'),
            Choice('digit-pair task',
                   'pools of 1,200/597 images, label $(a+b) \\bmod 10$, 10 held-out class pairs; 10k/5k/2k train/test/held-out pairs; input-64-64-10 ReLU, Adam 1e-3, batch 128, 1,200 steps; a two-head control',
                   "a compositional task on scikit-learn's 8x8 digits, small enough for a CPU; held-out pairs test composition; sizes are ours"),
            Choice('arms',
                   'penalties on weights only; retina L1, L2 and connection cost 1e-3, digits 1e-4; AdamW decay 1e-2; dropout 0.2 after hidden layers; magnitude pruning to 80 % (cubic ramp, output layer dense); MVG switching every 100 steps, ending on the main goal',
                   'one strength per arm, fixed before the runs'),
            Choice('connection cost',
                   "layer $l$ at $y = l$, units spread over the input layer's width; squared distances divided by their mean",
                   "Clune et al.'s idea for a layered net"),
            Choice('block-mask intervention',
                   'left and right halves wired separately up to the last hidden layer; widths scaled so the parameter count matches the dense net within 6 %',
                   'modules joined only at the output cannot compute $(a+b) \\bmod 10$'),
            Choice('statistics',
                   'exact one-sided Mann-Whitney, Holm across arms; OLS slope with one intercept per condition and a 95 % t-interval; percentile bootstrap (2,000) for medians; 5 seeds by default',
                   'rank tests need no normality; Holm controls the error rate across arms; 5 seeds fit the CPU budget'),
        ),
    ),
)
