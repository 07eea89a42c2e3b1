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
# **Claim** ({cite}`boopathy2025breaking`, App. A.2, and the authors' replies to the reviewers): the
# networks of Fig. 2 differ from Theorem 1 in three ways: their loss is above the theory
# at small $n$ (about 4.4 against 1.2 at $n = 100$), their test loss has a finite spike where the
# theory diverges ($p \approx n$), and their sample complexity still grows with $m$. The authors put
# all three down to **imperfect optimisation**: Theorem 1 describes the exact optimum of a model linear
# in its parameters, a trained network is neither.
#
# **Test:** on the calibrated task (see the [calibration chapter](sec-calibration)), at $p = 1153$ and a few $n$ around the threshold, we train the same networks closer and
# closer to an optimum: the Fig. 2 protocol (Adam), much longer Adam, L-BFGS in float64, and finally
# the network's linearisation around its initialisation solved exactly by least squares, which *is* a
# model linear in $p$ features at its global optimum. If the gaps are an optimisation artefact, they
# should shrink along this list.

# %% tags=["parameters"]
seed = 0                         # first seed; runs use seed, seed + 1, ...
n_seeds = 2                      # seeds (task, data and init) per point
input_dim_values = [5, 9]        # m (the paper's Fig. 2 lines span 5..9)
n_train_values = [100, 300, 1000, 3000]  # n around the interpolation threshold (n near p)
n_params = 1153                  # p (the paper's n-sweep value)
n_modules = 3                    # k (paper does not say)
n_steps = 0                      # the Fig. 2 protocol: full-batch Adam steps; 0: the calibrated budget
lr = 0.003                       # its learning rate
n_steps_long = 10000             # "much longer" Adam
n_steps_lbfgs = 2000             # L-BFGS iterations
n_test = 10000                   # test points per run
device = "auto"                  # "auto", "cpu" or "cuda"
results_dir = None               # None: results/optimisation_gap

# %% tags=["remove-cell"]
import matplotlib.pyplot as plt

from modcore import chapters
from modcore.chapters import optimisation_gap

p = optimisation_gap.Parameters.from_cell(globals())  # the same checks as `python -m modcore run`

# %%
frame = optimisation_gap.run(p)

# %% [markdown]
# ## The theory to compare with
# The same Theorem-1 fit as every sine chapter: $c$ is the task's variance (computed from the task), the
# label noise is the theory's noise, and $\Omega$ is the value the [calibration chapter](sec-calibration)
# fitted. Runs whose loss diverged are counted here and left out of every number below.

# %%
fit = optimisation_gap.calibrated_theory()
print(optimisation_gap.theory_check(fit, frame))
optimisation_gap.run_table(frame)

# %% mystnb={"figure": {"name": "fig-optimisation-gap", "caption": "optimisation_gap: train (top) and test (bottom) MSE vs n at p = 1153 on the calibrated sine task, one column per m, for four ways of optimising the same networks (seed means of healthy runs), with Theorem 1 (dashed; c from the task, Omega from the calibration chapter). Losses above 5 times the upper quartile of a panel run off its top (the table gives every number)."}, "image": {"alt": "optimisation_gap: train (top) and test (bottom) MSE vs n at p = 1153 on the calibrated sine task, one column per m, for four ways of optimising the same networks (seed means of healthy runs), with Theorem 1 (dashed; c from the task, Omega from the calibration chapter). Losses above 5 times the upper quartile of a panel run off its top (the table gives every number)."}}
optimisation_gap.figure(fit, frame)
plt.show()

# %%
print(optimisation_gap.rank_text(p, frame))
gaps = optimisation_gap.gaps(p, fit, frame)
gaps

# %%
summary = optimisation_gap.summary(gaps, fit, frame)
print(f"verdict: {summary['gap_verdict']} (L-BFGS closes {summary['gap_n_closed']}, "
      f"the linearised optimum {summary['gap_n_closed_linear']})")

# %% [markdown]
# ## Verdict
# The authors' explanation is **{glue:text}`gap_verdict`** by our runs (the scorecard's word:
# **{glue:text}`gap_scorecard_verdict`**). Rule, fixed before the numbers: the
# explanation can only be tested if our networks show the gap's direction (test loss above Theorem 1 at
# the smallest $n$ under the Fig. 2 protocol); otherwise the verdict is "{glue:text}`gap_not_testable`". If they do,
# the verdict counts the gaps that training the *network* closer to its optimum (L-BFGS in float64 instead
# of the Fig. 2 protocol) moves towards Theorem 1: {glue:text}`gap_n_closed`. The exact optimum of the
# *linearised* network moves {glue:text}`gap_n_closed_linear`. Healthy runs: {glue:text}`gap_healthy`.
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
# The theory here uses $c$ from the task and the calibrated $\Omega$ = {glue:text}`gap_omega:.3f`
# (interval {glue:text}`gap_omega_low:.3f` to {glue:text}`gap_omega_high:.3f`); it misses this chapter's
# underparameterised runs by a typical factor of {glue:text}`gap_fit_factor:.1f` (root-mean-square in log),
# so the small-n ratios compare with a rough reference; the spike and train-loss rows do not depend on $\Omega$.
#
# **Reading.** Our gradient-trained networks are {glue:text}`gap_below_theory` Theorem 1 at small $n$ and
# show {glue:text}`gap_spike_word` near $n = p$; the paper's networks are above the theory there, with a
# finite spike, so the gaps the authors explain {glue:text}`gap_gaps_match`. Better optimisation
# (L-BFGS) {glue:text}`gap_train_word` the train loss below the threshold towards the theory's 0; a spike
# near $n = p$ appears for: {glue:text}`gap_spike_methods`, so {glue:text}`gap_spike_only_linear`. The
# linearised network's Jacobian has rank {glue:text}`gap_effective_p:.3f` of its parameter count at
# n = {glue:text}`gap_large_n`, so its threshold sits below $n = p$, which may be why the paper's fitted
# divergences sit below the networks' parameter count (its Fig. 2 p panel diverges near
# $p \approx 1.16 \times 10^3$ at $n = 1000$).

# %% tags=["remove-cell"]
chapters.publish(summary, optimisation_gap.chapter_claims(p, summary))
