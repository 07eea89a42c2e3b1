"""Closed form vs Monte Carlo for Theorem 1, at equal accuracy, measured side by side.

"Equal accuracy": the Monte Carlo is run with as many draws as it needs for the standard
error of its test-loss mean to be 1 % of the value (the count is estimated from a pilot run).
Per setting we print the time of one closed-form evaluation, the Monte Carlo's draws and
time, their ratio, and how far the two values are apart in standard errors. The settings are
the Theorem 1 chapter's check table (P = 400, λ_i = i^-0.3 − (i+1)^-0.3). A second table times the two
least-squares solvers of the Monte Carlo on the same draws, a third its BLAS thread count. Run: python benchmarks/theory.py
"""

from __future__ import annotations

import math
import os
import time

from modcore import theory
from modcore.chapters import theorem1

SETTINGS = theorem1.CHECK_TABLE_SETTINGS  # (n_train, n_params, output_dim)
SPECTRUM = theorem1.CHECK_TABLE_SPECTRUM
RELATIVE_SE = 0.01   # target standard error of the Monte-Carlo mean, relative to the value
PILOT_TRIALS = 100


def seconds_per_call(fn, min_total=0.2):
    """Best of 3 timings of a loop long enough to take about min_total seconds."""
    calls, elapsed = 1, 0.0
    while elapsed < min_total / 10:
        calls *= 10
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - start
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def main():
    print(f"Theorem 1: closed form vs Monte Carlo at equal accuracy (MC s.e. = {RELATIVE_SE:.0%} of the test loss)")
    print(f"P = {SPECTRUM.n_features:.0f}, float64, {os.cpu_count()} CPU cores, "
          f"load average {os.getloadavg()[0]:.1f} (other jobs slow both sides)")
    print(f"{'(n, p, d)':<14}{'test loss':>10}{'closed form':>13}{'MC draws':>10}{'MC time':>10}"
          f"{'speed-up':>12}{'gap':>10}")
    ratios = []
    for n, p, d in SETTINGS:
        closed_time = seconds_per_call(lambda: theory.monolithic_losses(SPECTRUM, n, p, d))
        _, test = theory.monolithic_losses(SPECTRUM, n, p, d)
        pilot = theory.simulate_monolithic(SPECTRUM, n, p, d, n_trials=PILOT_TRIALS, seed=[1, n, p, d])
        spread = pilot.test_se * math.sqrt(PILOT_TRIALS)
        n_trials = max(PILOT_TRIALS, math.ceil((spread / (RELATIVE_SE * test)) ** 2))
        start = time.perf_counter()
        mc = theory.simulate_monolithic(SPECTRUM, n, p, d, n_trials=n_trials, seed=[2, n, p, d])
        mc_time = time.perf_counter() - start
        gap = theory.deviation_in_standard_errors(test, mc.test_mean, mc.test_se)
        ratios.append(mc_time / closed_time)
        print(f"{str((n, p, d)):<14}{test:>10.4f}{closed_time * 1e6:>10.1f} µs{n_trials:>10d}{mc_time:>8.2f} s"
              f"{ratios[-1]:>11.0f}x{gap:>6.2f} s.e.  (MC {mc.test_mean:.4f} ± {mc.test_se:.4f})")
    print(f"closed form vs MC   {min(ratios):.0f}x to {max(ratios):.0f}x faster at equal accuracy")

    print()
    print("Monte-Carlo least squares, same 100 draws: SVD (np.linalg.lstsq) vs Gram solve")
    print(f"{'(n, p)':<14}{'svd':>10}{'gram':>10}{'speed-up':>10}{'max rel. diff':>15}")
    for n, p in [(100, 30), (30, 100), (300, 150), (150, 300)]:
        timings, results = {}, {}
        for solver in ("svd", "gram"):
            start = time.perf_counter()
            results[solver] = theory.simulate_monolithic(SPECTRUM, n, p, n_trials=100, seed=3, solver=solver)
            timings[solver] = time.perf_counter() - start
        diff = max(abs(results["svd"].test_mean / results["gram"].test_mean - 1),
                   abs(results["svd"].train_mean - results["gram"].train_mean) / max(results["svd"].train_mean, 1e-300)
                   if results["svd"].train_mean > theory.ROUNDING_ATOL else 0.0)
        print(f"{str((n, p)):<14}{timings['svd']:>8.3f} s{timings['gram']:>8.3f} s"
              f"{timings['svd'] / timings['gram']:>9.1f}x{diff:>15.1e}")
    print("(the draws include the P = 400 feature columns, so the solve is only part of each draw's time)")

    print()
    print("Monte-Carlo BLAS threads (theory.MONTE_CARLO_BLAS_THREADS), same 100 draws, solver 'auto'")
    print(f"{'(n, p)':<14}{'1 thread':>10}{'2 threads':>11}{'1 vs 2':>9}")
    default = theory.MONTE_CARLO_BLAS_THREADS
    for n, p in [(100, 200), (300, 150)]:
        timings = {}
        for threads in (1, 2):
            theory.MONTE_CARLO_BLAS_THREADS = threads
            start = time.perf_counter()
            theory.simulate_monolithic(SPECTRUM, n, p, n_trials=100, seed=4)
            timings[threads] = time.perf_counter() - start
        print(f"{str((n, p)):<14}{timings[1]:>8.3f} s{timings[2]:>9.3f} s{timings[2] / timings[1]:>8.1f}x")
    theory.MONTE_CARLO_BLAS_THREADS = default


if __name__ == "__main__":
    main()
