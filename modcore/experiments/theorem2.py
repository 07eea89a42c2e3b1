"""The Theorem 2 chapter (notebook ``theorem2``): modular vs monolithic sample complexity.

Computed here: Theorem 2's closed form of the samples needed against the input dimension m,
modular vs monolithic at equal parameter counts (P = inf), and the closed form's Monte-Carlo
check with independent module features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from modcore import theory
from modcore.plots import theory as theory_plots

# Monte-Carlo points closer to the threshold d n = K p than this fraction of K p are left out
# (heavy tails, as in the Theorem 1 chapter). Our choice.
THRESHOLD_EXCLUSION = 0.2

# A closed form and a Monte-Carlo mean further apart than this many standard errors disagree.
AGREE_WITHIN_SE = 4.0

Y_MAX_OVER_TOTAL_VARIANCE = 2.5


def _positive_int(name, value):
    if not (isinstance(value, (int, np.integer)) and value >= 1):
        raise ValueError(f"{name} must be a positive integer, got {name}={value!r}")


@dataclass(frozen=True)
class Settings:
    """The chapter's parameters; names as in the notebook's parameters cell."""

    seed: int
    loss_target: float
    input_dim_values: tuple
    module_dim: int
    n_modules: int
    n_params: int               # features per module; the monolithic model gets n_modules * n_params
    spectrum_scale: float
    omega: float
    output_dim: int
    label_noise: float
    mc_module_dim_values: tuple
    mc_n_features: int          # features per module in the Monte Carlo
    mc_n_train_max: int
    n_mc_points: int
    n_trials: int

    def __post_init__(self):
        for name in ("input_dim_values", "mc_module_dim_values"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
            if not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty list, got {name}=[]")
        for name in ("module_dim", "n_modules", "n_params", "output_dim", "mc_n_features", "mc_n_train_max",
                     "n_mc_points"):
            _positive_int(name, getattr(self, name))
        if self.module_dim > min(self.input_dim_values):
            raise ValueError(f"module_dim must be <= min(input_dim_values), got module_dim={self.module_dim} and "
                             f"input_dim_values={list(self.input_dim_values)}")
        if self.n_params > self.mc_n_features:
            raise ValueError(f"n_params must be <= mc_n_features, got n_params={self.n_params} and "
                             f"mc_n_features={self.mc_n_features}")


@dataclass(frozen=True)
class ClosedForm:
    input_dim_values: np.ndarray
    n_monolithic: np.ndarray
    n_modular: np.ndarray


def closed_form(settings: Settings) -> ClosedForm:
    """Samples needed at every m, monolithic (K p features) and modular (K modules of p), P = inf."""
    s = settings
    mono, modular = theory.samples_needed_vs_dimension(s.loss_target, s.input_dim_values, s.module_dim, s.n_modules,
                                                       s.n_params, s.spectrum_scale, s.omega, s.output_dim,
                                                       s.label_noise)
    return ClosedForm(np.array(s.input_dim_values), mono, modular)


def closed_form_figure(settings: Settings, closed: ClosedForm) -> Figure:
    s = settings
    curves = {f"monolithic, {s.n_modules * s.n_params} features": closed.n_monolithic,
              f"modular, K = {s.n_modules} modules of b = {s.module_dim}, p = {s.n_params}": closed.n_modular}
    panel = dict(m=closed.input_dim_values, curves=curves, curves_name="closed form (P = inf)",
                 ylabel=f"samples needed for test loss {s.loss_target:g}",
                 title=f"c = {s.spectrum_scale:g}, Omega = {s.omega:g}, d = {s.output_dim}")
    return theory_plots.samples_needed_vs_dimension([panel], title="Theorem 2: modular vs monolithic sample "
                                                                   "complexity")


@dataclass(frozen=True)
class ModularCheck:
    n_train_grid: np.ndarray
    closed: dict                # module_dim -> (train, test) arrays over n_train_grid
    points: dict                # module_dim -> DataFrame of compare_with_monte_carlo rows


def modular_check(settings: Settings) -> ModularCheck:
    """Theorem 2's closed form against a Monte Carlo of K modules with independent white features."""
    s = settings
    q = s.n_modules * s.n_params
    n_grid = np.arange(1, s.mc_n_train_max + 1)
    mc_n = [int(n) for n in np.linspace(5, s.mc_n_train_max, s.n_mc_points)
            if abs(s.output_dim * n - q) > THRESHOLD_EXCLUSION * q]
    modules = {b: theory.PowerLaw(b, s.spectrum_scale, s.omega, s.mc_n_features) for b in s.mc_module_dim_values}
    points = {b: pd.DataFrame([theory.compare_with_monte_carlo(module, n, s.n_params, s.output_dim, s.label_noise,
                                                               n_modules=s.n_modules, n_trials=s.n_trials,
                                                               seed=[s.seed, n, b]) for n in mc_n])
              for b, module in modules.items()}
    closed = {b: theory.modular_losses(module, n_grid, s.n_params, s.n_modules, s.output_dim, s.label_noise)
              for b, module in modules.items()}
    return ModularCheck(n_grid, closed, points)


def modular_check_figure(settings: Settings, check: ModularCheck) -> Figure:
    s = settings
    panels = [dict(x=check.n_train_grid, closed={"train": check.closed[b][0], "test": check.closed[b][1]},
                   mc_x=check.points[b]["n_train"],
                   mc={key: (check.points[b][f"{key}_mc"], check.points[b][f"{key}_se"]) for key in ("train", "test")},
                   xlabel="training samples n", ylabel="expected loss (MSE)",
                   threshold=s.n_modules * s.n_params / s.output_dim,
                   y_max=Y_MAX_OVER_TOTAL_VARIANCE * s.output_dim * s.spectrum_scale, title=f"b = {b}")
              for b in check.points]
    return theory_plots.closed_form_vs_monte_carlo(
        panels, title=f"Modular model, K = {s.n_modules} modules, p = {s.n_params} features each "
                      f"({s.mc_n_features} in the target), d = {s.output_dim}")


def summary(settings: Settings, closed: ClosedForm, check: ModularCheck) -> dict:
    """The numbers and verdict word the chapter's text quotes, keyed by their glue names."""
    s = settings
    max_deviation = float(pd.concat(check.points.values())["deviation"].max())
    mono, modular = closed.n_monolithic, closed.n_modular
    flat = bool(np.all(modular == modular[0]))
    grows = bool(np.all(np.diff(mono) > 0))
    verdict = "agree" if (max_deviation <= AGREE_WITHIN_SE and flat and grows) else "disagree"
    return dict(thm2_verdict=verdict, thm2_max_dev=max_deviation,
                thm2_n_checks=sum(len(t) for t in check.points.values()), thm2_n_modular=float(modular[0]),
                thm2_n_mono_first=float(mono[0]), thm2_n_mono_last=float(mono[-1]),
                thm2_ratio_last=float(mono[-1] / modular[-1]),
                thm2_target_over_c=s.loss_target / (s.output_dim * s.spectrum_scale),
                thm2_m_first=s.input_dim_values[0], thm2_m_last=s.input_dim_values[-1])
