"""The sine-task chapter (``notebooks/sine_task.py``): one task instance seen along a true and
a random direction, and the target's variance across k (the 1/sqrt(k) scaling)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from modcore.experiments.calibration import THRESHOLDS
from modcore.tasks.sine import SineTask, calibrated_task_defaults

# a k's mean variance counts as k-independent within this many standard errors of the overall
# mean (our rule: three s.e. leave a false alarm for a handful of k values at about 1%)
VARIANCE_MAX_DEVIATION = 3.0


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
    means = np.array([np.mean(v) for v in variances])
    standard_errors = np.array([np.std(v, ddof=1) / np.sqrt(len(v)) for v in variances])
    return means, standard_errors


def variance_verdict(means: np.ndarray, standard_errors: np.ndarray) -> dict[str, float | str]:
    """"agrees" (with a k-independent variance) if every k's mean lies within
    VARIANCE_MAX_DEVIATION standard errors of the overall mean; with the spread and deviation."""
    deviation = float(np.max(np.abs(means - means.mean()) / standard_errors))
    return {"variance_mean": float(means.mean()), "variance_spread": float((means.max() - means.min()) / means.mean()),
            "variance_deviation": deviation,
            "variance_verdict": "agrees" if deviation < VARIANCE_MAX_DEVIATION else "disagrees"}


def scale_words(label_variances: np.ndarray) -> dict[str, float | str]:
    """The calibrated task's constants and the paper's thresholds (1.2, 1.5) as a fraction of the
    smallest measured label variance (the loss of the best constant predictor)."""
    defaults = calibrated_task_defaults()
    return {**defaults, "threshold_fraction": float(max(THRESHOLDS) / np.min(label_variances))}
