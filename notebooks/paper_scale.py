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
# (paper-scale)=
# # Running at paper scale
#
# The `paper` profile uses the paper's ranges: up to 85,000 parameters and 100,000 training points
# in Fig. 2, five seeds per point, 10,000-step and L-BFGS training in the optimisation-gap test,
# 11 seeds (16 for the retina regularisers) and the full strength grids in the essay's chapter. This page says what that costs and
# how to spread it over one GPU, a Dask cluster, or a SLURM cluster. Every way writes to the same
# results store, one file per finished run, so a run finished anywhere is never redone.

# %% tags=["parameters"]
profiles = ["default", "paper"]  # the profiles estimated for this machine
stored_estimates = None  # a stored estimate in modcore/data to read instead of probing; None: estimate now
probe_budget_s = 25.0  # seconds of timed probes in all

# %% tags=["remove-cell"]
import matplotlib.pyplot as plt
from IPython.display import Markdown

from modcore import chapters, runner
from modcore.chapters import paper_scale

p = paper_scale.Parameters.from_cell(globals())  # the same checks as `python -m modcore run`

# %% tags=["remove-cell"]
scale = paper_scale.estimates(p, runner.estimate_profile)  # the runner's checked values, as `run all --estimate`
chapters.publish(paper_scale.summary(p, scale))

# %% [markdown]
# ## What each chapter costs
#
# Before anything runs, `python -m modcore run all --profile paper --estimate` (or any profile) prints each notebook's
# runs, model-steps, FLOPs, peak memory and estimated wall time on the machine it runs on: the
# counts from the parameters, the time from a short timed probe of the real training step (or
# Monte-Carlo trial, or Algorithm 1 step) at each shape. The table below is that estimate, on
# {glue:text}`scale_machine`, {glue:text}`scale_source` ({glue:text}`scale_made`): `default`
# takes about {glue:text}`scale_default_total` here and `paper` about
# {glue:text}`scale_paper_total` ({glue:text}`scale_paper_model_steps` model-steps, at most
# {glue:text}`scale_paper_peak` at once). Early stopping is not modelled (every run takes its
# step cap), so the times err long. The {doc}`execution_stats` page gives the measured wall time
# of each chapter of this build. A run whose estimate exceeds `--max-hours` (a default per
# profile) stops before it starts, with the estimate in its one `error:` line.
#
# The `gpu` profile runs every chapter at scales between `default` and `paper`, the network
# chapters on CUDA, so that `make gpu-check` exercises every CUDA path. Its time on one H100 is
# **{glue:text}`scale_model_label`**: no GPU was at hand when it was sized. The model
# (`python -m modcore run all --profile gpu --estimate --assume-device h100`) takes these networks
# to be launch-bound: each optimiser step of a stacked ensemble costs
# {glue:text}`scale_h100_step_us` µs whatever its shape, plus its FLOPs at
# {glue:text}`scale_h100_tflops` TFLOP/s (under a tenth of the card's float32 peak); the work that
# stays on the host (the theory chapters' Monte Carlo, the linearised fits, the essay's tiny nets
# trained one at a time, graph statistics, the kernel start and the plots) costs what it is
# estimated to cost on this machine. So modelled, the
# `gpu` profile takes {glue:text}`scale_gpu_h100_total`, {glue:text}`scale_gpu_h100_within` the
# {glue:text}`scale_gpu_h100_limit` it was sized for.

# %% tags=["remove-input"]
Markdown(paper_scale.table(p, scale))

# %% mystnb={"figure": {"name": "fig-paper-scale", "caption": "Estimated wall time of each notebook (log scale): the profiles estimated for this machine, from short timed probes of the real steps (notebook paper_scale), and the gpu profile on one H100-class GPU, sized by a model, not measured (modcore/estimate.py, h100_seconds)."}, "image": {"alt": "Estimated wall time of each notebook (log scale): the profiles estimated for this machine, from short timed probes of the real steps (notebook paper_scale), and the gpu profile on one H100-class GPU, sized by a model, not measured (modcore/estimate.py, h100_seconds)."}}
paper_scale.figure(p, scale)
plt.show()

# %% [markdown]
# Training dominates every network chapter, and its cost grows with parameters x points x steps.
# These networks are small, so on a GPU the number of optimiser steps run one after another, not
# the arithmetic, sets the time; the ensemble trainer stacks every seed and setting of one shape
# into one step, which is what makes the `paper` grids affordable there. The essay and the theory
# chapters run on the CPU whatever the machine; with many cores, `--executor dask` spreads their
# sweeps over them.

# %% [markdown]
# ## On one GPU
#
# ```bash
# python -m modcore run all --profile paper
# ```
#
# Every network runs on CUDA when one is visible (`device="auto"`); nothing else is needed. On a
# machine with several GPUs, or many cores for the essay's CPU runs, add `--executor dask` (next
# section): it starts one worker per GPU.
#
# ## On a Dask cluster
#
# ```bash
# python -m modcore run all --profile paper --executor dask               # a local cluster
# python -m modcore run all --profile paper --executor dask --workers 8   # of 8 workers
# python -m modcore run all --profile paper --executor dask --scheduler tcp://HOST:8786
# ```
#
# Without `--scheduler`, the command starts a `LocalCluster` of worker processes for as long as
# it runs: one worker per GPU when CUDA GPUs are visible (each worker sees only its own GPU and
# declares it as a Dask resource), otherwise one per core, each with one thread; `--workers`
# overrides the count. With `--scheduler`, it connects to a cluster that is already running.
# The command passes the choice to the notebooks through environment variables
# (`MODCORE_EXECUTOR`, `MODCORE_SCHEDULER`, `MODCORE_WORKERS`), so a notebook opened by hand in
# Jupyter uses a cluster too when they are set.
#
# What is sent where, and what happens when something fails:
#
# - **One task per batch.** A sweep's runs that train together (one ensemble of seeds) form one
#   task; runs that stand alone are one task each. Tasks run in any order, as workers free up; the
#   progress bar counts finished runs.
# - **Workers write the results.** Each task reads the results store first, skips what is there,
#   and writes each finished run itself, atomically (a temporary file, then a rename). The store
#   must therefore be on storage that every worker can reach at the same path (set
#   `MODCORE_RESULTS` to an absolute path on a shared filesystem).
# - **A worker that dies** (a killed job, a lost node) is restarted, and its task is rerun
#   elsewhere; the rerun skips the runs the first attempt had already written, so no run is lost
#   and none is stored twice.
# - **A run that raises** is reported at once with its configuration and traceback; the other tasks
#   go on. When they have finished, the notebook stops with the list of failures. Rerunning the
#   same command retries only those: everything else is in the store.
# - **Notebooks still run one after another**, and within a notebook only the sweeps are
#   distributed. The Monte Carlo of the theory chapters runs in the notebook's process, and a
#   sweep cannot finish before its largest task (its largest ensemble of one network shape).
#
# The same run on the in-process executor (the default, without `--executor`) stops at the first
# run that raises, as before.
#
# ## On SLURM
#
# dask-jobqueue's `SLURMCluster` submits one SLURM job per worker; SLURM does all the
# scheduling. The repository's `examples/slurm/` holds a configuration (`jobqueue.yaml`: one GPU,
# one single-threaded worker per job; edit the lines marked `EDIT` for your site), a script that
# starts the cluster, and a README. On the login node:
#
# ```bash
# export DASK_CONFIG=$PWD/examples/slurm
# export MODCORE_RESULTS=/shared/project/modcore-results
# python examples/slurm/start_cluster.py --jobs 8        # keep it running; Ctrl-C ends the jobs
# ```
#
# and in a second shell:
#
# ```bash
# export MODCORE_RESULTS=/shared/project/modcore-results
# python -m modcore run all --profile paper --executor dask --scheduler "$(cat scheduler-address.txt)"
# ```
#
# A job that reaches its walltime loses only its running task, which is rerun on another job.
#
# ## What distributing costs
#
# `benchmarks/sweep_scaling.py` sweeps three workloads in-process and on local clusters of one
# and of two worker processes, side by side in one run, and prints the speed-ups over in-process
# (the fastest of three interleaved sweeps per mode). Measured on the project's 2-core machine
# while other jobs kept its load average near 4.5, so two workers had less than two free cores:
#
# ```
# local cluster of 1 worker(s) started in 1.8 s
# local cluster of 2 worker(s) started in 3.4 s
# fastest of 3 sweeps per mode, modes interleaved; ratios are speed-ups over in-process
# workload  tasks     task | in-process           1 worker          2 workers | 2 vs 1 worker
# empty       200    1 run |      0.13s     1.02s    0.12x     0.91s    0.14x |         1.12x
# numpy        24    1 run |      1.06s     1.13s    0.94x     0.72s    1.47x |         1.57x
# networks      6  4 seeds |      1.55s     1.47s    1.06x     0.96s    1.62x |         1.53x
# scheduler overhead per task (empty runs, 1 worker, beyond in-process): 4.5 ms
# ```
#
# The scheduler costs a few milliseconds per task, and starting a cluster a few seconds: nothing
# next to a `paper` task (an ensemble trained for 10,000 steps), but more than a tiny run, which is
# faster in-process (the `empty` row). On two shared cores, two workers gained at most 1.6x; the
# gain grows with free cores, GPUs and task size. Dask's workers by default set
# `MALLOC_TRIM_THRESHOLD_`, which made the benchmark's single-threaded numpy run about 2x slower
# (0.06-0.09 s per run without it, 0.12-0.14 s with it, timed in one process each way); modcore's local clusters, and
# the SLURM example, leave it unset.
