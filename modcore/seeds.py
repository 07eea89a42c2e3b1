"""Independent seeds derived from one user seed.

A run takes one ``seed``; its task, data, initialisation and minibatch order each draw from
their own stream, ``derive_seed(seed, purpose)``, so that changing one use of randomness (e.g.
adding a test point) moves no other.
"""

from __future__ import annotations

import numpy as np


def derive_seed(*entropy: int) -> int:
    """A 32-bit seed determined by ``entropy`` (the run's seed, then purpose tags), statistically
    independent of the seeds of other tags (numpy's ``SeedSequence``)."""
    return int(np.random.SeedSequence(list(entropy)).generate_state(1)[0])
