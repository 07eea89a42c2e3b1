"""The sine-task chapter (notebook ``sine_task``): one task instance seen along a true and a random
direction, and the target's variance across k (the 1/sqrt(k) scaling)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from modcore import paper_values, stats, verdicts
from modcore.parameters import DISTINCT, NONEMPTY, POSITIVE, SEED, ChapterParameters, at_least, each, param
from modcore.plots import sine as sine_plots
from modcore.tasks.sine import SineTask, calibrated_task_defaults


@dataclass(frozen=True)
class Parameters(ChapterParameters):
    """The chapter's parameters: the only home of each one's type, default and rule. The
    notebook's parameters cell repeats the defaults; tests/test_parameters.py keeps the two equal."""

    seed: int = param(0, SEED)                  # task seed (directions and phases)
    input_dim: int = param(8, at_least(1))      # m
    n_modules: int = param(4, at_least(1))      # k in the illustration
    n_samples: int = param(2000, at_least(2))   # points in the scatter plot; a correlation needs two
    z_max: float = param(5.0, POSITIVE)         # the module functions are drawn for z in [-z_max, z_max]
    n_modules_values: list[int] = param([1, 2, 4, 8], NONEMPTY, DISTINCT, each(at_least(1)))  # k values compared
    n_tasks: int = param(40, at_least(2))       # task draws per k; a standard error needs two
    variance_n_samples: int = param(4000, at_least(2))  # points per task draw

# a k's mean variance counts as k-independent within this many standard errors of the overall
# mean (our rule: three s.e. leave a false alarm for a handful of k values at about 1%)
VARIANCE_MAX_DEVIATION = 3.0
# The prose's verb for each word the variance rule can give (the words are modcore.verdicts').
VARIANCE_VERBS = {"agree": "agrees", "disagree": "disagrees"}


def one_instance(input_dim: int, n_modules: int, n_samples: int, *, seed: int,
                 z_range: tuple[float, float] = (-5.0, 5.0), n_grid: int = 400) -> dict[str, np.ndarray]:
    """What the chapter's first figure shows of ``SineTask(input_dim, n_modules, seed=seed)``:
    the module functions g_i on a grid of z (``module_values``, (k, n_grid)), and ``n_samples``
    points' targets against their projection on the first true direction and on a random unit
    direction; plus ``u1_correlation``, |corr(y, g_1(u_1^T x))|."""
    task = SineTask(input_dim, n_modules, seed=seed)
    z = np.linspace(*z_range, n_grid)
    module_values = task.module_outputs(np.repeat(z[:, None], n_modules, axis=1)).T  # (k, n_grid)
    x, y = task.sample(n_samples, seed=seed + 1)
    random_direction = np.random.default_rng(seed + 2).standard_normal(input_dim)
    random_direction /= np.linalg.norm(random_direction)
    correlation = abs(np.corrcoef(task.module_outputs(task.project(x))[:, 0], y)[0, 1])
    return {"task": task, "z": z, "module_values": module_values, "true_projection": task.project(x)[:, 0, 0],
            "random_projection": x @ random_direction, "targets": y, "u1_correlation": float(correlation)}


def variance_by_k(input_dim: int, n_modules_values: Sequence[int], n_tasks: int, n_samples: int, *,
                  seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, standard error) over ``n_tasks`` task draws of the target variance Var(y), for each k
    (each draw from ``n_samples`` points)."""
    variances = [[SineTask(input_dim, k, seed=seed + 100 * k + t).sample(n_samples, seed=t)[1].var()
                  for t in range(n_tasks)] for k in n_modules_values]
    return stats.mean_and_standard_error(variances)


def variance_verdict(means: np.ndarray, standard_errors: np.ndarray) -> dict[str, float | str]:
    """"agree" (with a k-independent variance) if every k's mean lies within
    VARIANCE_MAX_DEVIATION standard errors of the overall mean, else "disagree", as the prose's verb
    (VARIANCE_VERBS); with the spread, the deviation and the rule's bound."""
    deviation = float(np.max(np.abs(means - means.mean()) / standard_errors))
    verdict = verdicts.check("agree" if deviation < VARIANCE_MAX_DEVIATION else "disagree")
    return {"variance_mean": float(means.mean()), "variance_spread": float((means.max() - means.min()) / means.mean()),
            "variance_deviation": deviation, "variance_max_deviation": VARIANCE_MAX_DEVIATION,
            "variance_verdict": VARIANCE_VERBS[verdict]}


def scale_words(label_variances: np.ndarray) -> dict[str, float | str]:
    """The calibrated task's constants and the paper's thresholds (1.2, 1.5) as a fraction of the
    smallest measured label variance (the loss of the best constant predictor)."""
    defaults = calibrated_task_defaults()
    return {**defaults, "threshold_fraction": float(max(paper_values.TEST_LOSS_THRESHOLDS) / np.min(label_variances))}


def instance(p: Parameters) -> dict[str, np.ndarray]:
    """:func:`one_instance` at the chapter's m, k, sample size and seed."""
    return one_instance(p.input_dim, p.n_modules, p.n_samples, seed=p.seed, z_range=(-p.z_max, p.z_max))


def instance_figure(p: Parameters, instance: dict):
    """The module functions, and the targets along the first true and a random direction."""
    return sine_plots.module_functions(instance["z"], instance["module_values"], instance["true_projection"],
                                       instance["random_projection"], instance["targets"], p.n_modules)


def instance_text(p: Parameters, instance: dict) -> str:
    return (f"{instance['task']}\ncorrelation of y with g_1(u_1^T x): {instance['u1_correlation']:.3f} "
            f"(1/sqrt(k) = {p.n_modules ** -0.5:.3f})")


def variances(p: Parameters) -> tuple[np.ndarray, np.ndarray]:
    """:func:`variance_by_k` at the chapter's settings."""
    return variance_by_k(p.input_dim, p.n_modules_values, p.n_tasks, p.variance_n_samples, seed=p.seed)


def variance_text(p: Parameters, means: np.ndarray, standard_errors: np.ndarray) -> str:
    return "\n".join(f"k={k}: Var(y) = {m:.3f} ± {s:.3f}" for k, m, s in zip(p.n_modules_values, means, standard_errors))


def variance_figure(p: Parameters, means: np.ndarray, standard_errors: np.ndarray):
    return sine_plots.target_variance_vs_k(p.n_modules_values, means, standard_errors)


def summary(p: Parameters, instance: dict, means: np.ndarray, standard_errors: np.ndarray) -> dict:
    """Every number and word the chapter's text quotes, keyed by glue name (``sine_...``)."""
    return {"sine_u1_correlation": instance["u1_correlation"], "sine_k": p.n_modules,
            **{f"sine_{name}": value for name, value in {**variance_verdict(means, standard_errors),
                                                         **scale_words(means)}.items()}}
