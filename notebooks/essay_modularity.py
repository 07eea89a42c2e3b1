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
# (sec-essay_modularity)=
# # Does regularisation cause modularity, and modularity generalisation?
#
# **Claims.** The essay *Regularization Causes Modularity Causes Generalization*
# {cite}`essay2022regularization` argues a chain of two links, plus a footnote:
#
# 1. **Regularisers cause modularity.** Dropout, weight pruning and L1/L2 regularisation
#    (citing Filan et al. {cite}`filan2021clusterability`), switching between related goals
#    every few generations (modularly varying goals, MVG; Kashtan & Alon
#    {cite}`kashtan2005spontaneous`) and a cost on connections (Clune et al.
#    {cite}`clune2013evolutionary`) make networks more modular.
# 2. **Modularity causes generalisation.** "These tricks work because they increase modularity,
#    which, in turn, makes our models better at generalizing to new data."
# 3. **Trained networks are more modular than their random initial states** (footnote 1).
#
# **Test.** We train small classifiers on two modular tasks, one factor at a time, and measure
# each network's modularity *against a null*: the same network with its weights shuffled within
# each layer (Filan et al.'s procedure). Raw modularity scores move with sparsity and the weight
# distribution alone, so only the comparison with the null counts.
#
# * **Task A, retina** (Kashtan & Alon; Clune et al.): 8 pixels, an object may appear in the
#   left and in the right half; the label is *left AND right*. Network 8-16-8-4-1 (tanh),
#   128 of the 256 patterns for training, the other 128 (unseen left/right combinations) for
#   testing.
# * **Task B, digit pairs**: two 8×8 digits from scikit-learn's bundled set side by side; label
#   $(y_\text{left} + y_\text{right}) \bmod 10$. Network input-64-64-10 (ReLU). Train and test
#   images come from disjoint pools, and 10 of the 100 class combinations never appear in
#   training: the *held-out combinations* test systematic generalisation. A two-head network
#   that predicts each digit separately is the trivially modular control.
#
# Arms: none (control), L1, L2 (explicit penalty), weight decay (AdamW), dropout, magnitude
# pruning, connection cost $\lambda \sum |w_{ij}|\, d_{ij}^2$ (wiring length in a fixed layout),
# MVG (the goal alternates between AND/OR, or sum/difference, every {glue:text}`essay_mvg_period` steps, ending
# on the primary goal), and the **intervention**: a hard-wired block-diagonal mask (left inputs
# feed the left half of every hidden layer but the last, where the halves meet) at equal
# parameter count (labelled *block mask, 2 modules*: one module per half of the input). The
# untrained network (*untrained*) is measured too.
#
# **Modularity.** The network is a graph with one node per unit (inputs included) and edge
# weights $|w|$. Spectral clustering into $k$ clusters gives the
# normalised cut {cite}`shi2000normalized` (lower = more modular); Louvain gives Newman's $Q$
# {cite}`newman2006modularity` (higher = more modular). Each is compared with
# {glue:text}`essay_n_shuffles` layer-wise shuffles of the weights: $z = (\text{score} - \text{mean}_\text{null}) /
# \text{sd}_\text{null}$, so **a negative n-cut z means more modular than chance**. For networks
# with exact zeros (pruned, masked) we also report the null that shuffles only the non-zero
# weights and keeps the mask.
#
# **Rules, fixed before the runs.** Significance level $\alpha$ = {glue:text}`essay_alpha`. The primary score is the n-cut z at the
# first $k$ (retina $k = 2$, the left/right split; digits $k = 4$).
# * A regulariser *causes modularity* (supported) if its runs' z is lower than the control's:
#   one-sided Mann–Whitney, Holm-corrected across the regulariser conditions of a task,
#   adjusted $p < \alpha$. *Not supported* if the opposite direction is significant by the same
#   test; otherwise *inconclusive*.
# * *Trained nets are more modular than at init*: the control's z is lower than init's
#   (one-sided Mann–Whitney, one test per task).
# * *Modularity → generalisation, observational*: across trained free networks, the
#   within-condition OLS slope of the accuracy gap (train − test, train accuracy in eval mode)
#   on z has a 95 % CI entirely above 0 (more modular, smaller gap). Entirely below 0: not
#   supported. Observational only.
# * *Modularity → generalisation, intervention*: block-masked nets have a smaller gap, higher
#   test accuracy and (digits) higher held-out-combination accuracy than the control
#   (one-sided Mann–Whitney, Holm across these metrics).

# %% tags=["parameters"]
seed = 0                              # first seed; runs use seeds seed .. seed + n_seeds - 1 (data split, init, batches)
n_seeds = 5                           # seeds per condition (5 is the fewest at which Holm over 7 arms can reach p < 0.05)
tasks = ["retina", "digits"]          # "retina" (task A) and/or "digits" (task B)
arms = ["init", "none", "l1", "l2", "weight_decay", "dropout", "prune", "connection_cost", "mvg", "block_mask"]  # conditions
retina_n_steps = 3000                 # Adam steps on the retina task (full batch of 128 patterns)
digits_n_steps = 1200                 # Adam steps on digit pairs (batch 128; ~15 epochs of 10k pairs)
digits_n_train = 10000                # training pairs of task B
retina_l1_values = [0.001]            # L1 strengths, retina (loss + lambda * sum |w|)
digits_l1_values = [0.0001]           # L1 strengths, digits (sum over ~40x more weights)
retina_l2_values = [0.001]            # L2 penalty strengths, retina (loss + lambda * sum w^2)
digits_l2_values = [0.0001]           # L2 penalty strengths, digits
retina_connection_cost_values = [0.001]   # connection-cost strengths, retina
digits_connection_cost_values = [0.0001]  # connection-cost strengths, digits
weight_decay_values = [0.01]          # AdamW decoupled weight decay, both tasks
dropout_values = [0.2]                # dropout rates after every hidden layer, both tasks
prune_sparsity_values = [0.8]         # final magnitude-pruning sparsities, both tasks
mvg_period = 100                      # steps between goal switches under MVG
two_head_control = True               # also train the two-head digit network (trivially modular control)
n_shuffles = 50                       # weight shuffles per network for the n-cut null
n_louvain_shuffles = 10               # of those, how many also get Louvain (the slow part)
alpha = 0.05                          # significance level of every verdict
n_bootstrap = 2000                    # bootstrap resamples for the medians' CIs
device = "auto"                       # "auto": CUDA when present, else the CPU
results_dir = None                    # results store; None: results/essay_modularity

# %%
import matplotlib.pyplot as plt
import pandas as pd
from myst_nb import glue

from modcore.experiments import essay, essay_report
from modcore.plots import essay as essay_plots

pd.set_option("display.max_colwidth", None)
for name, value in dict(alpha=alpha, mvg_period=mvg_period, n_shuffles=n_shuffles, n_seeds=n_seeds).items():
    glue(f"essay_{name}", value, display=False)

# %% [markdown]
# ## The runs
#
# Every run trains one network and measures it; finished runs are kept in the results store, so
# a rerun with more seeds or arms only computes what is new.

# %%
strengths = essay.strength_grid(
    retina_l1_values=retina_l1_values, digits_l1_values=digits_l1_values, retina_l2_values=retina_l2_values,
    digits_l2_values=digits_l2_values, retina_connection_cost_values=retina_connection_cost_values,
    digits_connection_cost_values=digits_connection_cost_values, weight_decay_values=weight_decay_values,
    dropout_values=dropout_values, prune_sparsity_values=prune_sparsity_values, mvg_period=mvg_period)

# %%
runs = essay.run_chapter(
    tasks=tasks, arms=arms, seed=seed, n_seeds=n_seeds, strengths=strengths, retina_n_steps=retina_n_steps,
    digits_n_steps=digits_n_steps, digits_n_train=digits_n_train, n_shuffles=n_shuffles,
    n_louvain_shuffles=n_louvain_shuffles, two_head_control=two_head_control, device=device,
    results_dir=results_dir)
glue("essay_n_runs", len(runs), display=False)

# %%
essay_report.condition_table(runs, alpha=alpha)

# %% [markdown]
# Medians per condition over {glue:text}`essay_n_runs` runs. *n-cut z* is against the
# all-weight shuffle (negative = more modular than chance), *sig. runs* counts networks with
# shuffle p < {glue:text}`essay_alpha`, *Q z* is Louvain's $Q_\text{max}$ against its shuffles
# (positive = more modular), *inputs separated* counts networks whose clustering keeps left and
# right inputs in different clusters; *n/a* marks a column that does not apply to the row
# (the retina task has no held-out class combinations).
#
# ## Link 1: do regularisers make networks more modular than chance?

# %% mystnb={"figure": {"name": "fig-essay-z", "caption": "Notebook essay_modularity: n-cut z-score of each network against its layer-wise weight shuffles (the primary score: retina k = 2, digits k = 4), per arm at the strengths of the parameters cell; dots are runs (one per seed), squares the median with a 95% percentile-bootstrap CI. Below the dashed line = more modular than chance."}}
essay_plots.scores_by_condition(essay_report.modularity_panels(runs, n_bootstrap=n_bootstrap, seed=seed),
                                title="Modularity relative to the shuffle null, per arm",
                                ylabel="n-cut z vs shuffles\n(negative = modular)")
plt.show()

# %% [markdown]
# Pruned and block-masked networks have many exact zeros; against a null that shuffles all
# weights, the zeros' *pattern* alone makes them look modular. The intervention's modularity
# figure below shows the same networks against the mask-keeping null.
#
# ## Link 2: do more modular networks generalise better?
#
# Across free networks (control and regularisers), does a lower z go with a smaller gap?

# %% mystnb={"figure": {"name": "fig-essay-gap", "caption": "Notebook essay_modularity: generalisation gap (train minus test accuracy, train accuracy in eval mode) against the primary n-cut z-score, one colour per arm (control and regularisers at the strengths of the parameters cell); the line is the within-arm OLS slope through the means, the band its 95% t-interval."}}
essay_plots.gap_vs_score(essay_report.gap_panels(runs),
                         title="Generalisation gap vs modularity across runs (observational)",
                         xlabel="n-cut z vs shuffles (negative = modular)", ylabel="gap = train - test accuracy")
plt.show()

# %% [markdown]
# Correlation is not causation: a regulariser may change the gap and the z-score for separate
# reasons. The intervention sets modularity directly, with no regulariser.

# %% mystnb={"figure": {"name": "fig-essay-intervention", "caption": "Notebook essay_modularity: generalisation of hard-wired block-diagonal networks (2 modules, parameter count equal to the dense network's within 6%) beside the control and the regularised free networks (every regulariser arm pooled): gap (train minus test accuracy), test accuracy and, on digit pairs, accuracy on the held-out class combinations. Dots are runs, bars medians."}}
essay_plots.intervention(essay_report.intervention_panels(runs, kind="generalisation"),
                         title="Intervention: generalisation of hard-wired modules")
plt.show()

# %% mystnb={"figure": {"name": "fig-essay-intervention-modularity", "caption": "Notebook essay_modularity: the same networks' primary n-cut z against the null that shuffles all weights of a layer (left) and the null that shuffles only the non-zero weights and keeps the zero pattern (right). Dots are runs, bars medians."}}
essay_plots.intervention(essay_report.intervention_panels(runs, kind="modularity"), n_columns=2,
                         title="Intervention: modularity of hard-wired modules against two nulls")
plt.show()

# %% [markdown]
# ## Verdicts
#
# Each row applies the rules stated at the top. The literature column gives Filan et al.'s
# MLP z-scores {cite}`filan2021clusterability` (784-256-256-256-256-10 on MNIST and
# Fashion-MNIST, $k = 12$, 50 shuffles, 5 networks): their networks are far larger, so compare
# signs and significance, not magnitudes.

# %%
claims = essay_report.claims_table(runs, essay_report.load_literature(), alpha=alpha)
for family, text in essay_report.summarise_verdicts(claims).items():
    glue(f"essay_{family}", text, display=False)
glue("essay_heldout", essay_report.heldout_summary(runs), display=False)
claims

# %% [markdown]
# **Summary** ({glue:text}`essay_n_runs` runs, {glue:text}`essay_n_seeds` seeds per condition;
# counts of verdicts per task):
#
# * *Regularisers make networks more modular than the control*:
#   {glue:text}`essay_regularisers`.
# * *Trained networks are more modular than at init*: {glue:text}`essay_init`.
# * *More modular networks generalise better, across runs*: {glue:text}`essay_observational`.
# * *Hard-wired modules generalise better (intervention)*: {glue:text}`essay_intervention`.
#
# Held-out class combinations of the digit task are a hard test by construction
# ({glue:text}`essay_heldout`): for a held-out pair $(a, b)$ the label $(a + b) \bmod 10$ never appears with
# left digit $a$ (nor with right digit $b$) in training, because for a fixed left digit the
# label determines the right one. A network that has learnt a table of seen (digit, label)
# pairs is pushed *below* chance there; only a network that computes the two digits separately
# and adds them can succeed, as the two-head control does by design.
#
# Whatever the table says is the result: *supported* needs a significant effect in the essay's
# direction, *not supported* a significant effect the other way; with few seeds most rows stay
# *inconclusive*. Filan et al. found L1 networks *less* clusterable than their shuffles
# ($z = +18$ on MNIST), L2 mostly so, and dropout and pruning more clusterable, so the essay's
# reading of their paper holds for dropout and pruning only; the table shows whether our small
# networks agree. Clune et al.'s and Kashtan & Alon's results come from evolution, not gradient
# descent, and measure adaptation to new goals, which is not the train/test gap tested here.
