# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# (sec-optimisation_gap)=
# # Is the theory-vs-network gap an optimisation gap?
#
# **Claim** ({cite}`boopathy2025breaking`, App. A.2, and the authors' replies; PAPER.md §13.1 and
# addendum): the networks of Fig. 2 differ from Theorem 1 in three ways: their loss is above the theory
# at small $n$ (about 4.4 against 1.2 at $n = 100$), their test loss has a finite spike where the
# theory diverges ($p \approx n$), and their sample complexity still grows with $m$. The authors put
# all three down to **imperfect optimisation**: Theorem 1 describes the exact optimum of a model linear
# in its parameters, a trained network is neither.
#
# **Test:** at $p = 1153$ and a few $n$ around the threshold, we train the same networks closer and
# closer to an optimum: the Fig. 2 protocol (Adam), much longer Adam, L-BFGS in float64, and finally
# the network's linearisation around its initialisation solved exactly by least squares, which *is* a
# model linear in $p$ features at its global optimum. If the gaps are an optimisation artefact, they
# should shrink along this list.

# %% tags=["parameters"]
seed = 0                         # first seed; runs use seed, seed + 1, ...
n_seeds = 2                      # seeds (task, data and init) per point
input_dims = [5, 9]              # m (the paper's Fig. 2 lines span 5..9)
n_values = [100, 300, 1000, 3000]  # n around the interpolation threshold (n near p)
n_params = 1153                  # p (the paper's n-sweep value)
n_modules = 3                    # k (paper does not say)
n_steps = 2000                   # the Fig. 2 protocol: full-batch Adam steps
lr = 0.003                       # its learning rate
long_steps = 10000               # "much longer" Adam
lbfgs_steps = 2000               # L-BFGS iterations
n_test = 10000                   # test points per run
device = "auto"                  # "auto", "cpu" or "cuda"
results_dir = None               # None: results/optimisation_gap

# %%

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from myst_nb import glue

from modcore import sweeps
from modcore import sine_experiments as se
from modcore.plots import sine as sine_plots

# %%
methods = se.optimisation_methods(n_steps, lr, long_steps, lbfgs_steps)
runs = {label: [se.NetworkRun(input_dim=m, n_modules=n_modules, n_params=n_params, n_train=n, seed=seed + s,
                              n_test=n_test, **overrides)
                for m in input_dims for n in n_values for s in range(n_seeds)]
        for label, overrides in methods.items()}
store = sweeps.resolve_store(results_dir, "optimisation_gap")
frame = pd.concat([runs_of_method.assign(method_label=label)
                   for label, runs_of_method in se.sweep_networks(runs, store, device=device).items()],
                  ignore_index=True)

# %% [markdown]
# ## The theory to compare with
# Theorem 1 needs the spectrum constants. Its total variance $\mathrm{Tr}(\Lambda) = c$ is the target's
# variance, which we know, so we set $c$ to it and fit only $\Omega$ (least squares on $\log$ test loss)
# to the underparameterised runs ($p \le n/2$) of all methods together; every other point is a
# prediction.

# %%
target_variance = frame.target_variance.mean()
fit = se.fit_theory(frame, c=target_variance)
grid = np.unique(np.round(np.geomspace(min(n_values), max(n_values), 200)))
theory_curves = pd.concat([pd.DataFrame({"input_dim": m, "n_train": grid,
                                         **dict(zip(("theory_train", "theory_test"),
                                                    fit.losses(m, grid, frame[frame.input_dim == m].n_params_actual.iloc[0])))})
                           for m in input_dims])
means = frame.groupby(["method_label", "input_dim", "n_train"], as_index=False, sort=False)[["train_mse", "test_mse"]].mean()
print(f"c = target variance = {fit.c:.3f}, fitted Omega = {fit.omega:.3f} on {fit.n_fitted} runs "
      f"(rms log error {fit.rms_log_error:.3f})")

# %% mystnb={"figure": {"name": "fig-optimisation-gap", "caption": "optimisation_gap: train (top) and test (bottom) MSE vs n at p = 1153 for four ways of optimising the same networks, with Theorem 1 (dashed; c = target variance, Omega fitted)."}}
sine_plots.optimisation_gap(means.rename(columns={"method_label": "method"}), theory_curves)
plt.show()

# %%
gaps = se.gap_measures(frame, fit, small_n=min(n_values), large_n=max(n_values), n_params=n_params)
print(gaps.round(4).to_string())
linear_runs = frame[frame.method == "linearised"]
rank_fraction = (linear_runs.jacobian_rank / linear_runs[["n_train", "n_params_actual"]].min(axis=1)).min()
largest_n_rank = linear_runs[linear_runs.n_train == max(n_values)]
effective_p = (largest_n_rank.jacobian_rank / largest_n_rank.n_params_actual).mean()
print(f"linearised network: Jacobian rank / min(n, p) >= {rank_fraction:.3f}; "
      f"at n = {max(n_values)} its rank is {effective_p:.3f} of p")

# %%
baseline, long_adam, lbfgs, linearised = gaps.index[:4]
closed_by_lbfgs = se.gaps_closed(gaps, lbfgs, baseline)
closed_by_linear = se.gaps_closed(gaps, linearised, baseline)
n_closed = sum(closed_by_lbfgs.values())
verdict = {3: "supported", 2: "partly supported", 1: "mostly not supported", 0: "not supported"}[n_closed]
word = lambda closed: "closer to" if closed else "not closer to"  # noqa: E731
for key, label in (("baseline", baseline), ("long", long_adam), ("lbfgs", lbfgs), ("linear", linearised),
                   ("theory", "Theorem 1")):
    for column in gaps.columns:
        glue(f"gap_{key}_{column}", float(gaps.loc[label, column]), display=False)
for gap in closed_by_lbfgs:
    glue(f"gap_lbfgs_closes_{gap}", word(closed_by_lbfgs[gap]), display=False)
    glue(f"gap_linear_closes_{gap}", word(closed_by_linear[gap]), display=False)
glue("gap_verdict", verdict, display=False)
glue("gap_n_closed", f"{n_closed} of 3", display=False)
glue("gap_n_closed_linear", f"{sum(closed_by_linear.values())} of 3", display=False)
glue("gap_effective_p", float(effective_p), display=False)
glue("gap_omega", fit.omega, display=False)
glue("gap_fit_factor", float(np.exp(fit.rms_log_error)), display=False)
glue("gap_small_n", min(n_values), display=False)
glue("gap_large_n", max(n_values), display=False)
glue("gap_below_theory", "below" if gaps.loc[baseline, "small_n_test_ratio"] < 1 else "above", display=False)
glue("gap_spike_word", "a spike" if gaps.loc[baseline, "spike_rise"] > 1 else "no spike", display=False)
print(f"gaps closed by L-BFGS: {closed_by_lbfgs}; by the linearised optimum: {closed_by_linear}; verdict: {verdict}")

# %% [markdown]
# ## Verdict
# Training the *network* closer to its optimum (L-BFGS in float64 instead of the Fig. 2 protocol) moves
# {glue:text}`gap_n_closed` gaps towards Theorem 1: the authors' explanation is
# **{glue:text}`gap_verdict`** by our runs. The exact optimum of the *linearised* network moves
# {glue:text}`gap_n_closed_linear`.
#
# | measure | Adam (Fig. 2 protocol) | Adam, longer | L-BFGS (float64) | linearised, exact | Theorem 1 |
# |---|---|---|---|---|---|
# | test loss / theory at n = {glue:text}`gap_small_n` | {glue:text}`gap_baseline_small_n_test_ratio:.3f` | {glue:text}`gap_long_small_n_test_ratio:.3f` | {glue:text}`gap_lbfgs_small_n_test_ratio:.3f` | {glue:text}`gap_linear_small_n_test_ratio:.3f` | 1 |
# | spike: peak near n = p / lowest loss at smaller n | {glue:text}`gap_baseline_spike_rise:.3f` | {glue:text}`gap_long_spike_rise:.3f` | {glue:text}`gap_lbfgs_spike_rise:.3f` | {glue:text}`gap_linear_spike_rise:.3f` | infinite |
# | mean train loss for n < p | {glue:text}`gap_baseline_train_below_threshold:.2e` | {glue:text}`gap_long_train_below_threshold:.2e` | {glue:text}`gap_lbfgs_train_below_threshold:.2e` | {glue:text}`gap_linear_train_below_threshold:.2e` | 0 |
# | test at largest / smallest m, n = {glue:text}`gap_large_n` | {glue:text}`gap_baseline_m_ratio:.3f` | {glue:text}`gap_long_m_ratio:.3f` | {glue:text}`gap_lbfgs_m_ratio:.3f` | {glue:text}`gap_linear_m_ratio:.3f` | {glue:text}`gap_theory_m_ratio:.3f` |
#
# Per gap, L-BFGS vs the Fig. 2 protocol: small-n loss {glue:text}`gap_lbfgs_closes_small_n` the theory,
# spike {glue:text}`gap_lbfgs_closes_spike` the theory, growth with m {glue:text}`gap_lbfgs_closes_m_growth`
# the theory. The linearised optimum, against the same baseline: small-n loss
# {glue:text}`gap_linear_closes_small_n` the theory, spike {glue:text}`gap_linear_closes_spike` the theory,
# growth with m {glue:text}`gap_linear_closes_m_growth` the theory.
#
# The theory here uses $c$ = the target variance and the fitted $\Omega$ = {glue:text}`gap_omega:.3f`; it
# misses the underparameterised runs it was fitted to by a typical factor of
# {glue:text}`gap_fit_factor:.1f` (root-mean-square in log), so the small-n ratios compare with a rough
# reference; the spike and train-loss rows do not depend on the fit.
#
# **Reading.** Our gradient-trained networks are {glue:text}`gap_below_theory` Theorem 1 at small $n$ and
# show {glue:text}`gap_spike_word` near $n = p$; the paper's networks are above the theory there, with a
# finite spike, so the gaps the authors explain are not the ones our networks have. Better optimisation
# drives the train loss towards the theory's 0, but a spike only appears when the network is replaced by
# its linearisation at the exact minimum-norm optimum: the divergence belongs to the linear model, not
# to a well-optimised network. Its Jacobian has rank {glue:text}`gap_effective_p:.3f` of its parameter
# count at n = {glue:text}`gap_large_n`, so its threshold sits below $n = p$, which may be why the paper's
# fitted divergences sit at $p_\text{theory} \approx 0.85\,p$ (PAPER.md §4.2).
