"""Sweeps on a Dask cluster: same records as in-process, worker deaths and failing configs."""

import dataclasses
import functools
import os
import pickle
import signal
import time
import uuid
from pathlib import Path

import pytest

from modcore import executors, sweeps
from modcore.store import NO_CHECK, ResultStore

distributed = pytest.importorskip("distributed")


@dataclasses.dataclass(frozen=True)
class Toy:
    seed: int
    width: int = 8


# Run functions live at module level, as the experiments' do: they then pickle by reference.

def toy_result(config: Toy) -> dict:
    return {"loss": config.seed * 0.5 + config.width, "curve": [1.0, config.seed / 3]}


def toy_batch(configs: list[Toy]) -> list[dict]:
    return [toy_result(config) for config in configs]


def counted_run(config: Toy, *, marker_dir: str, fail_seeds: tuple[int, ...] = (), die_seed: int | None = None,
                pause: float = 0.0) -> dict:
    """toy_result, leaving one marker file per completed computation.

    ``die_seed`` kills its own worker process the first time it is seen (a second marker
    records that it did), as a node lost mid-sweep would.
    """
    markers = Path(marker_dir)
    if config.seed == die_seed and not (markers / "died").exists():
        (markers / "died").touch()
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(pause)  # lets the sweep be mid-way on both workers when one dies
    if config.seed in fail_seeds:
        raise ValueError(f"bad seed {config.seed}")
    (markers / f"done-{config.seed}-{uuid.uuid4().hex}").touch()
    return toy_result(config)


def failing_batch(configs: list[Toy]) -> list[dict]:
    if any(config.seed == 2 for config in configs):
        raise ValueError("a batch holding seed 2 fails")
    return toy_batch(configs)


def computations(marker_dir: Path) -> dict[int, int]:
    counts: dict[int, int] = {}
    for path in marker_dir.glob("done-*"):
        seed = int(path.name.split("-")[1])
        counts[seed] = counts.get(seed, 0) + 1
    return counts


def records(store: ResultStore) -> list[tuple]:
    return sorted((record["key"], repr(record["config"]), repr(record["result"])) for record in store.records())


@pytest.fixture(scope="module")
def dask_executor():
    # One cluster for the module: starting worker processes costs seconds on 2 shared cores.
    cluster = executors.start_local_cluster(n_workers=2, n_gpus=0)
    with executors.DaskExecutor(cluster.scheduler_address) as executor:
        yield executor
    cluster.close()


def test_two_worker_cluster_gives_the_same_records_as_in_process(tmp_path, dask_executor):
    configs = [Toy(seed, width) for width in (4, 16) for seed in range(6)]
    for batch_by in (None, lambda config: config.width):
        run = toy_result if batch_by is None else toy_batch
        local = ResultStore(tmp_path / f"local-{batch_by is None}", create=True)
        remote = ResultStore(tmp_path / f"dask-{batch_by is None}", create=True)
        expected = sweeps.run_sweep(run, configs, local, batch_by=batch_by, max_batch=4, progress=False,
                                    executor=sweeps.InProcessExecutor(), required_keys=("loss",))
        got = sweeps.run_sweep(run, configs, remote, batch_by=batch_by, max_batch=4, progress=False,
                               executor=dask_executor, required_keys=("loss",))
        assert len(remote.keys()) == len(configs)
        assert records(remote) == records(local)
        assert got.equals(expected)


def test_killing_a_worker_mid_sweep_loses_and_repeats_no_run(tmp_path, dask_executor):
    markers = tmp_path / "markers"
    markers.mkdir()
    configs = [Toy(seed) for seed in range(12)]
    run = functools.partial(counted_run, marker_dir=str(markers), die_seed=5, pause=0.1)
    store = ResultStore(tmp_path / "store", create=True)
    frame = sweeps.run_sweep(run, configs, store, progress=False, executor=dask_executor, required_keys=("loss",))
    assert (markers / "died").exists(), "the worker was never killed, so this test checked nothing"
    assert computations(markers) == {seed: 1 for seed in range(12)}
    assert len(store.keys()) == 12
    assert list(frame["seed"]) == list(range(12))


def test_batch_rerun_after_its_worker_died_skips_the_runs_it_had_written(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    store = ResultStore(tmp_path / "store", create=True)
    store.check()
    configs = (Toy(0), Toy(1), Toy(2))
    store.put(Toy(1), toy_result(Toy(1)))  # written by the first attempt before its worker died
    run = functools.partial(counted_run, marker_dir=str(markers))
    task = sweeps.SweepTask(run, configs, store)
    assert task() == [(config, toy_result(config)) for config in (Toy(0), Toy(2))]
    assert computations(markers) == {0: 1, 2: 1}


def test_a_config_that_raises_is_reported_and_the_others_finish(tmp_path, dask_executor, capsys):
    markers = tmp_path / "markers"
    markers.mkdir()
    configs = [Toy(seed) for seed in range(6)]
    run = functools.partial(counted_run, marker_dir=str(markers), fail_seeds=(2,))
    store = ResultStore(tmp_path / "store", create=True)
    with pytest.raises(executors.SweepFailed, match="1 of 6 sweep tasks failed") as failed:
        sweeps.run_sweep(run, configs, store, progress=False, executor=dask_executor, required_keys=("loss",))
    [failure] = failed.value.failures
    assert failure.configs == (Toy(2),)
    assert "Traceback" in failure.traceback and "ValueError: bad seed 2" in failure.traceback
    assert "Toy(seed=2, width=8)" in str(failed.value)
    assert "Toy(seed=2, width=8)" in capsys.readouterr().err  # reported when it happened
    assert sorted(computations(markers)) == [0, 1, 3, 4, 5]
    assert store.get(Toy(2)) is None and len(store.keys()) == 5


def test_a_batch_that_raises_reports_each_of_its_configs(tmp_path, dask_executor):
    configs = [Toy(seed, width) for width in (4, 16) for seed in range(3)]
    store = ResultStore(tmp_path)
    with pytest.raises(executors.SweepFailed) as failed:
        sweeps.run_sweep(failing_batch, configs, store, batch_by=lambda config: config.width, progress=False,
                         executor=dask_executor, required_keys=("loss",))
    assert sorted(c.seed + 100 * c.width for failure in failed.value.failures for c in failure.configs) == \
        sorted(c.seed + 100 * c.width for c in configs)
    assert len(failed.value.failures) == 2


def test_rerun_retries_only_the_failed_configs(tmp_path, dask_executor):
    markers = tmp_path / "markers"
    markers.mkdir()
    configs = [Toy(seed) for seed in range(6)]
    store = ResultStore(tmp_path / "store", create=True)
    with pytest.raises(executors.SweepFailed):
        sweeps.run_sweep(functools.partial(counted_run, marker_dir=str(markers), fail_seeds=(1, 4)),
                         configs, store, progress=False, executor=dask_executor, required_keys=("loss",))
    first = computations(markers)
    frame = sweeps.run_sweep(functools.partial(counted_run, marker_dir=str(markers)),
                             configs, store, progress=False, executor=dask_executor, required_keys=("loss",))
    rerun = {seed: n - first.get(seed, 0) for seed, n in computations(markers).items() if n > first.get(seed, 0)}
    assert rerun == {1: 1, 4: 1}
    assert list(frame["loss"]) == [toy_result(config)["loss"] for config in configs]


class UnseenFromWorkersStore(ResultStore):
    """A store whose writes from worker processes never show up, as on a lagging network filesystem."""

    def __init__(self, root):
        super().__init__(root)
        self.parent_pid = os.getpid()

    def put(self, config, result, check=NO_CHECK):
        if os.getpid() == self.parent_pid:
            return super().put(config, result, check)
        return dict(result)


def test_records_the_parent_cannot_see_yet_are_written_again_from_the_parent(tmp_path, dask_executor):
    store = UnseenFromWorkersStore(tmp_path)
    frame = sweeps.run_sweep(toy_result, [Toy(seed) for seed in range(4)], store, progress=False,
                             executor=dask_executor, required_keys=("loss",))
    assert len(store.keys()) == 4
    assert list(frame["loss"]) == [toy_result(Toy(seed))["loss"] for seed in range(4)]


def test_in_process_sweep_still_stops_at_the_first_error(tmp_path):
    # The in-process path keeps its behaviour: the error surfaces at once, as a plain exception.
    markers = tmp_path / "markers"
    markers.mkdir()
    store = ResultStore(tmp_path / "store", create=True)
    run = functools.partial(counted_run, marker_dir=str(markers), fail_seeds=(2,))
    with pytest.raises(ValueError, match="bad seed 2"):
        sweeps.run_sweep(run, [Toy(seed) for seed in range(5)], store, progress=False,
                         executor=sweeps.InProcessExecutor(), required_keys=("loss",))
    assert sorted(computations(markers)) == [0, 1]


def test_a_task_survives_plain_pickling(tmp_path):
    store = ResultStore(tmp_path)
    task = sweeps.SweepTask(toy_batch, (Toy(0), Toy(1)), store, batched=True)
    assert pickle.loads(pickle.dumps(task))() == list(zip((Toy(0), Toy(1)), toy_batch([Toy(0), Toy(1)])))
    assert len(store.keys()) == 2


def test_a_lambda_run_reaches_the_workers_too(tmp_path, dask_executor):
    offset = 3.0
    frame = sweeps.run_sweep(lambda config: {"loss": config.seed + offset}, [Toy(0), Toy(1)],
                             ResultStore(tmp_path), progress=False, executor=dask_executor,
                             required_keys=("loss",))
    assert list(frame["loss"]) == [3.0, 4.0]


def test_batched_run_returning_too_few_results_raises_and_writes_nothing(tmp_path):
    store = ResultStore(tmp_path)
    task = sweeps.SweepTask(lambda chunk: [{"loss": 0.0}], (Toy(0), Toy(1)), store, batched=True)
    with pytest.raises(RuntimeError, match="1 results for a chunk of 2"):
        task()
    assert store.keys() == []


def test_local_workers_get_one_gpu_each_and_declare_it():
    specs = executors.local_worker_specs(n_workers=3, n_gpus=2)
    assert [spec["env"]["CUDA_VISIBLE_DEVICES"] for spec in specs.values()] == ["0", "1", "0"]
    assert all(spec["resources"] == {"GPU": 1} and spec["nthreads"] == 1 for spec in specs.values())
    cpu_only = executors.local_worker_specs(n_workers=2, n_gpus=0)
    assert all("env" not in spec and "resources" not in spec for spec in cpu_only.values())
    with pytest.raises(ValueError, match="n_workers=0"):
        executors.local_worker_specs(n_workers=0, n_gpus=0)


def visible_device_run(config: Toy) -> dict:
    time.sleep(0.2)  # long enough that both workers take tasks
    return {"device": os.environ.get("CUDA_VISIBLE_DEVICES")}


@pytest.mark.slow
def test_with_gpus_each_local_worker_runs_on_its_own_device(tmp_path, monkeypatch):
    # No GPU is needed: the runs only report the device their worker was given.
    monkeypatch.setattr(executors, "cuda_device_count", lambda: 2)
    with executors.DaskExecutor() as executor:
        frame = sweeps.run_sweep(visible_device_run, [Toy(seed) for seed in range(6)], ResultStore(tmp_path),
                                 progress=False, executor=executor, required_keys=("device",))
        assert executor._task_resources() == {"GPU": 1}
        assert len(executor.client.scheduler_info()["workers"]) == 2
    assert set(frame["device"]) == {"0", "1"}


def test_environment_chooses_the_executor():
    assert isinstance(executors.executor_from_environment({}), sweeps.InProcessExecutor)
    setting = {"MODCORE_EXECUTOR": "dask", "MODCORE_SCHEDULER": "tcp://10.0.0.1:8786"}
    executor = executors.executor_from_environment(setting)
    assert isinstance(executor, executors.DaskExecutor) and executor.address == "tcp://10.0.0.1:8786"
    assert executors.executor_from_environment(dict(setting)) is executor  # one cluster per setting
    local = executors.executor_from_environment({"MODCORE_EXECUTOR": "dask", "MODCORE_WORKERS": "3"})
    assert local.address is None and local.n_workers == 3


@pytest.mark.parametrize("environ, named", [
    ({"MODCORE_EXECUTOR": "ray"}, "MODCORE_EXECUTOR='ray'"),
    ({"MODCORE_EXECUTOR": "dask", "MODCORE_WORKERS": "0"}, "MODCORE_WORKERS='0'"),
    ({"MODCORE_EXECUTOR": "dask", "MODCORE_WORKERS": "two"}, "MODCORE_WORKERS='two'"),
    ({"MODCORE_SCHEDULER": "tcp://10.0.0.1:8786"}, "MODCORE_EXECUTOR='inprocess'"),
])
def test_bad_environment_raises_and_names_the_variable(environ, named):
    with pytest.raises(ValueError, match=named):
        executors.executor_from_environment(environ)


def worker_environment() -> dict:
    return {name: os.environ.get(name) for name in ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS")}


def test_local_workers_run_one_thread_without_the_malloc_trim_setting(dask_executor):
    # The trim setting made the numpy run of benchmarks/sweep_scaling.py about 2x slower.
    dask_executor.client.wait_for_workers(2, timeout=60)  # a worker killed above may still be restarting
    environments = dask_executor.client.run(worker_environment)
    assert list(environments.values()) == [{"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1"}] * 2


def test_slurm_example_gives_one_gpu_one_single_threaded_worker_per_job(tmp_path, monkeypatch):
    # the example's log-directory is relative: building the cluster creates it in the working directory
    monkeypatch.chdir(tmp_path)
    yaml = pytest.importorskip("yaml")
    jobqueue = pytest.importorskip("dask_jobqueue")
    import dask

    settings = yaml.safe_load((Path(__file__).parents[1] / "examples" / "slurm" / "jobqueue.yaml").read_text())
    overrides = {f"jobqueue.slurm.{name}": value for name, value in settings["jobqueue"]["slurm"].items()}
    with dask.config.set(overrides):
        # Building the cluster writes the job script and starts a scheduler here; nothing is submitted.
        cluster = jobqueue.SLURMCluster(scheduler_options={"dashboard_address": ":0"})
        try:
            script = cluster.job_script()
        finally:
            cluster.close()
    assert "#SBATCH --gres=gpu:1" in script
    assert "#SBATCH --cpus-per-task=8" in script
    assert "--nthreads 1" in script and "--nworkers" not in script  # one worker process per job
    assert settings["distributed"]["nanny"]["pre-spawn-environ"] == {"MALLOC_TRIM_THRESHOLD_": None}


def pid_run(config: Toy) -> dict:
    return {"pid": os.getpid()}


def test_a_cluster_served_for_a_command_is_used_by_sweeps_through_the_environment(tmp_path, monkeypatch):
    # What `python -m modcore run ... --executor dask` does for the notebook kernels it starts.
    with executors.serve_local_cluster(n_workers=1) as address:
        monkeypatch.setenv("MODCORE_EXECUTOR", "dask")
        monkeypatch.setenv("MODCORE_SCHEDULER", address)
        frame = sweeps.run_sweep(pid_run, [Toy(seed) for seed in range(3)], ResultStore(tmp_path),
                                 progress=False, required_keys=("pid",))
        executor = executors.executor_from_environment()
        worker_pids = set(executor.client.run(os.getpid).values())
        executor.close()
    assert executor.address == address
    assert set(frame["pid"]) == worker_pids and os.getpid() not in worker_pids
