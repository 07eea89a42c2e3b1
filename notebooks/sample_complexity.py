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
# (sec-sample_complexity)=
# # Sample complexity vs input dimension (Fig. 4a)
#
# **Claim** ({cite}`boopathy2025breaking`, Fig. 4a): on the sine-wave task, the modular network
# initialised by the kernel rule (Algorithm 1) needs fewer training samples to reach test MSE 1.5
# than a monolithic MLP and than the same modular network with random projections, at every input
# dimension $m$ from 2 to 9 but the last. Theorem 2 says a modular network with the right projections
# needs a number of samples independent of $m$; the paper's own curves still grow with $m$ (its
# kernel-rule curve from about 460 to 14,100 samples, a limitation its reviewers raised).
#
# **Check:** for each $m$ and each seed (one task, one data set, one network initialisation) we train
# five networks on nested training sets of growing size $n$: the monolithic MLP, the modular network
# with random $U$, with kernel-rule $U$, with the true directions (the oracle: Theorem 2's setting
# realised by a network), and with random $U$ given the kernel phase's compute as extra training steps
# (compute-matched). The samples needed are read off each test-loss curve and compared, paired over
# seeds and $m$. First, though, we check that the paper's threshold means anything on our task.

# %% tags=["parameters"]
seed = 0                                   # first seed; runs use seed, seed + 1, ...
n_seeds = 3                                # seeds (task, data, initialisation) per point (paper: five)
input_dim_values = [2, 3, 4, 5, 6, 7, 8, 9]  # m (paper: 2..9)
n_train_values = [30, 100, 300, 1000, 3000, 10000]  # n grid, log-spaced (paper does not give it)
n_modules = 3                              # task modules k, also the network's K (paper does not say)
width = 16                                 # module MLP width; the MLP is parameter-matched (our choice)
n_steps = 500                              # Adam steps per run, any n (paper does not say)
lr = 0.003                                 # Adam learning rate (paper does not say)
batch_size = 256                           # training minibatch (paper does not say)
n_test = 2000                              # test points per run
target_loss = 1.5                          # the paper's threshold (Fig. 4a's file name)
target_fraction = 0.6                      # supplementary target: this fraction of the predict-zero loss
kernel = "ntk"                             # Algorithm 1's kernel: "ntk", "hidden" or "rbf"
kernel_n_steps = 50                        # Algorithm 1's gradient steps per restart
kernel_lr = 0.02                           # Algorithm 1's Adam learning rate
kernel_batch_size = 128                    # Algorithm 1's minibatch B (kernel matrix B x B)
kernel_eps = 0.001                         # ridge added to the kernel (relative to its mean diagonal)
device = "auto"                            # "auto", "cpu" or "cuda"
results_dir = None                         # None: results/sample_complexity

# %%
import matplotlib.pyplot as plt
from myst_nb import glue

from modcore import kernel_rule as kr
from modcore import paper_values, sweeps
from modcore.experiments import sample_complexity as sc
from modcore.plots import kernel_rule as kernel_plots

# %% [markdown]
# ## The runs
# Every method at every $(m, n)$ and seed; runs of one method and size train together as one ensemble.
# The compute-matched baseline is set up from the stored kernel runs: each gets the kernel phase's
# floating-point operations (all its restarts) as extra training steps. Finished runs are stored, so an
# interrupted sweep resumes where it stopped.

# %%
design = sc.SampleDesign(input_dim_values=input_dim_values, n_train_values=n_train_values, n_modules=n_modules,
                         n_seeds=n_seeds, seed=seed)
kernel_settings = kr.KernelRuleSettings(kernel=kernel, n_steps=kernel_n_steps, lr=kernel_lr,
                                        batch_size=kernel_batch_size, eps=kernel_eps)
protocol = dict(width=width, n_steps=n_steps, lr=lr, batch_size=batch_size, n_test=n_test,
                kernel_settings=kernel_settings)
cost = design.estimated_model_steps(n_steps, batch_size, width)
print(f"{len(design.methods) * len(design.runs('random'))} runs, about {cost:,.0f} width-128 model-steps on "
      "1000 points before the kernel phase and the compute-matched extra steps (~1000 per second on 2 cores)")
store = sweeps.resolve_store(results_dir, "sample_complexity")
runs = sc.run_design(design, store, device=device, **protocol)

# %% [markdown]
# ## Is the paper's threshold testable here?
# A network that outputs 0 everywhere has test MSE equal to the mean squared target. If the paper's
# target loss is not below that, every method "reaches" it with no training at all and the samples
# needed measure nothing.

# %%
check = sc.testability(runs, target_loss)
supplementary_loss = target_fraction * check["predict_zero_loss"]
glue("sc_predict_zero_loss", check["predict_zero_loss"], display=False)
glue("sc_target_loss", target_loss, display=False)
glue("sc_testable", "is" if check["testable"] else "is not", display=False)
glue("sc_supplementary_loss", supplementary_loss, display=False)
glue("sc_target_fraction", target_fraction, display=False)
counts = sc.parameter_counts(runs)
for method, count in counts.items():
    glue(f"sc_params_{method}", count, display=False)
glue("sc_n_diverged", int(runs.diverged.sum()), display=False)
glue("sc_n_runs", len(runs), display=False)
print(check, f"supplementary target {supplementary_loss:.3f}", counts)

# %% [markdown]
# The mean squared test label (noisy, like the training labels and like the labels the calibration
# matched to the paper's Fig. 2) is {glue:text}`sc_predict_zero_loss:.3f`, so the paper's threshold
# {glue:text}`sc_target_loss` {glue:text}`sc_testable` below the predict-zero loss. Because the paper's
# absolute threshold depends on a target scale it does not state, we also read every curve at a
# supplementary target, {glue:text}`sc_target_fraction` times the predict-zero loss
# ({glue:text}`sc_supplementary_loss:.3f`); verdicts there are ours, not a test of the paper's numbers.
# Parameters: monolithic MLP {glue:text}`sc_params_monolithic`, modular networks
# {glue:text}`sc_params_random` (at the largest $m$). {glue:text}`sc_n_diverged` of
# {glue:text}`sc_n_runs` runs diverged; their curves are left out of every verdict.

# %% mystnb={"figure": {"name": "fig-sample-complexity-curves", "caption": "sample_complexity: test MSE vs training samples n (mean over seeds) for each method at a few input dimensions m; dashed: the paper's target loss, dotted: the predict-zero loss (mean squared test target). Parameters from the notebook's profile."}, "image": {"alt": "sample_complexity: test MSE vs training samples n (mean over seeds) for each method at a few input dimensions m; dashed: the paper's target loss, dotted: the predict-zero loss (mean squared test target). Parameters from the notebook's profile."}}
curves = sc.mean_curves(runs)
shown_dims = sorted({input_dim_values[0], input_dim_values[len(input_dim_values) // 2], input_dim_values[-1]})
kernel_plots.loss_curves(curves, input_dim_values=shown_dims, target_loss=target_loss,
                         predict_zero_loss=check["predict_zero_loss"], method_labels=sc.METHOD_LABELS)
plt.show()

# %% [markdown]
# ## Samples needed
# For each method, $m$ and seed: the first $n$ on the grid at which the test MSE is at or below the
# target, interpolated linearly in $(\log n, \log \text{MSE})$ from the grid point before (later rises
# above the target are ignored); "below the grid" if the smallest $n$ already reaches it, "not reached"
# if no $n$ does. Means are geometric, over seeds, with 95% $t$ intervals; a mean is "not reached" if
# any seed did not reach the target.

# %% mystnb={"figure": {"name": "fig-sample-complexity", "caption": "sample_complexity (Fig. 4a): training samples needed to reach the target test MSE vs input dimension m at the paper's target; thin lines per seed, thick geometric means with 95% intervals, open markers the paper's digitised Fig. 4a, triangles at the top: not reached within the n grid; dotted lines: the grid's ends (a point on the lower one reached the target at the smallest n, an upper bound)."}, "image": {"alt": "sample_complexity (Fig. 4a): training samples needed to reach the target test MSE vs input dimension m at the paper's target; thin lines per seed, thick geometric means with 95% intervals, open markers the paper's digitised Fig. 4a, triangles at the top: not reached within the n grid; dotted lines: the grid's ends (a point on the lower one reached the target at the smallest n, an upper bound)."}}
paper = paper_values.load_csv("fig4a_digitised")
paper_ours = sc.paper_needed(paper)
needed = sc.needed_table(runs, target_loss)
means = sc.needed_means(needed)
grid = (min(n_train_values), max(n_train_values))
kernel_plots.samples_needed(needed, means, paper_ours, n_train_range=grid, method_labels=sc.METHOD_LABELS)
plt.show()

# %% mystnb={"figure": {"name": "fig-sample-complexity-supplementary", "caption": "sample_complexity: as the previous figure, at the supplementary target (a fixed fraction of the predict-zero loss); the paper's markers are at its own threshold 1.5 and are shown for scale only."}, "image": {"alt": "sample_complexity: as the previous figure, at the supplementary target (a fixed fraction of the predict-zero loss); the paper's markers are at its own threshold 1.5 and are shown for scale only."}}
supplementary = sc.needed_table(runs, supplementary_loss)
supplementary_means = sc.needed_means(supplementary)
kernel_plots.samples_needed(supplementary, supplementary_means, paper_ours, n_train_range=grid,
                            method_labels=sc.METHOD_LABELS)
plt.show()

# %% [markdown]
# ## The claims, measured the same way on both
# *Lowers sample complexity:* a paired sign test over all $(m, \text{seed})$ pairs (a curve that never
# reaches the target counts as needing more samples than any that does), one-sided at the 5% level; the
# paper's means are tested the same way, paired over $m$. *Flat in $m$:* the growth factor of $n$ over the
# $m$ range from a least-squares line of $\log_{10} n$ on $m$, with a 95% interval; "flat" if the interval
# stays below 2, "grows" if it stays above 1.

# %%
primary = sc.verdicts(needed, paper, n_train_values=n_train_values, testable=check["testable"])
secondary = sc.verdicts(supplementary, paper, n_train_values=n_train_values, testable=True)
for label, results in (("sc", primary), ("sc_sup", secondary)):
    for claim, result in results.items():
        glue(f"{label}_{claim}_ours", result["ours"]["word"], display=False)
        glue(f"{label}_{claim}_agreement", result["agreement"], display=False)
        if result["paper"] is not None:
            glue(f"{label}_{claim}_paper", result["paper"]["word"], display=False)
        if claim.startswith("growth"):
            glue(f"{label}_{claim}_factor", float(result["ours"]["factor"]), display=False)
        else:
            glue(f"{label}_{claim}_lower", f"{result['ours']['n_lower']} of {result['ours']['n_pairs']}",
                 display=False)
            glue(f"{label}_{claim}_p", float(result["ours"]["p_lower"]), display=False)
            glue(f"{label}_{claim}_ratio", float(result["ours"]["median_ratio"]), display=False)
    glue(f"{label}_disagreements", sc.summary_words(results), display=False)
oracle_vs_random = sc.lowers_verdict(supplementary, "oracle", "random")
matched_vs_kernel = sc.lowers_verdict(supplementary, "kernel", "random_compute_matched")
glue("sc_sup_oracle_word", oracle_vs_random["word"], display=False)
glue("sc_sup_matched_word", matched_vs_kernel["word"], display=False)
glue("sc_sup_matched_lower", f"{matched_vs_kernel['n_lower']} of {matched_vs_kernel['n_pairs']}", display=False)
glue("sc_extra_steps", float(runs[runs.method == "random_compute_matched"].extra_steps.median()), display=False)
glue("sc_paper_growth_kernel", float(primary["growth_kernel"]["paper"]["factor"]), display=False)
for claim_id, record in sc.claims(primary, target_loss, range(seed, seed + n_seeds)).items():
    glue(f"claim:{claim_id}", record, display=False)
missed = sc.not_reached_counts(supplementary)
for method, (count, total) in missed.items():
    glue(f"sc_sup_missed_{method}", f"{count} of {total}", display=False)
glue("sc_steps_help", "help" if missed["random_compute_matched"][0] < missed["random"][0] else "do not help",
     display=False)
glue("sc_n_steps", n_steps, display=False)
print({claim: (r["ours"]["word"], r["paper"]["word"] if r["paper"] else None, r["agreement"])
       for claim, r in primary.items()})
print({claim: (r["ours"]["word"], r["agreement"]) for claim, r in secondary.items()})

# %% [markdown]
# ## Verdict
# **At the paper's target ({glue:text}`sc_target_loss`):** the threshold {glue:text}`sc_testable` below
# our predict-zero loss ({glue:text}`sc_predict_zero_loss:.3f`).
#
# | claim | ours | paper | verdict |
# |---|---|---|---|
# | kernel rule lowers samples needed vs random $U$ | {glue:text}`sc_kernel_vs_random_ours` | {glue:text}`sc_kernel_vs_random_paper` | {glue:text}`sc_kernel_vs_random_agreement` |
# | kernel rule lowers samples needed vs monolithic | {glue:text}`sc_kernel_vs_monolithic_ours` | {glue:text}`sc_kernel_vs_monolithic_paper` | {glue:text}`sc_kernel_vs_monolithic_agreement` |
# | kernel-rule curve in $m$ | {glue:text}`sc_growth_kernel_ours` | {glue:text}`sc_growth_kernel_paper` | {glue:text}`sc_growth_kernel_agreement` |
# | random-$U$ curve in $m$ | {glue:text}`sc_growth_random_ours` | {glue:text}`sc_growth_random_paper` | {glue:text}`sc_growth_random_agreement` |
# | monolithic curve in $m$ | {glue:text}`sc_growth_monolithic_ours` | {glue:text}`sc_growth_monolithic_paper` | {glue:text}`sc_growth_monolithic_agreement` |
#
# **At the supplementary target ({glue:text}`sc_supplementary_loss:.3f`, ours only).** Samples needed,
# paired over $(m, \text{seed})$:
#
# | comparison | samples needed | pairs with fewer | one-sided $p$ | median ratio |
# |---|---|---|---|---|
# | kernel rule vs random $U$ | {glue:text}`sc_sup_kernel_vs_random_ours` | {glue:text}`sc_sup_kernel_vs_random_lower` | {glue:text}`sc_sup_kernel_vs_random_p:.3f` | {glue:text}`sc_sup_kernel_vs_random_ratio:.2f` |
# | kernel rule vs monolithic | {glue:text}`sc_sup_kernel_vs_monolithic_ours` | {glue:text}`sc_sup_kernel_vs_monolithic_lower` | {glue:text}`sc_sup_kernel_vs_monolithic_p:.3f` | {glue:text}`sc_sup_kernel_vs_monolithic_ratio:.2f` |
# | kernel rule vs compute-matched random $U$ | {glue:text}`sc_sup_matched_word` | {glue:text}`sc_sup_matched_lower` | | |
# | oracle (true $U$) vs random $U$ | {glue:text}`sc_sup_oracle_word` | | | |
#
# The compute-matched network got a median of {glue:text}`sc_extra_steps:.0f` extra training steps.
# In $m$, the kernel-rule curve is {glue:text}`sc_sup_growth_kernel_ours` (growth factor
# {glue:text}`sc_sup_growth_kernel_factor:.1f` over our $m$ range), the oracle's
# {glue:text}`sc_sup_growth_oracle_ours` ({glue:text}`sc_sup_growth_oracle_factor:.1f`), random $U$
# {glue:text}`sc_sup_growth_random_ours` ({glue:text}`sc_sup_growth_random_factor:.1f`), the monolithic MLP
# {glue:text}`sc_sup_growth_monolithic_ours` ({glue:text}`sc_sup_growth_monolithic_factor:.1f`). Theorem 2's
# prediction, flat in $m$, is the oracle's to meet; the paper's own kernel-rule curve grows by a factor
# {glue:text}`sc_paper_growth_kernel:.0f` from $m$ = 2 to 9. Claims where ours and the paper's words
# differ at this target: {glue:text}`sc_sup_disagreements`.
#
# **Curves that never reach the supplementary target** within the grid: kernel rule
# {glue:text}`sc_sup_missed_kernel`, random $U$ {glue:text}`sc_sup_missed_random`, monolithic
# {glue:text}`sc_sup_missed_monolithic`, oracle {glue:text}`sc_sup_missed_oracle`, compute-matched
# {glue:text}`sc_sup_missed_random_compute_matched`. The compute-matched network is the random-$U$ network
# trained longer than our {glue:text}`sc_n_steps` steps, so more training steps {glue:text}`sc_steps_help`
# here: where they help, our fixed training length, not the sample count, limits some curves, the
# optimisation difficulty the authors give for their own curves' growth in $m$.
