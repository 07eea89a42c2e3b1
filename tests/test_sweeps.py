"""The resumable results store: stable keys, atomic records, resume, corruption handling."""

import dataclasses
import json

import pytest

from modcore import sweeps
from modcore.store import CorruptRecordWarning, ResultStore, config_key, default_store, resolve_store


@dataclasses.dataclass(frozen=True)
class Toy:
    seed: int
    width: int = 8
    lr: float = 1e-3


class CountingRun:
    """A run function that records every config it was called with."""

    def __init__(self, fail_at: int | None = None):
        self.calls: list[Toy] = []
        self.fail_at = fail_at

    def __call__(self, config: Toy) -> dict:
        if self.fail_at is not None and len(self.calls) == self.fail_at:
            raise RuntimeError("simulated crash mid-sweep")
        self.calls.append(config)
        return {"loss": config.seed * 0.5 + config.width, "curve": [1.0, 0.5]}


def test_key_is_stable_and_covers_every_field_and_the_type():
    assert config_key(Toy(1)) == config_key(Toy(seed=1, width=8, lr=1e-3))
    assert config_key(Toy(1)) != config_key(Toy(2))
    assert config_key(Toy(1)) != config_key(Toy(1, lr=2e-3))

    @dataclasses.dataclass(frozen=True)
    class Other:
        seed: int
        width: int = 8
        lr: float = 1e-3

    assert config_key(Toy(1)) != config_key(Other(1))


def test_key_is_a_known_value_so_it_stays_stable_across_releases():
    # Pinned: if this changes, every user's stored results would silently be recomputed.
    assert config_key({"a": 1, "b": [1, 2]}) == config_key({"b": (1, 2), "a": 1})
    assert config_key({"a": 1}) == "015abd7f5cc57a2dd94b"


def test_resume_after_crash_redoes_no_finished_run(tmp_path):
    store = ResultStore(tmp_path)
    configs = [Toy(seed) for seed in range(6)]
    crashing = CountingRun(fail_at=4)
    with pytest.raises(RuntimeError, match="simulated crash"):
        sweeps.run_sweep(crashing, configs, store, progress=False, required_keys=("loss",))
    assert len(store.keys()) == 4  # the four runs before the crash are on disk

    resumed = CountingRun()
    frame = sweeps.run_sweep(resumed, configs, store, progress=False, required_keys=("loss",))
    assert [c.seed for c in resumed.calls] == [4, 5]
    assert list(frame["seed"]) == list(range(6))
    assert list(frame["loss"]) == [s * 0.5 + 8 for s in range(6)]

    again = CountingRun()
    sweeps.run_sweep(again, configs, store, progress=False, required_keys=("loss",))
    assert again.calls == []


def test_batched_runs_group_by_key_and_respect_max_batch(tmp_path):
    store = ResultStore(tmp_path)
    configs = [Toy(seed, width=w) for w in (4, 16) for seed in range(5)]
    batches = []

    def run_batch(chunk):
        batches.append([(c.width, c.seed) for c in chunk])
        return [{"loss": float(c.seed)} for c in chunk]

    frame = sweeps.run_sweep(run_batch, configs, store, batch_by=lambda c: c.width, max_batch=2, progress=False,
                             required_keys=("loss",))
    assert all(len({w for w, _ in batch}) == 1 for batch in batches)
    assert max(len(batch) for batch in batches) == 2
    assert sorted(s for batch in batches for s in batch) == sorted((c.width, c.seed) for c in configs)
    assert list(frame["loss"]) == [float(c.seed) for c in configs]


def test_half_written_record_is_reported_and_rerun(tmp_path):
    store = ResultStore(tmp_path)
    configs = [Toy(0), Toy(1)]
    sweeps.run_sweep(CountingRun(), configs, store, progress=False, required_keys=("loss",))
    path = tmp_path / f"{config_key(Toy(1))}.json"
    path.write_text(path.read_text()[:25])  # a record cut off mid-write

    rerun = CountingRun()
    with pytest.warns(CorruptRecordWarning, match="corrupt"):
        sweeps.run_sweep(rerun, configs, store, progress=False, required_keys=("loss",))
    assert rerun.calls == [Toy(1)]
    assert (tmp_path / f"{path.name}.corrupt").exists()


def test_record_whose_config_was_edited_is_not_silently_read(tmp_path):
    store = ResultStore(tmp_path)
    store.put(Toy(3), {"loss": 1.0})
    path = tmp_path / f"{config_key(Toy(3))}.json"
    record = json.loads(path.read_text())
    record["config"]["width"] = 99
    path.write_text(json.dumps(record))
    with pytest.warns(CorruptRecordWarning, match="does not hash"):
        assert store.get(Toy(3)) is None


def test_results_that_are_not_json_are_refused_before_anything_is_written(tmp_path):
    store = ResultStore(tmp_path)
    with pytest.raises(TypeError, match="JSON"):
        store.put(Toy(0), {"loss": object()})
    assert list(tmp_path.iterdir()) == []


def test_result_keys_may_not_shadow_config_fields(tmp_path):
    store = ResultStore(tmp_path)
    with pytest.raises(ValueError, match="clash"):
        sweeps.run_sweep(lambda c: {"seed": 1}, [Toy(0)], store, progress=False, required_keys=("seed",))


def test_default_store_lives_under_the_results_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MODCORE_RESULTS", str(tmp_path))
    assert default_store("fig2").root == tmp_path / "fig2"
    assert resolve_store(None, "fig2").root == tmp_path / "fig2"
    assert resolve_store(tmp_path / "x", "fig2").root == tmp_path / "x"
    with pytest.raises(ValueError, match="experiment="):
        default_store("../escape")
