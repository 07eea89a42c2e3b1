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
# (sec-sine_task)=
# # The sine-wave regression task
#
# **Claim** ({cite}`boopathy2025breaking`, Section 5 and project page): the paper tests its theory on
# a "parametrically controllable" regression task. Inputs are Gaussian, $x \sim \mathcal N(0, I_m)$;
# the target is a sum of $k$ modules, each a function of one linear projection of $x$, plus label noise:
#
# $$ y(x) = \frac{1}{\sqrt k} \sum_{i=1}^{k} g_i(u_i^\top x), \qquad
#    g_i(z) = \sum_{j} a_j \sin(\omega_j z + \varphi_{ij}). $$
#
# The paper's illustration shows three components with amplitudes about $1, 0.5, 0.2$ and angular
# frequencies about $1, 3, 5$; it fixes their shape, not their scale. How the directions $u_i$ and the
# phases are drawn, the scale and the noise are not stated: the phases are independent and uniform (our
# choice, see the choices page); the scale, the direction law and the noise are fitted to the paper's
# Fig. 2 in the [calibration chapter](sec-calibration). All are arguments of `modcore.tasks.sine.SineTask`.
#
# **Check:** the $1/\sqrt k$ scaling should keep the target's variance the same for every $k$ (the
# paper's Fig. 2 shows a loss that does not change with $k$), and the target should look like
# structure along a true direction and like noise along a random one.

# %% tags=["parameters"]
seed = 0                      # task seed (directions and phases)
input_dim = 8                 # m
n_modules = 4                 # k in the illustration
n_samples = 2000              # points in the scatter plot
z_max = 5.0                   # the module functions are drawn for z in [-z_max, z_max]
n_modules_values = [1, 2, 4, 8]  # k values whose target variance we compare
n_tasks = 40                  # task draws per k (the variance differs between draws)
variance_n_samples = 4000     # points per task draw

# %% tags=["remove-cell"]
import matplotlib.pyplot as plt

from modcore import chapters
from modcore.chapters import sine_task

p = sine_task.Parameters.from_cell(globals())  # the same checks as `python -m modcore run`

# %% [markdown]
# ## One task instance
# Left: the $k$ module functions $g_i$ over the projection $z = u_i^\top x$, which is normal with
# variance $\lVert u_i\rVert^2$ (1 for unit directions, about $m$ for Gaussian ones). Right: the labels
# of sampled points against their projection on the first true direction $u_1$ and on a random unit
# direction; the black line is the first module's share of the target, $g_1(z)/\sqrt k$.

# %%
instance = sine_task.instance(p)

# %% mystnb={"figure": {"name": "fig-sine-task-instance", "caption": "sine_task: one task instance (m = 8, k = 4 at the default profile). Left: the module functions g_i(z), sums of three sines. Right: targets of sampled points against their projection on the first true direction u_1 and on a random unit direction, with g_1(z)/sqrt(k)."}, "image": {"alt": "sine_task: one task instance (m = 8, k = 4 at the default profile). Left: the module functions g_i(z), sums of three sines. Right: targets of sampled points against their projection on the first true direction u_1 and on a random unit direction, with g_1(z)/sqrt(k)."}}
sine_task.instance_figure(p, instance)
plt.show()

# %%
print(sine_task.instance_text(p, instance))

# %% [markdown]
# ## Target variance across k

# %%
means, standard_errors = sine_task.variances(p)
print(sine_task.variance_text(p, means, standard_errors))

# %% mystnb={"figure": {"name": "fig-sine-task-variance", "caption": "sine_task: label variance Var(y) (target plus label noise) against the number of modules k, mean over task draws with 2-standard-error bars (draws per k and points per draw from the profile: 40 and 4000 at default)."}, "image": {"alt": "sine_task: label variance Var(y) (target plus label noise) against the number of modules k, mean over task draws with 2-standard-error bars (draws per k and points per draw from the profile: 40 and 4000 at default)."}}
sine_task.variance_figure(p, means, standard_errors)
plt.show()

# %% [markdown]
# ## Verdict
# The label variance (target plus noise) is {glue:text}`sine_variance_mean:.3f` on average and varies across $k$ by
# {glue:text}`sine_variance_spread:.1%` (largest deviation {glue:text}`sine_variance_deviation:.1f`
# standard errors): the $1/\sqrt k$ scaling {glue:text}`sine_variance_verdict` with a $k$-independent
# target variance (the rule: every $k$'s mean within {glue:text}`sine_variance_max_deviation:g` standard
# errors of the overall mean). Along a true direction the target is structured (correlation with $g_1$:
# {glue:text}`sine_u1_correlation:.2f`, close to $1/\sqrt k$ for $k$ = {glue:text}`sine_k` modules of
# similar variance): each module explains about $1/k$ of the variance, the rest looks like noise along
# that direction, and along a random direction no single module stands out.
#
# **Scale.** The amplitude scale ({glue:text}`sine_amplitude_scale:.1f`), the {glue:text}`sine_direction_norm`
# directions and the label noise ({glue:text}`sine_label_noise:.2f`) are the values the
# [calibration chapter](sec-calibration) fitted to the paper's Fig. 2. The variance above includes the label
# noise: it is the loss of the best constant predictor, and the paper's test-loss thresholds 1.2 (Fig. 3)
# and 1.5 (Fig. 4a) are {glue:text}`sine_threshold_fraction:.0%` of it or less.

# %% tags=["remove-cell"]
chapters.publish(sine_task.summary(p, instance, means, standard_errors))
