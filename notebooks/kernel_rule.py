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
# (sec-kernel_rule)=
# # The kernel-based modular learning rule (Algorithm 1)
#
# **Claim** ({cite}`boopathy2025breaking`, Section 4.2, Algorithm 1, Eqs. 15-17): for one module with
# projection $\hat U$ (here a unit vector, $b = 1$), the weights a module network needs to fit the whole
# target alone have squared norm $y^\top K(\hat U)^{-1} y$, with $K$ a kernel on the projected inputs
# $\hat U^\top x$. This is small when $\hat U$ picks out a direction along which the target is simple,
# typically a true module's, so gradient descent on it from $K$ random starts finds the modules.
#
# **Check, before any comparison uses the rule:** the objective equals the norm of the (ridge)
# minimum-norm weights; along a straight path from a random direction to a true one, is it lowest near
# the truth? Then a pilot over the settings the paper leaves open (kernel, ridge $\varepsilon$, minibatch
# $B$, steps, restarts), scored by one thing only: how many of the true modules the restarts recover. A
# rule written down before the comparisons ran picks the settings the Fig. 4a and Fig. 5 chapters use.

# %% tags=["parameters"]
seed = 0                                    # first seed of the path section; runs use seed, seed + 1, ...
n_seeds = 10                                # seeds (task, minibatch, network) per kernel on the path
input_dim = 6                               # m (paper does not say)
n_modules = 3                               # task modules k
kernel_values = ["ntk", "hidden", "rbf"]    # kernels on the path
width = 16                                  # module MLP width, the network of "ntk" and "hidden" (our choice)
n_points = 21                               # directions along each path
path_batch_size = 256                       # minibatch of the path's objective (kernel matrix B x B)
pilot_seed = 1000                           # first pilot seed: no later chapter uses seeds this high
pilot_n_seeds = 5                           # pilot seeds
pilot_n_train = 2000                        # training points of the pilot's tasks
pilot_kernels = ["ntk", "hidden", "rbf"]    # the pilot's grid ...
pilot_eps_values = [0.001, 0.01, 0.1, 1.0]  # ... ridge eps over three decades
pilot_batch_sizes = [32, 64, 128]           # ... minibatch B
pilot_steps_values = [30, 100, 300]         # ... Algorithm 1 steps (read from one run of the most)
pilot_restart_factors = [1, 2, 4]           # ... restarts K = factor * k
pilot_rerun = "chosen"                      # stored grid: rerun "chosen" setting's fits, or "all"
network_module_factor = 2                   # network modules K = factor * k (paper's t-SNE: 20 for 10)
kernel = "rbf"                              # Algorithm 1's settings: the pilot's choice (checked below)
kernel_eps = 0.001
kernel_batch_size = 64
kernel_n_steps = 300
kernel_lr = 0.02                            # Algorithm 1's Adam learning rate (our choice)
device = "cpu"                              # "auto", "cpu" or "cuda"
results_dir = None                          # None: results/kernel_rule

# %% tags=["remove-cell"]
import matplotlib.pyplot as plt

from modcore import chapters
from modcore.chapters import kernel_rule

p = kernel_rule.Parameters.from_cell(globals())  # the same checks as `python -m modcore run`

# %% [markdown]
# ## The objective is a weight norm
# Write the kernel as $K = \Phi\Phi^\top$ ($\Phi$: one row of features per training point; for the NTK,
# the network's parameter gradients). Among weights $\theta$ with $\Phi\theta = y$ the smallest has
# $\|\theta^*\|^2 = y^\top(\Phi\Phi^\top)^{-1}y$ (Eqs. 15-17). With the ridge $\varepsilon$ we add for a
# stable Cholesky solve, $y^\top(K + \varepsilon I)^{-1}y = \min_\theta \|\theta\|^2 + \|y - \Phi\theta\|^2/\varepsilon$:
# the objective prices a direction by the norm of the weights a module needs there, plus the misfit it
# is allowed. We check the identity on one minibatch at a true direction.

# %%
store = p.store()
path_runs = kernel_rule.path_runs(p)
identity = kernel_rule.identity_check(path_runs)
print(identity)

# %% [markdown]
# Objective and ridge value differ by at most {glue:text}`kr_identity_gap:.1e` (relative) over the
# kernels.
#
# ## Along a path from a random direction to a true one
# For each seed: a task, a minibatch of $B$ points, a random unit direction $r$ and the task's first true
# direction $u_1$, taken as a unit vector (the task's directions have norm about $\sqrt m$; only the
# direction matters); we evaluate the objective at $u(a) = (1-a)\,r + a\,u_1$, normalised, for $a$ from 0
# to 1, and read $|\cos|$ with $u_1$ on unit vectors. The other modules of the target are, for this one
# module, unexplained signal.

# %% mystnb={"figure": {"name": "fig-kernel-rule-paths", "caption": "kernel_rule: the kernel rule's objective along straight paths from a random unit direction (a = 0) to a true module direction (a = 1), relative to its value at the random end, one panel per kernel; thin lines per seed, thick the median. Parameters from the notebook's profile."}, "image": {"alt": "kernel_rule: the kernel rule's objective along straight paths from a random unit direction (a = 0) to a true module direction (a = 1), relative to its value at the random end, one panel per kernel; thin lines per seed, thick the median. Parameters from the notebook's profile."}}
paths = kernel_rule.sweep_paths(path_runs, store)
kernel_rule.paths_figure(paths)
plt.show()

# %%
kernel_rule.path_summary(paths)

# %% [markdown]
# ## The pilot: which settings find the modules?
# Algorithm 1 leaves its kernel, ridge $\varepsilon$, minibatch $B$, number of steps and number of
# restarts open. The pilot runs every combination of the grid in the parameters on the sine task with
# $m$ = {glue:text}`kr_input_dim`, $k$ = {glue:text}`kr_n_modules` and $n$ = {glue:text}`kr_pilot_n_train`
# training points (calibrated label noise), on seeds
# {glue:text}`kr_pilot_seed_range`, which no comparison in the book uses. Restarts are seeded one by one
# and a fit's directions after $t$ steps are those of a $t$-step fit, so one fit of $4k$ restarts and the
# most steps scores every (steps, $K$) pair. Each setting is scored by **recovery alone**
# (`modcore.kernel_rule.module_recovery`): for every true module, the best $|\cos|$ over the restarts, on
# unit vectors; the share of true modules at $|\cos| \ge$ {glue:text}`kr_found_cos`; never a test loss,
# never a later chapter's outcome.
#
# **The choice rule**, written on the {ref}`choices page <choices-page>` before Fig. 4a ran on it: at
# $K = 2k$ restarts (the network's module count, read off the paper's t-SNE, not chosen by the pilot), take
# the highest mean recovery share over the pilot's seeds; settings within one standard error of it (and
# reaching the target share {glue:text}`kr_target_share` when the best does) are tied, and the tie goes to
# the cheapest (fewest floating-point operations per restart). The full grid was run once and stored with
# the package; this page reruns part of it ({glue:text}`kr_rerun`).

# %%
pilot = kernel_rule.pilot(p, store)
print(pilot.comparison)
kernel_rule.pilot_best(p, pilot)

# %% mystnb={"figure": {"name": "fig-kernel-rule-pilot", "caption": "kernel_rule: the pilot. Mean share of the k = 3 true modules recovered (best |cos| over K = 2k restarts at least 0.9) against Algorithm 1's steps, one row of panels per kernel and one column per minibatch B, one line per ridge eps; dotted: the share the restarts' random starting directions recover; star: the setting the choice rule picks. m = 6, n = 2000, pilot seeds only."}, "image": {"alt": "kernel_rule: the pilot. Mean share of the k = 3 true modules recovered (best |cos| over K = 2k restarts at least 0.9) against Algorithm 1's steps, one row of panels per kernel and one column per minibatch B, one line per ridge eps; dotted: the share the restarts' random starting directions recover; star: the setting the choice rule picks. m = 6, n = 2000, pilot seeds only."}}
kernel_rule.pilot_figure(p, pilot)
plt.show()

# %%
print(pilot.chosen)

# %% [markdown]
# ## The choice, checked on seeds it was not chosen on
# The best of {glue:text}`kr_n_settings` settings, scored on the pilot's own seeds, is flattered by them
# (a winner's curse). So the chosen setting is rerun on this chapter's own seeds, with the pilot's task
# size, and only this held-out number enters the scorecard.

# %%
heldout = kernel_rule.heldout(p, pilot, store)
print(heldout)

# %% [markdown]
# ## Verdict
# **Lowest near the truth?** The objective's minimum along the path lies within $|\cos| \ge$
# {glue:text}`kr_found_cos` of the true direction in {glue:text}`kr_ntk_near` seeds with the NTK
# ({glue:text}`kr_ntk_near_word`; median $|\cos|$ at the minimum {glue:text}`kr_ntk_median_cos:.2f`),
# {glue:text}`kr_hidden_near` with the hidden-layer kernel ({glue:text}`kr_hidden_near_word`;
# {glue:text}`kr_hidden_median_cos:.2f`) and {glue:text}`kr_rbf_near` with the RBF
# ({glue:text}`kr_rbf_near_word`; {glue:text}`kr_rbf_median_cos:.2f`; "yes" when the {glue:text}`kr_confidence_percent:.0f` % Clopper-Pearson
# interval of the rate lies above one half). The true direction beats the random start in
# {glue:text}`kr_ntk_below`, {glue:text}`kr_hidden_below` and {glue:text}`kr_rbf_below` seeds (sign-test
# $p$ = {glue:text}`kr_ntk_below_p:.3f`, {glue:text}`kr_hidden_below_p:.3f`, {glue:text}`kr_rbf_below_p:.3f`;
# median ratio {glue:text}`kr_ntk_ratio:.2f`, {glue:text}`kr_hidden_ratio:.2f`, {glue:text}`kr_rbf_ratio:.2f`).
# With the NTK, the paper's reasoning that the objective is lowest at a true module's direction:
# **{glue:text}`kr_default_path_agreement`**.
#
# **Does the rule find the modules?** Of {glue:text}`kr_n_settings` settings at $K$ =
# {glue:text}`kr_n_restarts` restarts, the best recovers a mean share {glue:text}`kr_best_share:.2f` of the
# true modules; {glue:text}`kr_choice_tied` settings tie with it, and the choice rule picks the cheapest:
# kernel **{glue:text}`kr_choice_kernel`**, $\varepsilon$ = {glue:text}`kr_choice_eps`, $B$ =
# {glue:text}`kr_choice_batch`, {glue:text}`kr_choice_steps` steps. It recovers
# {glue:text}`kr_share:.2f` of the true modules (standard error {glue:text}`kr_share_se:.2f`) against
# {glue:text}`kr_random_share:.2f` for the restarts' random starting directions, with
# {glue:text}`kr_duplicates:.1f` duplicated restarts per seed (restarts landing on a module another
# already found: independent restarts have nothing that keeps them apart) and a one-to-one matched
# $|\cos|$ of {glue:text}`kr_matched:.2f`. By the number of restarts: {glue:text}`kr_restarts_sentence`.
# More restarts find more modules, and random directions alone find some once there are many. The chosen
# settings **{glue:text}`kr_target_met`** the target of
# {glue:text}`kr_target_share` of the true modules recovered. The other kernel-rule chapters' defaults are
# the choice rule's pick: **{glue:text}`kr_choice_is_default`**.
#
# **On held-out seeds** ({glue:text}`kr_heldout_seeds`), the chosen settings recover
# {glue:text}`kr_heldout_share:.2f` of the true modules against {glue:text}`kr_heldout_start_share:.2f` for
# their random starts (more in {glue:text}`kr_heldout_better` seeds, sign-test $p$ =
# {glue:text}`kr_heldout_p:.3f`), with {glue:text}`kr_heldout_duplicates:.1f` duplicated restarts per seed.
# The scorecard's verdict on "restarts of the rule find the true modules": **{glue:text}`kr_heldout_verdict`**.
# The Fig. 4a and Fig. 5 chapters test a rule that finds this share of the modules.

# %% tags=["remove-cell"]
glued = kernel_rule.glued(p, identity, paths, pilot, heldout)
chapters.publish(glued, kernel_rule.claims(heldout, glued, seeds=p.seeds))
