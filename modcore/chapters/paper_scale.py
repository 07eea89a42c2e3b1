"""The paper-scale page (notebook ``paper_scale``): what `run all` costs at each profile, before it runs.

Each notebook's estimate comes from :mod:`modcore.estimate` at the values a run would use (the
runner's checked resolution of defaults and profile, :func:`modcore.runner.estimate_profile`,
the same as ``python -m modcore run all --profile P --estimate``, which the notebook hands in: a
chapter never imports the runner): runs, model-steps, peak memory
and the time on this machine, from short timed probes. The ``gpu`` profile's time on one H100 is
:func:`modcore.estimate.h100_seconds`: sized by a model, not measured. Probing every notebook at
``default`` and ``paper`` takes about a minute; the ``ci`` profile reads a stored estimate
instead (``stored_estimates``), so that the test suite's page is quick and reproduces itself.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from modcore import estimate, paths
from modcore.parameters import (DISTINCT, NONE_OR_NONEMPTY, NONEMPTY, POSITIVE, PROFILES, ChapterParameters, each,
                                one_of, param)

GLUE_PREFIX = "scale_"
MODELLED = "gpu"  # the profile whose time is modelled for one H100 (it is sized by that model)
H100_LIMIT_S = 8 * 60  # issue 30: the gpu profile runs every chapter within 8 minutes on one H100
FIELDS = ("runs", "model_steps", "flops", "peak_bytes", "seconds")


@dataclass(frozen=True)
class Parameters(ChapterParameters):
    """The page's parameters: the only home of their types, defaults and rules. The notebook's
    parameters cell repeats the defaults (papermill needs literals there)."""

    # the profiles estimated for this machine (the gpu profile is always modelled for an H100 too)
    profiles: list[str] = param(["default", "paper"], NONEMPTY, DISTINCT, each(one_of(*PROFILES)))
    # a stored estimate (a file in modcore/data written by write_stored) read instead of probing;
    # None: estimate now, on the machine that runs the page
    stored_estimates: str | None = param(None, NONE_OR_NONEMPTY)
    # seconds of timed probes in all (beyond it, shapes are timed at a measured FLOP rate): keeps
    # the default page near a minute (`run all --profile paper --estimate` alone probes for 45 s)
    probe_budget_s: float = param(25.0, POSITIVE)


@dataclass(frozen=True)
class Estimates:
    """Per profile, per notebook: runs, model_steps, flops, peak_bytes, seconds; the gpu profile's
    modelled H100 seconds per notebook; where and when they were made."""

    profiles: dict[str, dict[str, dict[str, float]]]
    h100_seconds: dict[str, float]
    machine: str
    made: str


def _machine() -> str:
    return f"{os.cpu_count()} CPU cores, {estimate.human_bytes(estimate.machine_memory_bytes())} of memory"


# What the notebook hands in: every notebook's Estimate at a profile (runner.estimate_profile)
EstimateProfile = Callable[[str], Mapping[str, estimate.Estimate]]


def estimate_now(estimate_profile: EstimateProfile, profiles: Sequence[str], probe_budget_s: float) -> Estimates:
    """Every notebook's estimate at each of ``profiles`` on this machine, and the gpu profile
    modelled on one H100, within ``probe_budget_s`` of probes."""
    with estimate.probe_budget(probe_budget_s):
        # the modelled gpu profile first: its host work (Monte Carlo, linearised fits) is probed
        # while the budget lasts, and the profiles after it reuse those probes where shapes agree
        gpu = estimate_profile(MODELLED)
        h100 = {name: estimate.h100_seconds(e) for name, e in gpu.items()}
        rows = {profile: estimate_profile(profile) for profile in profiles}
        table = {profile: {name: {field: float(getattr(e, field)) for field in FIELDS} for name, e in by_name.items()}
                 for profile, by_name in rows.items()}
    made = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return Estimates(table, h100, _machine(), made)


def write_stored(path, estimate_profile: EstimateProfile, profiles: Sequence[str] = ("default", "paper"),
                 probe_budget_s: float = 45.0) -> None:
    """Record an estimate for the ci page (``stored_estimates``): run from the repository with
    ``python -c "from modcore import runner; from modcore.chapters import paper_scale;
    paper_scale.write_stored('modcore/data/scale_estimates.json', runner.estimate_profile)"``."""
    e = estimate_now(estimate_profile, profiles, probe_budget_s)
    document = dict(profiles=e.profiles, h100_seconds=e.h100_seconds, machine=e.machine, made=e.made)
    with open(path, "w") as handle:
        json.dump(document, handle, indent=1, sort_keys=True)
        handle.write("\n")


def estimates(p: Parameters, estimate_profile: EstimateProfile) -> Estimates:
    """The page's estimates: made now with ``estimate_profile`` (the runner's
    :func:`~modcore.runner.estimate_profile`), or read from ``p.stored_estimates`` (a file in
    modcore/data)."""
    if p.stored_estimates is None:
        return estimate_now(estimate_profile, p.profiles, p.probe_budget_s)
    document = json.loads((paths.PACKAGE_DIR / "data" / p.stored_estimates).read_text())
    missing = [profile for profile in p.profiles if profile not in document["profiles"]]
    if missing:
        raise ValueError(f"stored_estimates {p.stored_estimates!r} holds no estimate for profile(s) {missing}")
    return Estimates({profile: document["profiles"][profile] for profile in p.profiles}, document["h100_seconds"],
                     document["machine"], document["made"])


def _total(e: Estimates, profile: str, field: str = "seconds") -> float:
    return sum(row[field] for row in e.profiles[profile].values())


def summary(p: Parameters, e: Estimates) -> dict:
    """The page's glued words, keyed by their glue names."""
    glued = {f"{GLUE_PREFIX}{profile}_total": estimate.human_seconds(_total(e, profile)) for profile in p.profiles}
    glued |= {f"{GLUE_PREFIX}{profile}_model_steps": estimate.human_count(_total(e, profile, "model_steps"))
              for profile in p.profiles}
    glued |= {f"{GLUE_PREFIX}{profile}_peak": estimate.human_bytes(max(r["peak_bytes"] for r in e.profiles[profile].values()))
              for profile in p.profiles}
    h100_total = sum(e.h100_seconds.values())
    glued |= {
        f"{GLUE_PREFIX}gpu_h100_total": estimate.human_seconds(h100_total),
        f"{GLUE_PREFIX}gpu_h100_limit": estimate.human_seconds(H100_LIMIT_S),
        f"{GLUE_PREFIX}gpu_h100_within": "within" if h100_total <= H100_LIMIT_S else "over",
        f"{GLUE_PREFIX}h100_step_us": f"{estimate.H100_STEP_SECONDS * 1e6:.0f}",
        f"{GLUE_PREFIX}h100_tflops": f"{estimate.H100_FLOPS_PER_SECOND / 1e12:.0f}",
        f"{GLUE_PREFIX}model_label": estimate.MODEL_LABEL,
        f"{GLUE_PREFIX}machine": e.machine,
        f"{GLUE_PREFIX}made": e.made,
        f"{GLUE_PREFIX}source": ("estimated while this page was executed" if p.stored_estimates is None
                                 else f"read from a stored estimate (modcore/data/{p.stored_estimates})"),
    }
    return glued


def table(p: Parameters, e: Estimates) -> str:
    """One row per notebook: each profile's time on this machine (and runs, model-steps, peak
    memory of the last profile), and the gpu profile's modelled H100 time (Markdown)."""
    last = p.profiles[-1]
    header = ([f"`{profile}` here" for profile in p.profiles] + [f"`{last}` runs", f"`{last}` model-steps",
                                                                 f"`{last}` peak memory", f"`{MODELLED}` on one H100 (model)"])
    lines = ["| notebook | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
    for name, row in e.profiles[last].items():
        cells = [estimate.human_seconds(e.profiles[profile][name]["seconds"]) for profile in p.profiles]
        cells += [estimate.human_count(row["runs"]), estimate.human_count(row["model_steps"]),
                  estimate.human_bytes(row["peak_bytes"]), estimate.human_seconds(e.h100_seconds[name])]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    totals = [estimate.human_seconds(_total(e, profile)) for profile in p.profiles]
    totals += [estimate.human_count(_total(e, last, "runs")), estimate.human_count(_total(e, last, "model_steps")),
               "", estimate.human_seconds(sum(e.h100_seconds.values()))]
    lines.append("| **all** | " + " | ".join(f"**{cell}**" if cell else "" for cell in totals) + " |")
    return "\n".join(lines) + "\n"


def figure(p: Parameters, e: Estimates) -> Figure:
    """Estimated time per notebook, one bar per profile here and the modelled H100 gpu profile (log scale)."""
    names = list(e.profiles[p.profiles[0]])
    series: Mapping[str, list[float]] = {**{f"{profile} (this machine)": [e.profiles[profile][n]["seconds"] for n in names]
                                            for profile in p.profiles},
                                         f"{MODELLED} (one H100, model)": [e.h100_seconds[n] for n in names]}
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(names) + 1.5))
    height = 0.8 / len(series)
    for i, (label, seconds) in enumerate(series.items()):
        ax.barh([k + i * height for k in range(len(names))], seconds, height=height, label=label)
    ax.set_yticks([k + 0.4 - height / 2 for k in range(len(names))], names)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("estimated wall time (s)")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig
