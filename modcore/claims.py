"""The claims of the paper and the essay that the scorecard keeps a row for.

:data:`CLAIMS` lists every claim of the paper (Boopathy et al., ICLR 2025: Theorem 1,
Fig. 1, each trend of Fig. 2, the authors' optimisation explanation, Fig. 3, Theorem 2,
Algorithm 1, Fig. 4a, Fig. 5 with its t-SNE panels, Fig. 4b and the out-of-distribution and
noise table, each split into what the kernel rule controls (kernel-rule vs random
projections) and what the architecture adds (modular vs MLP), Table 2, Fig. 12) and of the
essay (*Regularization Causes Modularity Causes Generalization*: one row per regulariser,
the trained-vs-initial comparison, the observational and the interventional test of
"modularity causes generalisation"), with the source's number(s) where it prints any. Those
numbers are computed from the digitised tables in ``modcore/data/`` (:mod:`modcore.paper_values`),
never typed.

A chapter's record (:func:`modcore.scorecard.record`) names its claim by ``claim_id``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from modcore import paper_values


@dataclass(frozen=True)
class Claim:
    """A claim of the paper or the essay, as the scorecard lists it.

    ``paper`` is the source's number(s) as text, or a function computing that text from the
    digitised tables (called when the scorecard is drawn, so the data files are read only then).
    """

    claim_id: str
    source: str     # "paper" or "essay"
    where: str      # the section, theorem or figure of the source
    sentence: str   # the claim in one sentence
    paper: str | Callable[[], str]  # the source's number(s), or why there are none
    chapter: str | None = None  # notebook name of the chapter that checks it, if one exists
    short: str | None = None    # a few words for the summary table and the headline (None: ``where``)

    @property
    def paper_text(self) -> str:
        return self.paper() if callable(self.paper) else self.paper

    @property
    def label(self) -> str:
        return self.short or self.where


_NO_NUMBER = "no number: an exact statement"
_ESSAY = "no number: the essay argues qualitatively"


# --- the source's numbers, computed from the digitised tables ---------------------------------------


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 and float(value).is_integer() else f"{value:.2f}"


@functools.lru_cache(maxsize=None)
def _fig2(panel: str, quantity: str) -> tuple[tuple[float, float], ...]:
    table = paper_values.load_csv("fig2_digitised")
    rows = table[(table.panel == panel) & (table.quantity == quantity)].sort_values("x")
    return tuple(zip(rows.x.astype(float), rows.value.astype(float)))


def _fig2_trend(panel: str, symbol: str) -> str:
    network, theory = _fig2(panel, "test_network"), _fig2(panel, "test_theory")
    low, high = min(v for _, v in network), max(v for _, v in network)
    text = (f"network test loss {_number(network[0][1])} ({symbol} = {network[0][0]:g}) to "
            f"{_number(network[-1][1])} ({symbol} = {network[-1][0]:g}), range {low:.2f} to {high:.2f}")
    if theory and theory[0][1] == theory[-1][1]:
        text += f"; theory {_number(theory[0][1])} at every {symbol}"
    elif theory:
        text += f"; theory {_number(theory[0][1])} to {_number(theory[-1][1])}"
    return text


def _fig2_spike(panel: str, symbol: str, fixed: str) -> str:
    network = _fig2(panel, "test_network")
    x_peak, peak = max(network, key=lambda point: point[1])
    values = ", ".join(f"{v:.2f}" for _, v in network)
    return (f"network test loss {values} at {symbol} = {network[0][0]:,.0f} to {network[-1][0]:,.0f}; highest "
            f"{peak:.2f} at {symbol} = {x_peak:,.0f}; the caption fixes {fixed}")


def _fig3() -> str:
    table = paper_values.load_fig3_digitised()
    smallest, largest = table.iloc[-1], table.iloc[0]
    first, last = table.columns[0], table.columns[-1]
    return (f"smallest curve {smallest[first]:,.0f} (m = {first}) to {smallest[last]:,.0f} (m = {last}); "
            f"largest {largest[first]:,.0f} to {largest[last]:,.0f}")


@functools.lru_cache(maxsize=None)
def _fig4b() -> dict[tuple[int, str], float]:
    table = paper_values.load_csv("fig4b_digitised")
    table = table[table.source == "fig4b"]
    return {(int(k), method): float(a) for k, method, a in zip(table.n_slots, table.method, table.accuracy)}


# The paper's method labels (as in modcore/data/fig4b_digitised.csv) in the scorecard's words.
_METHOD_WORDS = {"ours": "kernel rule", "baseline modular": "random-U modular", "baseline monolithic": "MLP"}


def _fig4b_lead(method: str, other: str) -> str:
    values = _fig4b()
    ks = sorted({k for k, _ in values})
    leads = [100 * (values[(k, method)] - values[(k, other)]) for k in ks]
    return (f"{_METHOD_WORDS[method]} minus {_METHOD_WORDS[other]}: {leads[0]:+.1f} points at k = {ks[0]}, {leads[-1]:+.1f} at k = {ks[-1]} "
            f"(accuracy {100 * values[(ks[0], method)]:.1f} % vs {100 * values[(ks[0], other)]:.1f} % at k = {ks[0]}, "
            f"{100 * values[(ks[-1], method)]:.1f} % vs {100 * values[(ks[-1], other)]:.1f} % at k = {ks[-1]})")


def _robustness(method: str, other: str) -> str:
    table = paper_values.load_csv("fig4b_digitised")
    table = table[table.source == "robustness_table"].set_index(["method", "quantity"]).accuracy
    parts = [f"{name} {100 * table[(method, q)]:.2f} % vs {100 * table[(other, q)]:.2f} % "
             f"({100 * (table[(method, q)] - table[(other, q)]):+.2f} points)"
             for q, name in (("heldout", "unseen combinations"), ("noisy", "noise"))]
    return f"{_METHOD_WORDS[method]} vs {_METHOD_WORDS[other]}: " + "; ".join(parts) + "; k not stated"


@functools.lru_cache(maxsize=None)
def _fig4a_table() -> dict[tuple[str, int], float]:
    table = paper_values.load_csv("fig4a_digitised")
    return {(method, int(m)): float(n) for method, m, n in zip(table.method, table.input_dim, table.n_needed)}


# The paper's Fig. 4a method labels (as in modcore/data/fig4a_digitised.csv) in the scorecard's words.
_FIG4A_WORDS = {"ours": "kernel rule", "baseline_modular": "random U", "baseline_monolithic": "MLP"}


def _fig4a(method: str, other: str) -> str:
    values = _fig4a_table()
    ms = sorted({m for _, m in values})
    pairs = [f"m = {m}: {values[(method, m)]:,.0f} vs {values[(other, m)]:,.0f}" for m in (ms[0], ms[-1])]
    fewer = sum(values[(method, m)] < values[(other, m)] for m in ms)
    return (f"{'; '.join(pairs)} ({_FIG4A_WORDS[method]} vs {_FIG4A_WORDS[other]}); fewer at {fewer} of "
            f"{len(ms)} m")


def _fig4a_growth() -> str:
    values = _fig4a_table()
    ms = sorted({m for _, m in values})
    return "; ".join(f"{_FIG4A_WORDS[method]} {values[(method, ms[0])]:,.0f} (m = {ms[0]}) to "
                     f"{values[(method, ms[-1])]:,.0f} (m = {ms[-1]})" for method in _FIG4A_WORDS)


def _fig5() -> str:
    table = paper_values.load_csv("fig5_digitised").set_index(["method", "point"])
    end, start = table.xs("end", level="point"), table.xs("start", level="point")
    return (f"cosine similarity {end.similarity['ours']:.3f} vs {end.similarity['baseline']:.3f} after "
            f"{end.iteration['ours']:,.0f} iterations (start {start.similarity['ours']:.3f} vs "
            f"{start.similarity['baseline']:.3f})")


CLAIMS: tuple[Claim, ...] = (
    Claim("theorem1", "paper", "Theorem 1",
          "The expected train and test losses of the linear-in-features model have a closed form.",
          _NO_NUMBER, "theorem1", "Theorem 1: closed form"),
    Claim("fig1_double_descent", "paper", "Fig. 1",
          "The test loss shows double descent in n and in p, diverging at the interpolation threshold p = dn.",
          "peak at p = dn", "theorem1", "Fig. 1: double descent"),
    Claim("fig2_flat_in_k", "paper", "Fig. 2 (vs k)",
          "A network's test loss does not change with the number of modules k.",
          lambda: _fig2_trend("n_modules", "k"), "nn_vs_theory", "Fig. 2: flat in k"),
    Claim("fig2_sublinear_in_m", "paper", "Fig. 2 (vs m)",
          "A network's test loss grows sublinearly with the input dimension m, as the theory predicts.",
          lambda: _fig2_trend("input_dim", "m"), "nn_vs_theory", "Fig. 2: sublinear in m"),
    Claim("fig2_double_descent_in_p", "paper", "Fig. 2 (vs p)",
          "A network's test loss shows double descent in the parameter count p.",
          lambda: _fig2_spike("n_params", "p", f"n = {paper_values.FIG2_N_TRAIN:,}"), "nn_vs_theory",
          "Fig. 2: spike in p"),
    Claim("fig2_double_descent_in_n", "paper", "Fig. 2 (vs n)",
          "A network's test loss shows double descent in the sample count n.",
          lambda: _fig2_spike("n_train", "n", f"p = {paper_values.FIG2_N_PARAMS:,}"), "nn_vs_theory",
          "Fig. 2: spike in n"),
    Claim("optimisation_gap", "paper", "App. A.2 and the authors' replies",
          "Where networks depart from Theorem 1 (loss above it at small n, a finite spike), imperfect "
          "optimisation is the cause: training closer to the optimum closes the gaps.",
          "no number: an explanation in words", "optimisation_gap", "optimisation explains the gaps"),
    Claim("fig3_exponential_in_m", "paper", "Fig. 3",
          "The samples needed for test loss 1.2 grow exponentially with the input dimension m.",
          _fig3, "dimension_scaling", "Fig. 3: exponential in m"),
    Claim("theorem2", "paper", "Theorem 2",
          "A modular model's train loss, and its underparameterised test loss, do not depend on m.",
          _NO_NUMBER, "theorem2", "Theorem 2: flat in m"),
    Claim("algorithm1_recovery", "paper", "Section 4.2, Algorithm 1",
          "Random restarts of the kernel rule land on the task's true module directions.",
          "no number: the paper describes the mechanism, not how often restarts find a module", "kernel_rule",
          "Algorithm 1 finds modules"),
    Claim("fig4a_kernel_vs_random", "paper", "Fig. 4a",
          "(i) The kernel rule's U lowers the samples a modular network needs for test loss 1.5, against the "
          "same network with random U: what the rule controls.",
          lambda: _fig4a("ours", "baseline_modular"), "sample_complexity", "Fig. 4a (i): kernel vs random U"),
    Claim("fig4a_kernel_vs_monolithic", "paper", "Fig. 4a",
          "(ii) The kernel-rule modular network needs fewer samples for test loss 1.5 than a monolithic MLP, "
          "at every m but 9: the paper's figure.",
          lambda: _fig4a("ours", "baseline_monolithic"), "sample_complexity", "Fig. 4a (ii): kernel vs MLP"),
    Claim("fig4a_oracle_vs_random", "paper", "Fig. 4a (Theorem 2's premise)",
          "(iii) A modular network given the true projections needs fewer samples than one with random U: "
          "Theorem 2's premise realised, not evidence for the rule.",
          "no number: the paper has no oracle curve; its argument assumes this", "sample_complexity",
          "Fig. 4a (iii): oracle vs random U"),
    Claim("fig4a_flat_in_m", "paper", "Fig. 4a and Theorem 2",
          "(iv) How the samples needed change with m, per method: the paper's curves grow for all three methods; "
          "Theorem 2 says flat for a modular network with the right projections.",
          _fig4a_growth, "sample_complexity", "Fig. 4a (iv): growth in m"),
    Claim("fig5_alignment", "paper", "Fig. 5 and t-SNE",
          "The kernel rule aligns the learned module projections with the target ones better than "
          "random initialisation.",
          _fig5, "module_alignment", "Fig. 5: alignment"),
    Claim("fig4b_kernel_vs_random", "paper", "Fig. 4b",
          "On Compositional CIFAR-10 the kernel-rule projections make the modular network more accurate "
          "than random projections do, at every k, and the lead grows with k.",
          lambda: _fig4b_lead("ours", "baseline modular"), "compositional_images", "Fig. 4b: kernel vs random U"),
    Claim("fig4b_modular_vs_mlp", "paper", "Fig. 4b",
          "On Compositional CIFAR-10 the kernel-rule modular network is more accurate than a monolithic MLP "
          "of the same size, at every k, and the lead grows with k.",
          lambda: _fig4b_lead("ours", "baseline monolithic"), "compositional_images", "Fig. 4b: modular vs MLP"),
    Claim("fig4b_on_cifar10", "paper", "Fig. 4b",
          "The Fig. 4b claims hold on Compositional CIFAR-10 itself (the rows above use a stand-in when "
          "CIFAR-10 is absent).",
          lambda: _fig4b_lead("ours", "baseline modular"), "compositional_images", "Fig. 4b on CIFAR-10"),
    Claim("robustness_kernel_vs_random", "paper", "OOD and noise table",
          "The kernel-rule projections make the modular network more accurate than random projections on "
          "unseen class combinations and under input noise.",
          lambda: _robustness("ours", "baseline modular"), "robustness", "robustness: kernel vs random U"),
    Claim("robustness_modular_vs_mlp", "paper", "OOD and noise table",
          "The kernel-rule modular network is more accurate than a monolithic MLP on unseen class "
          "combinations and under input noise.",
          lambda: _robustness("ours", "baseline monolithic"), "robustness", "robustness: modular vs MLP"),
    Claim("table2_nonlinear_projections", "paper", "Table 2",
          "Nonlinear module projections (Table 2's subject); what the table finds is not in our sources.",
          "not available: the table's numbers and conclusion are not in the sources we have", "projections",
          "Table 2: nonlinear projections"),
    Claim("fig12_projections_visualised", "paper", "Fig. 12",
          "The learned projections of the Compositional CIFAR-10 network each attend to one image.",
          "qualitative figure, no number", "projections", "Fig. 12: one image per module"),
    Claim("essay_l1", "essay", "link 1",
          "L1 regularisation makes networks more modular than the unregularised control.", _ESSAY,
          "essay_modularity", "essay: L1"),
    Claim("essay_l2", "essay", "link 1",
          "L2 regularisation makes networks more modular than the unregularised control.", _ESSAY,
          "essay_modularity", "essay: L2"),
    Claim("essay_weight_decay", "essay", "link 1",
          "Weight decay makes networks more modular than the unregularised control.", _ESSAY,
          "essay_modularity", "essay: weight decay"),
    Claim("essay_dropout", "essay", "link 1",
          "Dropout makes networks more modular than the unregularised control.", _ESSAY,
          "essay_modularity", "essay: dropout"),
    Claim("essay_prune", "essay", "link 1",
          "Magnitude pruning makes networks more modular than the unregularised control.", _ESSAY,
          "essay_modularity", "essay: pruning"),
    Claim("essay_connection_cost", "essay", "link 1",
          "A connection cost makes networks more modular than the unregularised control.", _ESSAY,
          "essay_modularity", "essay: connection cost"),
    Claim("essay_mvg", "essay", "link 1",
          "Switching between modularly varying goals makes networks more modular.", _ESSAY,
          "essay_modularity", "essay: MVG"),
    Claim("essay_init", "essay", "link 1",
          "Trained networks are more modular than at initialisation.", _ESSAY, "essay_modularity",
          "essay: trained vs init"),
    Claim("essay_observational", "essay", "link 2",
          "Across runs, more modular networks generalise better.", _ESSAY, "essay_modularity",
          "essay: modular runs generalise"),
    Claim("essay_intervention", "essay", "link 2",
          "Hard-wired modules (an intervention) make networks generalise better.", _ESSAY,
          "essay_modularity", "essay: hard-wired modules"),
)

_BY_ID = {claim.claim_id: claim for claim in CLAIMS}


def claim(claim_id: str) -> Claim:
    if claim_id not in _BY_ID:
        raise ValueError(f"unknown claim_id={claim_id!r}; known: {', '.join(_BY_ID)}")
    return _BY_ID[claim_id]
