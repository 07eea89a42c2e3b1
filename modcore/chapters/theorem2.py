"""The Theorem 2 chapter (notebook ``theorem2``): modular vs monolithic sample complexity.

Computed here:

1. Theorem 2's closed form of the samples needed against the input dimension m, modular vs
   monolithic at equal parameter counts (P = inf). Its modular value has no m in it: this is
   the theorem's statement, drawn for reference, not a finding.
2. The finding: a Monte Carlo of models fed m-dimensional inputs
   (:func:`modcore.theory.simulate_projected`), where the modules' features are computed from
   projections U_kᵀx of one input x, so m can enter through the modules' overlaps. From each
   Monte-Carlo loss curve against n the samples needed for ``mc_loss_target`` are interpolated
   (:func:`modcore.theory.samples_needed_from_losses`), with bootstrap intervals over the
   trials, and a stated rule (:func:`dimension_verdict`) decides whether they depend on m.
3. A check of the closed form against a Monte Carlo of independent white module features
   (:func:`modcore.theory.simulate_modular`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from modcore import scorecard, stats, theory, verdicts
from modcore.parameters import (DISTINCT, INCREASING, NONEMPTY, NONNEGATIVE, POSITIVE, SEED, ChapterParameters,
                                Relation, at_least, each, greater_than, length_at_least, param)
# The Theorem 1 chapter's rules apply here too (with K p in place of p): the exclusion band around
# the threshold d n = K p, the agreement bound in standard errors and the y-axis cut.
from modcore.plots import theory as theory_plots

# The rule for "independent of m" (our choice, fixed before looking at the numbers): fit
# log n* = a + slope * m over the simulated m and take the change of n* over that range,
# exp(slope * (m_last - m_first)), with a bootstrap interval at CONFIDENCE. The samples needed
# are *independent of m* if the whole interval lies within a factor 1 + FLAT_TOLERANCE of 1,
# *depend on m* if it lies wholly outside, and the test is *inconclusive* otherwise; they
# *grow* if the interval lies wholly above 1 + FLAT_TOLERANCE.
FLAT_TOLERANCE = 0.10
CONFIDENCE = 0.95
N_BOOTSTRAP = 400

# The projected Monte Carlo's training-set sizes start this many samples above the threshold
# K p: closer, the loss's variance is infinite (|n - q| <= 3) and means are unstable.
FIRST_N_ABOVE_THRESHOLD = 4

MODELS = ("modular", "monolithic")


@dataclass(frozen=True)
class Parameters(ChapterParameters):
    """The chapter's parameters: the only home of each one's type, default and rule. The
    notebook's parameters cell repeats the defaults (papermill needs literals there);
    tests/test_parameters.py keeps the two equal. Outputs are scalar (d = 1)."""

    seed: int = param(0, SEED)                   # of the Monte Carlo; each point derives its own stream
    loss_target: float = param(1.2, POSITIVE)    # test loss of the closed form (as in Fig. 3)
    input_dim_values: list[int] = param([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], NONEMPTY, INCREASING,
                                        each(at_least(1)))  # input dimensions m of the closed form
    module_dim: int = param(1, at_least(1))      # module input dimension b (the sine task has 1-D modules)
    n_modules: int = param(4, at_least(1))       # number of modules K
    n_params: int = param(25, at_least(1))       # features per module p; the monolithic model gets K * p
    spectrum_scale: float = param(1.2, POSITIVE)  # spectrum scale c (the paper does not give it)
    omega: float = param(1.5, greater_than(1))   # spectrum base Omega; above 1, or the spectrum does not decay
    label_noise: float = param(0.0, NONNEGATIVE)  # standard deviation of the noise on each training label
    mc_loss_target: float = param(0.5, POSITIVE)  # test loss the projected Monte Carlo must reach
    # input dimensions m of the projected Monte Carlo; a trend in m needs two m
    mc_input_dim_values: list[int] = param([2, 4, 8, 16], length_at_least(2), INCREASING, each(at_least(1)))
    # module input dimensions of the closed-form check (one panel each)
    mc_module_dim_values: list[int] = param([1, 2], NONEMPTY, DISTINCT, each(at_least(1)))
    mc_n_features: int = param(100, at_least(1))  # features per module in the Monte Carlo (finite so it can draw them)
    mc_n_train_max: int = param(300, at_least(1))  # largest n of the Monte Carlo
    n_test: int = param(500, at_least(1))        # test points per trial of the projected Monte Carlo
    n_mc_points: int = param(10, at_least(1))    # Monte-Carlo points per curve
    n_trials: int = param(300, at_least(2))      # Monte-Carlo draws per point; a standard error needs two

    def relations(self):
        # a module cannot see more inputs than there are
        for name in ("input_dim_values", "mc_input_dim_values"):
            yield Relation(("module_dim", name), f"module_dim <= min({name})",
                           self.module_dim <= min(getattr(self, name)))
        # the Monte Carlo draws p of each module target's features
        yield Relation(("n_params", "mc_n_features"), "n_params <= mc_n_features", self.n_params <= self.mc_n_features)
        # the projected Monte Carlo's n start above the threshold K p, so its grid must reach past it
        yield Relation(("mc_n_train_max", "n_modules", "n_params", "n_mc_points"),
                       f"mc_n_train_max >= n_modules * n_params + {FIRST_N_ABOVE_THRESHOLD} + n_mc_points",
                       self.mc_n_train_max >= self.total_params + FIRST_N_ABOVE_THRESHOLD + self.n_mc_points)

    @property
    def total_params(self) -> int:
        return self.n_modules * self.n_params


# --- 1. the closed form (the theorem's statement) ------------------------------------------------


@dataclass(frozen=True)
class ClosedForm:
    input_dim_values: np.ndarray
    n_monolithic: np.ndarray
    n_modular: np.ndarray


def closed_form(p: Parameters) -> ClosedForm:
    """Samples needed at every m, monolithic (K p features) and modular (K modules of p), P = inf."""
    mono, modular = theory.samples_needed_vs_dimension(p.loss_target, p.input_dim_values, p.module_dim, p.n_modules,
                                                       p.n_params, p.spectrum_scale, p.omega, 1, p.label_noise)
    return ClosedForm(np.array(p.input_dim_values), mono, modular)


def closed_form_figure(p: Parameters, closed: ClosedForm) -> Figure:
    curves = {f"monolithic, {p.total_params} features": closed.n_monolithic,
              f"modular, K = {p.n_modules} modules of b = {p.module_dim}, p = {p.n_params}": closed.n_modular}
    panel = dict(m=closed.input_dim_values, curves=curves, curves_name="closed form (P = inf)",
                 ylabel=f"samples needed for test loss {p.loss_target:g}",
                 title=f"c = {p.spectrum_scale:g}, Omega = {p.omega:g}, d = 1")
    return theory_plots.samples_needed_vs_dimension([panel], title="Theorem 2's closed form: modular vs "
                                                                   "monolithic sample complexity")


def _unreachable_where(input_dim_values, n_star) -> list:
    return [int(m) for m, n in zip(input_dim_values, n_star) if not np.isfinite(n)]


def closed_form_status(p: Parameters, closed: ClosedForm) -> str:
    """'reachable', or 'unreachable' when the closed form's target is out of reach at some m."""
    unreachable = (_unreachable_where(closed.input_dim_values, closed.n_modular)
                   + _unreachable_where(closed.input_dim_values, closed.n_monolithic))
    return "unreachable" if unreachable else "reachable"


def _closed_form_sentence(p: Parameters, closed: ClosedForm) -> str:
    mono, modular = closed.n_monolithic, closed.n_modular
    m = closed.input_dim_values
    where = {name: _unreachable_where(m, n) for name, n in (("modular", modular), ("monolithic", mono))}
    if not any(where.values()):
        return (f"the modular model needs {modular[0]:.0f} samples at every m (the closed form has no m in it), "
                f"the monolithic one {mono[0]:.0f} at m = {m[0]} and {mono[-1]:.0f} at m = {m[-1]}, "
                f"a factor {mono[-1] / modular[-1]:.1f} more")
    _, missed = theory.spectrum_traces(theory.PowerLaw(p.module_dim, p.spectrum_scale, p.omega), p.n_params)
    parts = [f"for the {name} model " + ("at every m" if len(at) == len(m) else f"at m = {', '.join(map(str, at))}")
             for name, at in where.items() if at]
    return (f"the target {p.loss_target:g} is unreachable " + " and ".join(parts)
            + f": the test loss cannot fall below its limit d Tr(Lambda2) + label noise as n grows "
              f"(for one module, Tr(Lambda2) = {missed:.3f})")


# --- 2. the projected Monte Carlo (the finding) --------------------------------------------------


@dataclass(frozen=True)
class Projected:
    """The projected Monte Carlo: per model, one run per m, samples needed with intervals."""

    input_dim_values: np.ndarray
    n_train_values: np.ndarray
    runs: dict                   # model -> [theory.ProjectedMonteCarlo, one per m]
    closed_losses: dict          # model -> [closed-form test loss over n_train_values, one per m]
    closed_n_star: dict          # model -> closed-form samples needed per m (independent white features)
    n_star: dict                 # model -> Monte-Carlo samples needed per m
    n_star_low: dict             # model -> lower end of its bootstrap interval, per m
    n_star_high: dict            # model -> upper end, per m
    change: dict                 # model -> exp(slope * (m_last - m_first)) of log n* against m
    change_low: dict
    change_high: dict


def _spectrum(p: Parameters, model: str, input_dim: int) -> np.ndarray:
    if model == "modular":
        return theory.normalised_power_law(p.module_dim, p.spectrum_scale, p.omega, p.mc_n_features)
    return theory.normalised_power_law(input_dim, p.spectrum_scale, p.omega, p.n_modules * p.mc_n_features)


def _change_over_range(input_dim_values: np.ndarray, n_star: np.ndarray) -> np.ndarray:
    """exp(slope * (m_last - m_first)) of the least-squares line through (m, log n*); vectorised over rows.

    inf where any n* of a row is inf (a target unreachable at some m): n* grew without bound.
    """
    m = np.asarray(input_dim_values, dtype=float)
    slopes = stats.row_slopes(m, np.log(np.atleast_2d(n_star)))
    return np.where(np.isfinite(slopes), np.exp(slopes * (m[-1] - m[0])), np.inf)


def projected_monte_carlo(p: Parameters) -> Projected:
    """Run the projected Monte Carlo for both models at every m, then estimate n* with bootstrap intervals."""
    q = p.total_params
    n_values = np.unique(np.geomspace(q + FIRST_N_ABOVE_THRESHOLD, p.mc_n_train_max, p.n_mc_points).round()
                         .astype(int))
    m_values = np.array(p.mc_input_dim_values)
    runs, closed_losses, closed_n_star = {}, {}, {}
    for index, model in enumerate(MODELS):
        # the monolithic model: one module reading all of x, with K times the features
        shape = (dict(n_params=p.n_params, n_modules=p.n_modules, module_dim=p.module_dim,
                      n_features=p.mc_n_features) if model == "modular" else
                 dict(n_params=q, n_modules=1, module_dim=None, n_features=p.n_modules * p.mc_n_features))
        runs[model] = [theory.simulate_projected(
            n_values, int(m), shape["n_params"], shape["n_features"], p.spectrum_scale, p.omega,
            module_dim=shape["module_dim"], n_modules=shape["n_modules"], label_noise=p.label_noise, n_test=p.n_test,
            n_trials=p.n_trials, seed=[p.seed, 2, index, int(m)]) for m in m_values]
        # the closed form for the same spectra, as if the features were white and independent
        spectra = [_spectrum(p, model, int(m)) for m in m_values]
        closed_losses[model] = [theory.modular_losses(spectrum, n_values, shape["n_params"], shape["n_modules"], 1,
                                                      p.label_noise)[1] for spectrum in spectra]
        closed_n_star[model] = np.array([theory.samples_needed(p.mc_loss_target, spectrum, shape["n_params"], 1,
                                                               p.label_noise, n_modules=shape["n_modules"])
                                         for spectrum in spectra])
    # bootstrap over trials, independently at each (model, m): the runs are independent draws
    rng = np.random.default_rng([p.seed, 3])
    n_star, low, high, change, change_low, change_high = {}, {}, {}, {}, {}, {}
    for model in MODELS:
        point = np.array([theory.samples_needed_from_losses(n_values, run.test_mean, p.mc_loss_target)
                          for run in runs[model]])
        replicates = np.empty((N_BOOTSTRAP, m_values.size))
        for j, run in enumerate(runs[model]):
            means = stats.bootstrap_mean_replicates(run.test_losses, n_bootstrap=N_BOOTSTRAP, rng=rng)
            replicates[:, j] = [theory.samples_needed_from_losses(n_values, mean, p.mc_loss_target)
                                for mean in means]
        n_star[model] = point
        low[model], high[model] = stats.percentile_interval(replicates, level=CONFIDENCE)
        change[model] = float(_change_over_range(m_values, point)[0])
        change_low[model], change_high[model] = (
            float(v) for v in stats.percentile_interval(_change_over_range(m_values, replicates), level=CONFIDENCE))
    return Projected(m_values, n_values, runs, closed_losses, closed_n_star, n_star, low, high, change, change_low,
                     change_high)


def dimension_verdict(low: float, high: float) -> str:
    """The stated rule on the change of n* over the m range, from its interval [low, high]."""
    band_low, band_high = 1 / (1 + FLAT_TOLERANCE), 1 + FLAT_TOLERANCE
    if low > band_high:
        return "grows"
    if band_low <= low and high <= band_high:
        return "independent of m"
    if high < band_low:
        return "falls"
    return "inconclusive"


def model_rule(projected: Projected, model: str) -> str:
    """:func:`dimension_verdict` for one model, or why it cannot be applied.

    'unreachable' when the model's loss curve misses the target at some m (for the monolithic
    model: at the smallest m; later misses mean n* grew beyond the simulated n, i.e. 'grows');
    'only bounded' when the target is reached already at the first simulated n (:func:`censored`).
    """
    n_star = projected.n_star[model]
    if not np.isfinite(n_star[0]) or (model == "modular" and not np.all(np.isfinite(n_star))):
        return "unreachable"
    if any(name == model for name, _ in censored(projected)):
        return "only bounded"
    return dimension_verdict(projected.change_low[model], projected.change_high[model])


def projected_verdict(projected: Projected) -> str:
    """Theorem 2's claim in the projected Monte Carlo: 'holds', 'does not hold', 'inconclusive' or 'unreachable'.

    'unreachable': the modular model's loss curve does not reach the target at some m (or the
    monolithic one not even at the smallest m), so there is no n* to compare. 'inconclusive'
    also when the target is reached already at the first simulated n (:func:`censored`): n*
    is then only bounded, and equal bounds would look like independence of m. 'holds': the
    modular n* is independent of m and the monolithic one grows (both by
    :func:`dimension_verdict`); 'does not hold': the modular n* grows or falls, or the
    monolithic one is independent of m or falls; 'inconclusive' otherwise.
    """
    modular, monolithic = model_rule(projected, "modular"), model_rule(projected, "monolithic")
    if "unreachable" in (modular, monolithic):
        return "unreachable"
    if "only bounded" in (modular, monolithic):
        return "inconclusive"
    if modular == "independent of m" and monolithic == "grows":
        return "holds"
    if modular in ("grows", "falls") or monolithic in ("independent of m", "falls"):
        return "does not hold"
    return "inconclusive"


def censored(projected: Projected) -> list:
    """(model, m) pairs whose mean loss is at or below the target already at the first simulated n."""
    return [(model, int(m)) for model in MODELS for m, n in zip(projected.input_dim_values, projected.n_star[model])
            if n <= projected.n_train_values[0]]


def _projected_sentence(p: Parameters, projected: Projected, reachability: str) -> str:
    """The Monte Carlo's finding in words, for the chapter's verdict."""
    m = projected.input_dim_values
    rules = {model: model_rule(projected, model) for model in MODELS}
    if "unreachable" in rules.values() or "only bounded" in rules.values():
        return f"{reachability}; so there is no samples-needed curve to test"
    parts = []
    for model in MODELS:
        n_star = projected.n_star[model]
        parts.append(f"the {model} model's samples needed change by a factor {projected.change[model]:.3f} "
                     f"({CONFIDENCE:.0%} interval {projected.change_low[model]:.3f} to "
                     f"{projected.change_high[model]:.3f}) from m = {m[0]} to m = {m[-1]} (n* from {n_star[0]:.1f} "
                     f"to {n_star[-1]:.1f}): by the rule, {rules[model]}")
    return (f"{reachability}; " + "; ".join(parts)
            + f" (intervals from {N_BOOTSTRAP} bootstrap resamples of the {p.n_trials} trials)")


def _label(p: Parameters, model: str) -> str:
    if model == "modular":
        return f"modular, K = {p.n_modules}, b = {p.module_dim}"
    return f"monolithic, {p.total_params} features"


def projected_losses_figure(p: Parameters, projected: Projected) -> Figure:
    """Monte-Carlo test loss against n at the smallest and largest m, one panel per model."""
    m_first, m_last = (int(projected.input_dim_values[i]) for i in (0, -1))
    panels = []
    for model in MODELS:
        runs, closed = projected.runs[model], projected.closed_losses[model]
        panels.append(dict(
            x=projected.n_train_values, closed={f"m = {m_first}": closed[0], f"m = {m_last}": closed[-1]},
            closed_name="closed form", mc_x=projected.n_train_values,
            mc={f"m = {m_first}": (runs[0].test_mean, runs[0].test_se),
                f"m = {m_last}": (runs[-1].test_mean, runs[-1].test_se)},
            xlabel="training samples n", ylabel="test loss (MSE)", target=p.mc_loss_target, log_y=True,
            title=_label(p, model)))
    return theory_plots.closed_form_vs_monte_carlo(
        panels, title=f"Projected Monte Carlo: {p.n_trials} trials, P = {p.mc_n_features} per module, "
                      f"{p.n_test} test points")


def projected_samples_figure(p: Parameters, projected: Projected) -> Figure:
    """Samples needed against m: Monte-Carlo estimates with intervals, and the closed form for the same spectra."""
    m = projected.input_dim_values
    panel = dict(m=m, estimates_m=m,
                 curves={_label(p, model): projected.closed_n_star[model] for model in MODELS},
                 estimates={_label(p, model): (projected.n_star[model], projected.n_star_low[model],
                                               projected.n_star_high[model]) for model in MODELS},
                 curves_name="closed form (white features)",
                 estimates_name=f"Monte Carlo ({CONFIDENCE:.0%} interval)", log_y=False,
                 ylabel=f"samples needed for test loss {p.mc_loss_target:g}",
                 title=f"c = {p.spectrum_scale:g}, Omega = {p.omega:g}, p = {p.n_params} per module")
    return theory_plots.samples_needed_vs_dimension([panel], title="Projected Monte Carlo: samples needed vs m")


def projected_table(projected: Projected) -> pd.DataFrame:
    """n* per model and m: Monte Carlo with interval, and the closed form for white features."""
    rows = [dict(model=model, input_dim=int(m), n_star_mc=projected.n_star[model][j],
                 interval_low=projected.n_star_low[model][j], interval_high=projected.n_star_high[model][j],
                 n_star_closed_form=projected.closed_n_star[model][j])
            for model in MODELS for j, m in enumerate(projected.input_dim_values)]
    return pd.DataFrame(rows).round(1)


# --- 3. the closed form's check (independent module features) ---------------------------------


@dataclass(frozen=True)
class ModularCheck:
    n_train_grid: np.ndarray
    closed: dict                # module_dim -> (train, test) arrays over n_train_grid
    points: dict                # module_dim -> DataFrame of compare_with_monte_carlo rows


def modular_check(p: Parameters) -> ModularCheck:
    """Theorem 2's closed form against a Monte Carlo of K modules with independent white features."""
    q = p.total_params
    n_grid = np.arange(1, p.mc_n_train_max + 1)
    mc_n = [int(n) for n in np.linspace(5, p.mc_n_train_max, p.n_mc_points) if abs(n - q) > theory.MC_THRESHOLD_EXCLUSION * q]
    modules = {b: theory.PowerLaw(b, p.spectrum_scale, p.omega, p.mc_n_features) for b in p.mc_module_dim_values}
    points = {b: pd.DataFrame([theory.compare_with_monte_carlo(module, n, p.n_params, 1, p.label_noise,
                                                               n_modules=p.n_modules, n_trials=p.n_trials,
                                                               seed=[p.seed, n, b]) for n in mc_n])
              for b, module in modules.items()}
    closed = {b: theory.modular_losses(module, n_grid, p.n_params, p.n_modules, 1, p.label_noise)
              for b, module in modules.items()}
    return ModularCheck(n_grid, closed, points)


def modular_check_figure(p: Parameters, check: ModularCheck) -> Figure:
    panels = [dict(x=check.n_train_grid, closed={"train": check.closed[b][0], "test": check.closed[b][1]},
                   mc_x=check.points[b]["n_train"],
                   mc={key: (check.points[b][f"{key}_mc"], check.points[b][f"{key}_se"]) for key in ("train", "test")},
                   xlabel="training samples n", ylabel="expected loss (MSE)", threshold=p.total_params,
                   y_max=theory_plots.Y_MAX_OVER_TOTAL_VARIANCE * p.spectrum_scale, title=f"b = {b}")
              for b in check.points]
    return theory_plots.closed_form_vs_monte_carlo(
        panels, title=f"Independent modules: K = {p.n_modules}, p = {p.n_params} each, P = {p.mc_n_features}, d = 1")


# --- the chapter's numbers -----------------------------------------------------------------------


def summary(p: Parameters, closed: ClosedForm, projected: Projected, check: ModularCheck) -> dict:
    """The numbers and verdict words the chapter's text quotes, keyed by their glue names."""
    max_deviation = float(pd.concat(check.points.values())["deviation"].max())
    mono, modular = closed.n_monolithic, closed.n_modular
    verdict = projected_verdict(projected)
    m = projected.input_dim_values
    unreachable = {model: _unreachable_where(m, projected.n_star[model]) for model in MODELS}
    if any(unreachable.values()):
        mc_reachability = "; ".join(f"the {model} model does not reach it within n <= {p.mc_n_train_max} at m = "
                                    f"{', '.join(map(str, at))}" for model, at in unreachable.items() if at)
    else:
        mc_reachability = f"both models reach it at every m within n <= {p.mc_n_train_max}"
    if censored(projected):
        mc_reachability += (f"; at {', '.join(f'{model} m = {m}' for model, m in censored(projected))} the target is "
                            f"reached already at the first simulated n = {projected.n_train_values[0]}, so n* is "
                            f"only bounded there (choose a lower mc_loss_target)")
    values = dict(
        thm2_verdict=verdict, thm2_mc_sentence=_projected_sentence(p, projected, mc_reachability),
        thm2_closed_status=closed_form_status(p, closed),
        thm2_closed_sentence=_closed_form_sentence(p, closed),
        thm2_check_verdict=verdicts.monte_carlo_agreement(pd.concat(check.points.values())["deviation"]),
        thm2_max_dev=max_deviation, thm2_agree_within=verdicts.MC_AGREE_WITHIN_SE,
        thm2_n_checks=sum(len(t) for t in check.points.values()),
        thm2_n_modular=float(modular[0]), thm2_n_mono_first=float(mono[0]), thm2_n_mono_last=float(mono[-1]),
        thm2_ratio_last=float(np.divide(mono[-1], modular[-1])) if np.isfinite(modular[-1]) else math.nan,
        thm2_target_over_c=p.loss_target / p.spectrum_scale,
        thm2_m_first=p.input_dim_values[0], thm2_m_last=p.input_dim_values[-1],
        thm2_mc_loss_target=p.mc_loss_target, thm2_mc_reachability=mc_reachability,
        thm2_mc_m_first=int(m[0]), thm2_mc_m_last=int(m[-1]), thm2_mc_n_trials=p.n_trials,
        thm2_flat_tolerance=FLAT_TOLERANCE, thm2_threshold_exclusion=theory.MC_THRESHOLD_EXCLUSION,
        thm2_frequency_spacing=theory.FREQUENCY_SPACING, thm2_confidence=CONFIDENCE, thm2_n_bootstrap=N_BOOTSTRAP,
    )
    for model in MODELS:
        values[f"thm2_{model}_rule"] = model_rule(projected, model)
        values[f"thm2_{model}_change"] = projected.change[model]
        values[f"thm2_{model}_change_low"] = projected.change_low[model]
        values[f"thm2_{model}_change_high"] = projected.change_high[model]
        values[f"thm2_{model}_n_first"] = float(projected.n_star[model][0])
        values[f"thm2_{model}_n_last"] = float(projected.n_star[model][-1])
    return values


def report(summary: dict) -> str:
    """Three lines on the three results for the notebook's output, from :func:`summary`."""
    return (f"projected Monte Carlo: modular n* {summary['thm2_modular_rule']} (change over m "
            f"{summary['thm2_modular_change']:.3f}, interval {summary['thm2_modular_change_low']:.3f}.."
            f"{summary['thm2_modular_change_high']:.3f}), monolithic n* {summary['thm2_monolithic_rule']} (change "
            f"{summary['thm2_monolithic_change']:.3f}, interval {summary['thm2_monolithic_change_low']:.3f}.."
            f"{summary['thm2_monolithic_change_high']:.3f}); Theorem 2's claim: {summary['thm2_verdict']}\n"
            f"closed form at P = inf: {summary['thm2_closed_status']}: {summary['thm2_closed_sentence']}\n"
            f"closed form vs independent-module Monte Carlo: {summary['thm2_check_verdict']} "
            f"(within {summary['thm2_max_dev']:.2f} s.e.)")


# Theorem 2's verdict words in the scorecard's vocabulary.
SCORECARD_VERDICT = {"holds": "agree", "does not hold": "disagree", "inconclusive": "inconclusive",
                     "unreachable": "not testable"}


def claims(p: Parameters, summary: dict) -> dict[str, scorecard.Record]:
    """The scorecard record of Theorem 2, from :func:`summary` (the projected Monte Carlo)."""
    ours = (f"samples needed for test loss {p.mc_loss_target:g}, change from m = {summary['thm2_mc_m_first']} "
            f"to {summary['thm2_mc_m_last']}: modular {summary['thm2_modular_change']:.3f} "
            f"({summary['thm2_modular_rule']}), monolithic {summary['thm2_monolithic_change']:.3f} "
            f"({summary['thm2_monolithic_rule']})")
    rule = (f"agree if the modular n* is independent of m (its {CONFIDENCE:.0%} interval within a factor "
            f"1 ± {FLAT_TOLERANCE:g}) while the monolithic one grows")
    return {"theorem2": scorecard.record("theorem2", ours=ours, seeds=[p.seed],
                                         verdict=SCORECARD_VERDICT[summary["thm2_verdict"]], rule=rule)}
