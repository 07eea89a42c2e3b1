"""Values digitised from the paper's figures, shipped in ``modcore/data/`` (see its README).

They are for side-by-side comparison in figures and scorecards, never for tuning.
"""

from __future__ import annotations

import pandas as pd

from modcore import paths

# The values the paper's Fig. 2 caption holds fixed: n in its p panel, p in its n panel ("with n/p
# fixed at 1000/1153 respectively").
FIG2_N_TRAIN = 1000
FIG2_N_PARAMS = 1153


def load_csv(name: str) -> pd.DataFrame:
    """``modcore/data/<name>.csv`` as a DataFrame; lines starting with ``#`` are comments."""
    path = paths.DATA_DIR / f"{name}.csv"
    if not path.exists():
        known = sorted(p.stem for p in paths.DATA_DIR.glob("*.csv"))
        raise ValueError(f"no data file {name!r} in {paths.DATA_DIR}; known: {', '.join(known)}")
    return pd.read_csv(path, comment="#")


def load_fig3_digitised() -> pd.DataFrame:
    """Fig. 3's nine theory curves: samples needed for test loss 1.2 vs input dimension m.

    Returns a (curve × m) table: index ``curve`` ("curve1" .. "curve9", largest n first),
    integer columns m = 2..9, values n. Source: the authors' ``theoretical_m_vs_n.png``,
    digitised by pixel analysis (±1-2 %) from the authors' figure ``theoretical_m_vs_n.png``.
    """
    table = load_csv("fig3_digitised").pivot(index="curve", columns="m", values="n_needed")
    table = table.loc[sorted(table.index, key=lambda name: int(name.removeprefix("curve")))]
    table.columns = table.columns.astype(int)
    return table.astype(float)

# The test losses the paper counts samples to reach: 1.2 in Fig. 3 and 1.5 in Fig. 4a.
TEST_LOSS_THRESHOLDS = (1.2, 1.5)
