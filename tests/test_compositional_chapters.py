"""Compositional image chapters: multi-output networks, cross-entropy training, matched parameter
counts, the chapters' verdict rules, their bad-input rules, and the digitised paper values."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from modcore import runner, scorecard
from modcore.parameters import PROFILES
from modcore.chapters import compositional_images, projections, robustness
from modcore.runs import compositional as comp
from modcore.models import MLPSpec, ModularSpec, stack_init
from modcore.seeds import derive_seed
from modcore.store import ResultStore
from modcore.tasks import compositional as tasks
from modcore.train import TrainSettings, batch_indices, train_ensemble


# --- multi-output networks ---------------------------------------------------------------------


def test_output_dim_one_is_the_default_and_keeps_the_scalar_output():
    x = torch.randn(2, 7, 5)
    for spec in (MLPSpec(5, 8), ModularSpec(5, 3, 4, module_dim=2)):
        assert spec.output_dim == 1
        assert spec.forward(stack_init(spec, [0, 1]), x).shape == (2, 7)
        assert spec == type(spec)(**{**{f: getattr(spec, f) for f in spec.__dataclass_fields__}, "output_dim": 1})


def test_multi_output_stacked_forward_equals_the_plain_module():
    x = torch.randn(9, 12)
    for spec in (MLPSpec(12, 6, output_dim=20), ModularSpec(12, 4, 5, module_dim=3, output_dim=20),
                 ModularSpec(12, 4, 5, module_dim=3, output_dim=20, projection_activation="tanh")):
        stacked = spec.forward(stack_init(spec, [3]), x[None])[0]
        assert stacked.shape == (9, 20)
        torch.testing.assert_close(stacked, spec.module(seed=3)(x), rtol=1e-5, atol=1e-6)


def test_modular_logits_are_the_scaled_sum_of_every_module_s_outputs():
    spec = ModularSpec(10, 3, 4, depth=1, module_dim=2, output_dim=6)
    u, w1, b1, w2, b2 = spec.init(seed=0)
    x = torch.randn(5, 10)
    by_hand = sum(torch.relu(x @ u[:, 2 * i:2 * i + 2] @ w1[i] + b1[i]) @ w2[i] + b2[i] for i in range(3)) / math.sqrt(3)
    torch.testing.assert_close(spec.forward([p[None] for p in spec.init(seed=0)], x[None])[0], by_hand)


def test_nonlinear_projection_has_the_linear_one_s_parameter_count():
    linear = ModularSpec(64, 4, 8, module_dim=5, output_dim=30)
    assert ModularSpec(64, 4, 8, module_dim=5, output_dim=30, projection_activation="tanh").n_params == linear.n_params


def test_bad_output_dim_and_projection_activation_are_named():
    with pytest.raises(ValueError, match="output_dim="):
        MLPSpec(4, 4, output_dim=0)
    with pytest.raises(ValueError, match="activation="):
        ModularSpec(4, 2, 4, projection_activation="cube")


# --- cross-entropy training ----------------------------------------------------------------------


def _hand_written(spec, seed, x, labels, n_classes, settings):
    """One model alone: its own Adam, the same minibatch order, the per-slot cross-entropy."""
    params = [p.clone().double().requires_grad_() for p in spec.init(seed=seed)]
    opt = torch.optim.Adam(params, lr=settings.lr, fused=False)
    x, labels = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(labels)
    for index in batch_indices(len(x), settings.batch_size, settings.n_steps, seed=seed):
        logits = spec.forward([p[None] for p in params], x[index][None])[0]  # (B, k * n_classes)
        loss = F.cross_entropy(logits.reshape(-1, n_classes), labels[index].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [p.detach() for p in params]


@pytest.mark.parametrize("spec", [MLPSpec(6, 5, output_dim=2 * 3), ModularSpec(6, 2, 4, module_dim=2, output_dim=2 * 3)])
def test_cross_entropy_ensemble_equals_models_trained_one_by_one(spec):
    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((13, 6)), rng.integers(0, 3, size=(13, 2))
    settings = TrainSettings(n_steps=7, lr=0.01, batch_size=4, precision="float64", fused=False, loss="cross_entropy")
    result = train_ensemble(spec, [0, 1], x, labels, x, labels, settings=settings, device="cpu")
    for e, seed in enumerate([0, 1]):
        alone = _hand_written(spec, seed, x, labels, 3, settings)
        for ours, theirs in zip(result.params, alone):
            torch.testing.assert_close(ours[e], theirs, rtol=1e-10, atol=1e-12)
        logits = spec.forward([p[None] for p in alone], torch.as_tensor(x)[None])[0].reshape(13, 2, 3)
        predicted = logits.argmax(-1).numpy()
        assert result.classification["test_accuracy"][e, -1] == pytest.approx(tasks.mean_slot_accuracy(predicted, labels))
        assert result.classification["test_all_slots_accuracy"][e, -1] == pytest.approx(
            tasks.all_slots_accuracy(predicted, labels))
        entropy = F.cross_entropy(logits.reshape(-1, 3), torch.as_tensor(labels).reshape(-1)).item()
        assert result.classification["test_cross_entropy"][e, -1] == pytest.approx(entropy, rel=1e-10)
    assert np.isnan(result.test_mse).all()


def test_cross_entropy_per_model_data_equals_shared_data_model_by_model():
    spec = MLPSpec(4, 3, output_dim=2 * 10)
    rng = np.random.default_rng(1)
    x, labels = rng.standard_normal((2, 8, 4)), rng.integers(0, 10, size=(2, 8, 2))
    settings = TrainSettings(n_steps=3, lr=0.01, batch_size=3, precision="float64", loss="cross_entropy")
    both = train_ensemble(spec, [5, 6], x, labels, settings=settings, device="cpu")
    for e, seed in enumerate([5, 6]):
        one = train_ensemble(spec, [seed], x[e], labels[e], settings=settings, device="cpu")
        np.testing.assert_allclose(both.classification["train_accuracy"][e], one.classification["train_accuracy"][0])


def test_cross_entropy_rejects_bad_labels_by_name():
    spec = MLPSpec(4, 3, output_dim=2 * 10)
    settings = TrainSettings(n_steps=1, loss="cross_entropy")
    x = np.zeros((5, 4))
    with pytest.raises(ValueError, match="out of range"):
        train_ensemble(spec, [0], x, np.full((5, 2), 10), settings=settings, device="cpu")
    with pytest.raises(ValueError, match="integer labels"):
        train_ensemble(spec, [0], x, np.zeros((5, 3), dtype=int), settings=settings, device="cpu")
    with pytest.raises(ValueError, match="loss="):
        TrainSettings(n_steps=1, loss="hinge")


# --- the chapters' networks and runs ------------------------------------------------------------


@pytest.mark.parametrize("architecture", [dict(), dict(modules_per_slot=5, module_dim=64, module_width=128)])
def test_mlp_and_modular_parameter_counts_match_within_the_stated_tolerance(architecture):
    runs = comp.design(comp.METHODS, range(1, 9), seed=0, n_seeds=1, device="cpu", **architecture)
    assert comp.max_parameter_gap(runs) <= comp.PARAMS_TOLERANCE
    table = comp.parameter_table(runs)
    assert (table.modular_n_params == [r.spec().n_params for r in runs if r.method == "modular"]).all()


@pytest.mark.parametrize("bad, match", [(dict(n_slots=0), "n_slots="), (dict(n_slots=9), "n_slots="),
                                        (dict(heldout_fraction=1.0), "heldout_fraction="),
                                        (dict(heldout_fraction=0.0), "heldout_fraction="),
                                        (dict(input_noise=-0.1), "input_noise="), (dict(method="cnn"), "method="),
                                        (dict(dataset="mnist"), "dataset="),
                                        (dict(method="kernel_rule", projection_activation="tanh"), "projection_activation")])
def test_bad_run_settings_raise_and_name_the_argument(bad, match):
    with pytest.raises(ValueError, match=match):
        comp.CompositionalRun(**{"method": "modular", "n_slots": 2, "seed": 0, **bad})


@pytest.mark.parametrize("name, overrides, match", [
    ("compositional_images", {"n_slots_values": [0, 2]}, "n_slots_values"),
    ("compositional_images", {"n_slots_values": [1, 9]}, "n_slots_values"),
    ("robustness", {"n_slots": 1}, "n_slots"),
    ("robustness", {"n_slots": 7}, "n_slots"),
    ("robustness", {"heldout_fraction": 1.0}, "heldout_fraction"),
    ("robustness", {"input_noise": -0.5}, "input_noise"),
    ("projections", {"heldout_fraction": 0.0}, "heldout_fraction"),
    ("projections", {"dataset": "mnist"}, "dataset"),
])
def test_chapter_rules_catch_bad_input_before_any_compute(name, overrides, match):
    with pytest.raises(runner.RunnerError, match=match):
        runner.resolve(name, "default", overrides)


@pytest.mark.parametrize("chapter", [compositional_images, robustness, projections], ids=lambda m: m.__name__)
def test_every_profile_of_the_chapters_obeys_the_rules_and_reaches_the_notebook_unchanged(chapter):
    name = chapter.__name__.rsplit(".", 1)[-1]
    for profile in PROFILES:
        chosen = runner.load_profiles(name)[profile]
        resolved = runner.resolve(name, profile)  # raises if a value breaks its rule
        assert resolved == chosen, f"{name} {profile}: the runner changed {chosen} into {resolved}"
        built = chapter.Parameters.from_values({**runner.default_parameters(name), **resolved})
        assert {key: getattr(built, key) for key in chosen} == chosen


def test_a_cifar10_path_without_the_batches_fails_before_training_and_names_it(tmp_path):
    runs = comp.design(["modular"], [2], seed=0, n_seeds=1, device="cpu", dataset="cifar10")
    store = ResultStore(tmp_path / "store", create=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="cifar10_path=.*lacks data_batch_1"):
        comp.sweep(runs, store, cifar10_path=str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="not a directory"):
        comp.sweep(runs, store, cifar10_path=str(tmp_path / "nowhere"))
    assert not list((tmp_path / "store").glob("*.json"))


def test_kernel_rule_labels_are_centred_one_hot_slots_side_by_side():
    labels = np.array([[3, 0], [9, 9]])
    y = comp.kernel_rule_labels(labels)
    assert y.shape == (2, 20)
    np.testing.assert_allclose(y.sum(axis=1), 0, atol=1e-12)
    assert y[0, 3] == pytest.approx(0.9) and y[0, 10] == pytest.approx(0.9) and y[1, 19] == pytest.approx(0.9)


def test_a_projection_reading_one_slot_has_all_its_share_there():
    spec = ModularSpec(4 * 64, 2, 3, module_dim=2)
    u = np.zeros((spec.input_dim, 2 * 2))
    slot_view = tasks.split_slots(np.arange(spec.input_dim), (8, 8, 1), 4)  # (4, 8, 8, 1) input indices
    u[slot_view[2].ravel(), 0:2] = 1.0   # module 0 reads slot 2 only
    u[:, 2:4] = 1.0                      # module 1 reads everything evenly
    shares = comp.slot_shares(comp.projection_weights(spec, u), (8, 8, 1), 4)
    np.testing.assert_allclose(shares, [[0, 0, 1, 0], [0.25] * 4])


def test_same_seed_gives_identical_runs_and_paired_modular_nets_share_their_module_weights():
    runs = [comp.CompositionalRun(method, 2, 0, n_train=64, n_test=32, kernel_n_steps=2, kernel_batch_size=16,
                                  heldout_fraction=0.3, input_noise=0.2) for method in ("modular", "kernel_rule")]
    first, again = comp.run_batch(runs[:1]), comp.run_batch(runs[:1])
    assert first == again
    assert all(0 <= first[0][key] <= 1 for key in ("accuracy", "heldout_accuracy", "noisy_accuracy"))
    data = comp.prepare_data(runs[1])
    seeds = [derive_seed(0, 3)]
    fitted = comp.kernel_rule_spec(runs[1].spec(), data.x_train[None], data.y_train[None], seeds, n_steps=2,
                                   batch_size=16)
    random, kernel = runs[0].spec().init(seed=seeds[0]), fitted.init(seed=seeds[0])
    assert not torch.equal(random[0], kernel[0])
    for a, b in zip(random[1:], kernel[1:]):
        torch.testing.assert_close(a, b)


# --- the verdict rules, on synthetic numbers -------------------------------------------------------


def _frame(accuracies: dict, column: str = "accuracy") -> pd.DataFrame:
    """Runs of every method at every k with the given per-seed accuracies {(k, method): [...]}."""
    rows = [{"n_slots": k, "method": m, "seed": s, column: a, "diverged": False}
            for (k, m), values in accuracies.items() for s, a in enumerate(values)]
    return pd.DataFrame(rows)


def test_fig4b_rule_agrees_when_the_kernel_rule_leads_everywhere_by_a_growing_gap():
    noise = [0.0, 0.002, -0.002, 0.001]
    accuracies = {}
    for k in (1, 4, 8):
        accuracies[(k, "monolithic")] = [0.5 + e for e in noise]
        accuracies[(k, "modular")] = [0.51 + e for e in noise[::-1]]
        accuracies[(k, "kernel_rule")] = [0.52 + 0.01 * k + e for e in noise]
    summary = compositional_images.fig4b_summary(_frame(accuracies))
    for pair in comp.CLAIM_PAIRS:
        assert summary[f"cimg_{pair}_verdict"] == "agree" and summary[f"cimg_{pair}_leads_at"] == "1, 4, 8"
        assert summary[f"cimg_{pair}_slope"] == pytest.approx(1.0)  # points per image
    assert summary["cimg_kernel_vs_random_first"] == pytest.approx(2.0)  # in points, not a fraction


def test_fig4b_comparisons_are_judged_apart():
    # the kernel rule beats random U everywhere by a growing gap but trails the MLP at k = 8
    noise = [0.0, 0.002, -0.002, 0.001]
    accuracies = {}
    for k in (1, 4, 8):
        accuracies[(k, "monolithic")] = [0.5 + 0.02 * k + e for e in noise]
        accuracies[(k, "modular")] = [0.4 + e for e in noise[::-1]]
        accuracies[(k, "kernel_rule")] = [0.45 + 0.01 * k + e for e in noise]
    summary = compositional_images.fig4b_summary(_frame(accuracies))
    assert summary["cimg_kernel_vs_random_verdict"] == "agree"
    assert summary["cimg_modular_vs_mlp_verdict"] == "disagree"


def test_fig4b_rule_partly_without_growth_and_disagrees_when_trailing():
    noise = [0.0, 0.002, -0.002, 0.001]
    flat = {(k, m): [base + e for e in noise] for k in (1, 8) for m, base in
            (("monolithic", 0.5), ("modular", 0.5), ("kernel_rule", 0.56 - 0.001 * k))}
    assert compositional_images.fig4b_summary(_frame(flat))["cimg_kernel_vs_random_verdict"] == "partly"
    flat[(8, "kernel_rule")] = [0.4 + e for e in noise]
    assert compositional_images.fig4b_summary(_frame(flat))["cimg_kernel_vs_random_verdict"] == "disagree"


def test_the_papers_fig4b_and_table_agree_with_its_words_under_our_rules():
    for pair in comp.CLAIM_PAIRS:
        assert compositional_images.trend_verdict(comp.paper_pair_table(pair)) == "agree"
    summary = robustness.robustness_summary(_robustness_frame(0.05))
    assert summary["rob_kernel_vs_random_paper_verdict"] == summary["rob_modular_vs_mlp_paper_verdict"] == "agree"


def _robustness_frame(kernel_lead):
    rows = []
    for seed, e in enumerate((0.0, 0.003, -0.002, 0.001)):
        for method, base in (("monolithic", 0.4), ("modular", 0.42), ("kernel_rule", 0.42 + kernel_lead)):
            rows.append(dict(method=method, seed=seed, n_slots=4, diverged=False, accuracy=base + e + 0.05,
                             heldout_accuracy=base + e, noisy_accuracy=base - e))
    return pd.DataFrame(rows)


def test_robustness_comparisons_agree_when_the_kernel_rule_leads_and_disagree_when_it_trails():
    leading, trailing = robustness.robustness_summary(_robustness_frame(0.05)), robustness.robustness_summary(_robustness_frame(-0.05))
    for pair in comp.CLAIM_PAIRS:
        assert leading[f"rob_{pair}_verdict"] == "agree" and trailing[f"rob_{pair}_verdict"] == "disagree"
    assert leading["rob_split_monolithic"] == pytest.approx(-5.0)  # unseen minus seen, in points


def test_every_compositional_record_names_its_data_set_and_the_cifar10_row_is_not_run_without_data():
    noise = [0.0, 0.002, -0.002, 0.001]
    accuracies = {(k, m): [base + e for e in noise] for k in (1, 8) for m, base in
                  (("monolithic", 0.5), ("modular", 0.5), ("kernel_rule", 0.56))}
    summary = compositional_images.fig4b_summary(_frame(accuracies))
    summary["cimg_cifar10"] = compositional_images.cifar10_status("digits", "/nonexistent/cifar")
    records = compositional_images.claims(compositional_images.Parameters(n_seeds=2), summary)
    assert set(records) == {"fig4b_kernel_vs_random", "fig4b_modular_vs_mlp", "fig4b_on_cifar10"}
    for claim_id in ("fig4b_kernel_vs_random", "fig4b_modular_vs_mlp"):
        assert records[claim_id]["ours"].startswith("Compositional Digits (a stand-in for CIFAR-10)")
        assert "stand-in" in records[claim_id]["why"]
    assert records["fig4b_on_cifar10"]["verdict"] == scorecard.NOT_RUN
    assert records["fig4b_on_cifar10"]["reason"] == "data not present"
    assert records["fig4b_kernel_vs_random"]["seeds"] == [0, 1]
    by_robustness = robustness.claims(robustness.Parameters(n_seeds=1, n_slots=4),
                                      robustness.robustness_summary(_robustness_frame(0.05)))
    assert all(r["ours"].startswith("Compositional Digits (a stand-in for CIFAR-10), k = 4")
               for r in by_robustness.values())


def test_table2_is_not_testable_because_its_content_is_not_in_our_sources():
    frame = pd.DataFrame([dict(method="modular", seed=s, n_slots=4, diverged=False, projection_activation=act,
                               accuracy=0.5 + 0.01 * s, heldout_accuracy=0.4) for s in range(3) for act in (None, "tanh")])
    summary = projections.table2_summary(frame)
    assert summary["tab2_verdict"] == scorecard.NOT_IN_SOURCES
    assert not scorecard.counts_as_agreement(summary["tab2_verdict"])


def test_fig12_row_has_one_part_per_reading_of_algorithm_1():
    shares = {("kernel_rule", "all_slots"): [0.3, 0.3], ("kernel_rule", "per_slot"): [0.9, 0.8], ("modular", "all_slots"): [0.3, 0.2]}
    frame = pd.DataFrame([dict(method=m, kernel_labels=labels, seed=s, n_slots=4, diverged=False,
                               projection_activation=None, max_slot_share=v, start_cosine=0.5 if m == "kernel_rule" else None)
                          for (m, labels), v in shares.items() for s in range(2)])
    summary = projections.fig12_summary(frame)
    assert (summary["proj_kernel_word"], summary["proj_per_slot_word"]) == ("disagree", "agree")
    assert summary["proj_verdict"] == "partly"
    summary.update(tab2_verdict=scorecard.NOT_IN_SOURCES, tab2_iid_difference=0.0, tab2_iid_se=0.1,
                   tab2_ood_difference=0.0, tab2_ood_se=0.1)
    record = projections.claims(projections.Parameters(n_seeds=2, n_slots=4), summary)["fig12_projections_visualised"]
    assert [p["verdict"] for p in record["parts"]] == ["disagree", "agree"]
    assert [p["label"] for p in record["parts"]] == list(projections.READINGS.values())


def test_algorithm_1_as_written_penalises_a_projection_confined_to_one_slot():
    run = comp.CompositionalRun("kernel_rule", 4, 0, n_train=400, n_test=50, kernel_batch_size=64, heldout_fraction=0.25)
    penalty = projections.slot_focus_penalty(run, n_draws=4)
    as_written, per_slot = penalty.ratio.to_numpy()
    assert as_written > 1.0 and per_slot < as_written


def test_per_slot_labels_apply_to_the_kernel_rule_only_and_are_named():
    with pytest.raises(ValueError, match="kernel_labels="):
        comp.CompositionalRun("kernel_rule", 2, 0, kernel_labels="some_slots")
    with pytest.raises(ValueError, match="kernel_labels applies"):
        comp.CompositionalRun("modular", 2, 0, kernel_labels="per_slot")


def test_the_sensitivity_runs_vary_the_provisioning_at_one_k():
    runs = comp.design(comp.METHODS, [1, 4], seed=0, n_seeds=2, device="cpu", n_train=100)
    extra = compositional_images.provisioning_runs(runs, [[1, 16], [2, 8]], 4)
    assert {(r.modules_per_slot, r.module_dim) for r in extra} == {(2, 16), (1, 16), (2, 8)}
    assert {r.n_slots for r in extra} == {4} and len(extra) == 3 * len(comp.METHODS) * 2


def test_a_difference_within_two_standard_errors_is_a_tie():
    assert comp.comparison(0.01, 0.006) == "tied"
    assert comp.comparison(0.01, 0.004) == "leads"
    assert comp.comparison(-0.01, 0.004) == "trails"
    assert comp.comparison(0.05, math.nan) == "tied"


def test_robustness_rule():
    assert robustness.robustness_verdict("leads", "leads") == "agree"
    assert robustness.robustness_verdict("leads", "tied") == "partly"
    assert robustness.robustness_verdict("tied", "tied") == "disagree"
    assert robustness.robustness_verdict("leads", "trails") == "disagree"


def test_fig12_rule():
    assert projections.fig12_verdict(projections.focus_fraction([[0.9, 0.8, 0.6, 0.3]]), 0.0) == "agree"
    assert projections.fig12_verdict(projections.focus_fraction([[0.9, 0.3, 0.3, 0.3]]), 0.0) == "partly"
    assert projections.fig12_verdict(0.25, 0.5) == "disagree"
    assert projections.fig12_verdict(0.1, 0.0) == "disagree"


def test_table2_rule():
    assert projections.as_well(-0.01, 0.001) == "as well"
    assert projections.as_well(-0.05, 0.001) == "worse"
    assert projections.as_well(-0.05, 0.03) == "as well"
    assert projections.as_well(0.05, 0.001) == "better"
    assert projections.table2_verdict("as well", "better") == "agree"
    assert projections.table2_verdict("worse", "as well") == "partly"
    assert projections.table2_verdict("worse", "worse") == "disagree"


def test_diverged_runs_are_left_out_of_the_means():
    frame = _frame({(1, "modular"): [0.5, 0.7]})
    frame.loc[1, "diverged"] = True
    assert comp.accuracy_table(frame)["mean"].item() == 0.5


# --- the paper's values -------------------------------------------------------------------------------


def test_digitised_fig4b_and_robustness_table_hold_the_paper_s_values():
    fig = comp.paper_fig4b()
    assert len(fig) == 24 and sorted(fig.n_slots.unique()) == list(range(1, 9))
    at = fig.set_index(["n_slots", "method"])["mean"]
    assert (at[(1, "kernel_rule")], at[(1, "modular")], at[(1, "monolithic")]) == (0.552, 0.536, 0.529)
    assert (at[(8, "kernel_rule")], at[(8, "modular")], at[(8, "monolithic")]) == (0.482, 0.434, 0.390)
    table = comp.paper_robustness()
    np.testing.assert_allclose(table.loc[["monolithic", "modular", "kernel_rule"], "heldout_accuracy"],
                               [0.4256, 0.4526, 0.4990])
    np.testing.assert_allclose(table.loc[["monolithic", "modular", "kernel_rule"], "noisy_accuracy"],
                               [0.3947, 0.4307, 0.4695])
