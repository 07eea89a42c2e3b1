"""The calibration: the task defaults (literals in tasks/sine.py) are the recorded search's outcome
and nothing reads the record at import; the search picks the best candidate and its rerun goes to
the results store, never into the package; the thresholds check is computed from the task."""

import json

import numpy as np
import pandas as pd
import pytest

from modcore import paper_values
from modcore.chapters import calibration
from modcore.runs.sine_networks import NetworkRun, TheoryFit, calibrated_theory
from modcore.store import ResultStore
from modcore.tasks.sine import SineTask, expected_target_variance

STORED = json.loads(calibration.RECORD_FILE.read_text())


def test_task_and_run_defaults_equal_the_recorded_search():
    fitted = STORED["fitted"]
    task = SineTask(5, 3, seed=0)
    assert (task.amplitude_scale, task.direction_norm, task.label_noise) == \
        (fitted["amplitude_scale"], fitted["direction_norm"], fitted["label_noise"])
    run = NetworkRun(input_dim=5, n_modules=3, n_params=300, n_train=100, seed=0)
    assert (run.n_steps, run.depth) == (fitted["n_steps"], fitted["depth"])
    assert calibrated_theory() == TheoryFit(**STORED["theory"])


def test_stored_values_are_the_best_scoring_candidate_of_the_stored_search():
    scores = pd.DataFrame(STORED["search"]["scores"])
    best = scores.loc[scores.error.idxmin()]
    assert {field: best[field] for field in calibration.FITTED_FIELDS} == \
        {field: STORED["fitted"][field] for field in calibration.FITTED_FIELDS}
    assert len(scores) == len(calibration.SearchDesign(**{
        k: tuple(v) if isinstance(v, list) else v for k, v in STORED["search"]["design"].items()}).candidates())


def test_search_picks_the_candidate_closest_to_the_paper_and_records_it(tmp_path):
    design = calibration.SearchDesign(amplitude_scale_values=(0.25, 2.5), direction_norm_values=("unit",),
                                      label_noise_values=(0.0,), n_steps_values=(400,), input_dim_values=(5,),
                                      n_train_values=(100, 200), n_test=300, theory_input_dim_values=(2, 5),
                                      theory_n_params_values=(100,), theory_n_train_values=(1000,))
    paper = paper_values.load_csv("fig2_digitised")
    result = calibration.run_search(design, ResultStore(tmp_path / "store", create=True), paper, device="cpu")
    # the paper: test loss above 4 at n = 100 and 200; a noise-free target of scale 0.25 (Var(y) ~ 0.03)
    # keeps every loss below its variance's order, far from those numbers
    assert result.best["amplitude_scale"] == 2.5
    assert result.scores.error.iloc[0] == result.scores.error.min()
    record = calibration.calibration_record(result, design)
    store = ResultStore(tmp_path / "store")
    calibration.store_rerun(store, design, record)
    assert store.get(design)["fitted"] == {**result.best, "depth": design.depth}
    assert calibration.same_outcome(result, record["fitted"])
    assert not calibration.same_outcome(result, {**record["fitted"], "amplitude_scale": 0.25})


def test_the_library_defaults_do_not_read_the_calibration_record(tmp_path):
    """A rerun cannot move the defaults (nor the store key of every sine run): importing the task
    and run modules with the record missing gives the same defaults."""
    code = ("import modcore.paths as paths, pathlib; paths.DATA_DIR = pathlib.Path(r'%s'); "
            "from modcore.runs.sine_networks import NetworkRun, calibrated_theory; "
            "run = NetworkRun(input_dim=5, n_modules=3, n_params=300, n_train=100, seed=0); "
            "print(run.amplitude_scale, run.direction_norm, run.label_noise, run.n_steps, calibrated_theory().omega)"
            % tmp_path)
    import subprocess
    import sys
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    fitted = STORED["fitted"]
    assert shown == [str(fitted["amplitude_scale"]), fitted["direction_norm"], str(fitted["label_noise"]),
                     str(fitted["n_steps"]), str(STORED["theory"]["omega"])]


def test_curve_error_is_zero_on_the_papers_own_points_and_infinite_without_runs():
    points = pd.DataFrame({"x": [100, 100, 1000], "quantity": ["train_network", "test_network", "test_network"],
                           "value": [0.0, 4.4, 4.0]})
    exact = pd.DataFrame({"x": [100, 1000], "train_mse": [0.0, 1.0], "test_mse": [4.4, 4.0]})
    assert calibration.curve_error(exact, points) == pytest.approx(0.0)
    assert calibration.curve_error(exact.assign(test_mse=[4.4, np.nan]), points) == np.inf


def test_predict_zero_loss_is_the_task_variance_plus_noise():
    fitted = {"amplitude_scale": 2.0, "direction_norm": "unit", "label_noise": 0.5}
    check = calibration.threshold_check(fitted, input_dim_values=[4])
    assert check.predict_zero_loss.iloc[0] == pytest.approx(
        expected_target_variance(4, amplitude_scale=2.0, direction_norm="unit") + 0.25)


def test_threshold_words_name_where_both_thresholds_are_well_below():
    check = pd.DataFrame({"input_dim": [2, 3, 4], "predict_zero_loss": [1.8, 2.1, 2.3]})
    for threshold in calibration.THRESHOLDS:
        check[f"fraction_{threshold}"] = threshold / check.predict_zero_loss
    words = calibration.threshold_words(check)
    assert words["threshold_verdict"] == "not well below"  # 1.5 / 1.8 = 0.83 > 0.75
    assert words["well_below_from_m"] == "m = 3"  # 1.5 / 2.1 = 0.71
