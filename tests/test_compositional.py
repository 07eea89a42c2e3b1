"""Compositional images: each slot holds the source image its label names, the pools stay apart,
held-out combinations never reach training, the noise has the stated level, bad input is named."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from modcore.tasks import compositional as comp
from modcore.tasks.cifar10 import Cifar10NotFoundError, ImageSplits


@pytest.fixture(scope="module")
def digits():
    return comp.load_images("digits", seed=0)


def colour_pool(n_images=40, seed=0):
    """Random colour images with height != width, so a mixed-up axis shows."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n_images, 4, 5, 3), dtype=np.uint8)
    return images, np.arange(n_images) % 10


def combos_of(labels):
    return {tuple(row) for row in labels.tolist()}


def test_digit_pools_partition_the_bundled_digits_stratified(digits):
    assert digits.x_train.shape[1:] == (8, 8, 1) and digits.pixel_max == 16 and digits.n_classes == 10
    pooled = np.concatenate([digits.x_train, digits.x_test]).reshape(-1, 64)
    original = load_digits().images.reshape(-1, 64).astype(np.uint8)
    np.testing.assert_array_equal(np.unique(pooled, axis=0, return_counts=True)[1],
                                  np.unique(original, axis=0, return_counts=True)[1])
    assert len(pooled) == 1797 and len(digits.x_test) == 599
    test_share = np.bincount(digits.y_test, minlength=10) / np.bincount(load_digits().target, minlength=10)
    np.testing.assert_allclose(test_share, 1 / 3, atol=0.01)


def test_composite_shapes_and_dtypes(digits):
    task = comp.compositional_task(digits, 3, n_train=50, n_test=20, heldout_fraction=0.3, input_noise=0.1, seed=0)
    assert task.train.x.shape == (50, 8 * 8 * 3) and task.train.x.dtype == np.float32
    assert task.train.labels.shape == (50, 3) and task.test.labels.shape == (20, 3)
    assert task.test_noisy.x.shape == task.test_heldout.x.shape == (20, 192)
    assert task.n_slots == 3 and task.image_shape == (8, 8, 1)
    assert 0 <= task.train.x.min() and task.train.x.max() <= 1


def test_each_slot_holds_the_source_image_its_label_names():
    images, labels = colour_pool()
    composites = comp.draw_composites(images, labels, 30, 4, pixel_max=255, seed=1)
    slots = comp.split_slots(composites.x, (4, 5, 3), 4)  # (n, k, H, W, C)
    np.testing.assert_array_equal(np.rint(slots * 255).astype(np.uint8), images[composites.source_indices])
    np.testing.assert_array_equal(composites.labels, labels[composites.source_indices])
    # the picture: slot j is columns j * W .. (j + 1) * W - 1 of one H x (W * k) x C image
    picture = comp.unflatten_composites(composites.x, (4, 5, 3), 4)
    assert picture.shape == (30, 4, 20, 3)
    np.testing.assert_array_equal(picture[7, :, 10:15, :], slots[7, 2])
    np.testing.assert_allclose(picture[7, :, 10:15, :] * 255, images[composites.source_indices[7, 2]], atol=1e-4)


def test_training_composites_use_the_train_pool_and_tests_the_test_pool(digits):
    task = comp.compositional_task(digits, 2, n_train=40, n_test=40, heldout_fraction=0.2, seed=2)
    pairs = ((task.train, digits.x_train), (task.test, digits.x_test), (task.test_heldout, digits.x_test))
    for composites, pool in pairs:
        slots = comp.split_slots(composites.x, (8, 8, 1), 2) * 16
        np.testing.assert_allclose(slots, pool[composites.source_indices], atol=1e-5)


def test_same_seed_gives_identical_composites_and_another_seed_differs(digits):
    setting = dict(n_slots=2, n_train=30, n_test=10, heldout_fraction=0.25, input_noise=0.2)
    first = comp.compositional_task(digits, **setting, seed=5)
    second = comp.compositional_task(digits, **setting, seed=5)
    other = comp.compositional_task(digits, **setting, seed=6)
    for name in ("train", "test", "test_noisy", "test_heldout"):
        np.testing.assert_array_equal(getattr(first, name).x, getattr(second, name).x)
    np.testing.assert_array_equal(first.heldout_combinations, second.heldout_combinations)
    assert not np.array_equal(first.train.x, other.train.x)
    assert not np.array_equal(first.heldout_combinations, other.heldout_combinations)


@pytest.mark.parametrize("n_slots, heldout_fraction", [(2, 0.3), (3, 0.5)])
def test_heldout_combinations_never_appear_in_training_and_are_all_the_ood_set_draws(digits, n_slots, heldout_fraction):
    task = comp.compositional_task(digits, n_slots, n_train=2000, n_test=300, heldout_fraction=heldout_fraction, seed=3)
    heldout = combos_of(task.heldout_combinations)
    assert len(heldout) == round(heldout_fraction * 10 ** n_slots)
    assert not combos_of(task.train.labels) & heldout
    assert not combos_of(task.test.labels) & heldout
    assert combos_of(task.test_heldout.labels) <= heldout
    # the in-distribution test holds only combinations the training composites contain
    assert combos_of(task.test.labels) <= combos_of(task.train.labels)
    # a held-out combination is new only as a combination: every class is trained in every slot
    for slot in range(n_slots):
        assert set(task.train.labels[:, slot].tolist()) == set(range(10))


def test_with_more_combinations_than_composites_the_two_test_sets_still_split_seen_from_unseen(digits):
    # k = 4: 7,500 seen combinations, 1,000 training composites, so most seen ones never occur
    task = comp.compositional_task(digits, 4, n_train=1000, n_test=400, heldout_fraction=0.25, seed=5)
    trained = combos_of(task.train.labels)
    assert len(trained) < 0.2 * 7500
    assert combos_of(task.test.labels) <= trained
    assert not combos_of(task.test_heldout.labels) & trained


def test_split_combinations_partitions_all_combinations():
    seen, heldout = comp.split_combinations(10, 3, 0.4, seed=0)
    assert len(seen) + len(heldout) == 1000 and not combos_of(seen) & combos_of(heldout)
    assert len(combos_of(seen) | combos_of(heldout)) == 1000


@pytest.mark.parametrize("seed", range(3))
def test_largest_heldout_fraction_still_trains_every_class_in_every_slot(seed):
    seen, heldout = comp.split_combinations(10, 2, 0.9, seed=seed)
    assert len(seen) == 10 and len(heldout) == 90
    for slot in range(2):
        assert sorted(seen[:, slot].tolist()) == list(range(10))


def test_without_heldout_fraction_every_combination_is_allowed_and_classes_are_uniform(digits):
    task = comp.compositional_task(digits, 2, n_train=5000, n_test=10, seed=4)
    assert task.test_heldout is None and task.heldout_combinations is None and task.test_noisy is None
    frequencies = np.bincount(task.train.labels.ravel(), minlength=10) / task.train.labels.size
    # multinomial s.e. of a frequency near 0.1 over 10,000 slots: 0.003; allow 5 s.e.
    np.testing.assert_allclose(frequencies, 0.1, atol=5 * np.sqrt(0.09 / task.train.labels.size))


def test_noisy_test_set_is_the_clean_one_plus_noise_of_the_stated_std(digits):
    input_noise = 0.3
    task = comp.compositional_task(digits, 2, n_train=10, n_test=1000, input_noise=input_noise, seed=0)
    np.testing.assert_array_equal(task.test_noisy.labels, task.test.labels)
    assert task.test_noisy.input_noise == input_noise and task.test.input_noise == 0
    noise = (task.test_noisy.x - task.test.x).astype(np.float64).ravel()
    n_values = noise.size  # 1000 * 128 = 128,000 iid draws
    # s.e. of the sample mean sigma / sqrt(N), of the sample std sigma / sqrt(2N); 5 s.e. each
    assert abs(noise.mean()) < 5 * input_noise / np.sqrt(n_values)
    assert abs(noise.std() - input_noise) < 5 * input_noise / np.sqrt(2 * n_values)


def test_accuracy_helpers():
    labels = np.array([[1, 2], [3, 4], [5, 6]])
    predicted = np.array([[1, 2], [3, 0], [0, 0]])
    np.testing.assert_allclose(comp.slot_accuracies(predicted, labels), [2 / 3, 1 / 3])
    assert comp.mean_slot_accuracy(predicted, labels) == pytest.approx(0.5)
    assert comp.all_slots_accuracy(predicted, labels) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="predicted and labels"):
        comp.mean_slot_accuracy(predicted[:, :1], labels)


@pytest.mark.parametrize("n_slots", [0, -1, comp.MAX_N_SLOTS + 1, 2.0, True])
def test_n_slots_outside_one_to_max_raises_and_names_it(digits, n_slots):
    with pytest.raises(ValueError, match="n_slots="):
        comp.compositional_task(digits, n_slots, n_train=5, n_test=5, seed=0)


def test_heldout_split_needs_two_to_max_heldout_slots(digits):
    with pytest.raises(ValueError, match="n_slots must be >= 2"):
        comp.compositional_task(digits, 1, n_train=5, n_test=5, heldout_fraction=0.5, seed=0)
    with pytest.raises(ValueError, match=f"n_slots must be an integer in \\[1, {comp.MAX_HELDOUT_N_SLOTS}\\]"):
        comp.compositional_task(digits, comp.MAX_HELDOUT_N_SLOTS + 1, n_train=5, n_test=5, heldout_fraction=0.5, seed=0)


@pytest.mark.parametrize("heldout_fraction", [0.0, 1.0, -0.2, 1.5])
def test_heldout_fraction_outside_open_unit_interval_raises_and_names_it(digits, heldout_fraction):
    with pytest.raises(ValueError, match="heldout_fraction="):
        comp.compositional_task(digits, 2, n_train=5, n_test=5, heldout_fraction=heldout_fraction, seed=0)


@pytest.mark.parametrize("heldout_fraction", [0.001, 0.95])
def test_heldout_fraction_holding_out_none_or_a_whole_class_raises_and_names_it(heldout_fraction):
    with pytest.raises(ValueError, match="heldout_fraction="):
        comp.split_combinations(10, 2, heldout_fraction, seed=0)


@pytest.mark.parametrize("input_noise", [-0.1, float("nan")])
def test_negative_or_nan_input_noise_raises_and_names_it(digits, input_noise):
    with pytest.raises(ValueError, match="input_noise="):
        comp.compositional_task(digits, 2, n_train=5, n_test=5, input_noise=input_noise, seed=0)


@pytest.mark.parametrize("name", ["n_train", "n_test"])
def test_nonpositive_set_sizes_raise_and_name_them(digits, name):
    sizes = dict(n_train=5, n_test=5) | {name: 0}
    with pytest.raises(ValueError, match=f"{name}="):
        comp.compositional_task(digits, 2, **sizes, seed=0)


def test_labels_out_of_range_raise():
    images, labels = colour_pool()
    with pytest.raises(ValueError, match=r"labels out of range \[0, 10\)"):
        comp.draw_composites(images, labels + 1, 5, 2, pixel_max=255, seed=0)
    with pytest.raises(ValueError, match="combinations out of range"):
        comp.draw_composites(images, labels, 5, 2, pixel_max=255, combinations=np.array([[0, 10]]), seed=0)
    with pytest.raises(ValueError, match="labels must be"):
        comp.draw_composites(images, labels[:-1], 5, 2, pixel_max=255, seed=0)


def test_pool_missing_a_needed_class_raises():
    images, labels = colour_pool()
    with pytest.raises(ValueError, match=r"no image of class\(es\) \[9\]"):
        comp.draw_composites(images, labels % 9, 5, 1, pixel_max=255, combinations=np.array([[9]]), seed=0)


def test_source_with_out_of_range_labels_raises(digits):
    broken = ImageSplits(name="broken", x_train=digits.x_train, y_train=digits.y_train + 5, x_test=digits.x_test,
                         y_test=digits.y_test, class_names=digits.class_names, pixel_max=16)
    with pytest.raises(ValueError, match="labels out of range"):
        comp.compositional_task(broken, 2, n_train=5, n_test=5, seed=0)


def test_unknown_dataset_and_cifar_path_without_batches_raise_and_name_them(tmp_path):
    with pytest.raises(ValueError, match="dataset='mnist'"):
        comp.load_images("mnist", seed=0)
    with pytest.raises(Cifar10NotFoundError, match="path="):
        comp.load_images("cifar10", cifar10_path=str(tmp_path), seed=0)


def test_unflatten_with_the_wrong_size_raises():
    with pytest.raises(ValueError, match="n_slots=3"):
        comp.unflatten_composites(np.zeros((2, 100)), (8, 8, 1), 3)


def test_noise_in_draw_composites_leaves_the_draw_itself_unchanged():
    images, labels = colour_pool()
    clean = comp.draw_composites(images, labels, 20, 3, pixel_max=255, seed=9)
    noisy = comp.draw_composites(images, labels, 20, 3, pixel_max=255, input_noise=0.05, seed=9)
    np.testing.assert_array_equal(noisy.source_indices, clean.source_indices)
    assert noisy.input_noise == 0.05 and 0 < np.abs(noisy.x - clean.x).mean() < 0.1
