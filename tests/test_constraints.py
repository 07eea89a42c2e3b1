"""Parameter values are checked against the rules of the notebook's chapter Parameters before
any kernel starts: one `error:` line naming notebook, parameter, value and rule, exit 2, nothing
written. Profile files hold values only."""

import dataclasses
import math

import papermill
import pytest

from modcore import __main__ as cli
from modcore import runner
from modcore.parameters import (INCREASING, NONEMPTY, POSITIVE, SEED, ChapterParameters, Relation, Rule, at_least,
                                at_most, each, one_of, param)

TOY = '''\
# %% tags=["parameters"]
seed = 0
n_max = 100
rate = 0.5
sizes = [1, 2]
mode = "fast"

# %%
print(n_max, rate, sizes, mode)
'''

TOY_PROFILES = '''\
ci:
  n_max: 10
default: {}
paper: {}
'''


@dataclasses.dataclass(frozen=True)
class ToyParameters(ChapterParameters):
    """The toy notebook's chapter Parameters: one rule of each kind the runner reports."""

    seed: int = param(0, SEED)
    n_max: int = param(100, POSITIVE, at_most(1000))
    rate: float = param(0.5, Rule("0 < x < 1", lambda value: 0 < value < 1))
    sizes: list[int] = param([1, 2], NONEMPTY, INCREASING, each(at_least(1)))
    mode: str = param("fast", one_of("fast", "slow"))

    def relations(self):
        yield Relation(("n_max", "sizes"), "max(sizes) <= n_max", max(self.sizes) <= self.n_max)


@pytest.fixture
def toy(toy_notebook):
    return toy_notebook(TOY, TOY_PROFILES, ToyParameters)


@pytest.fixture
def no_kernel(monkeypatch):
    """Fails the test if papermill is asked to execute anything."""
    def refuse(*args, **kwargs):
        raise AssertionError("a notebook was executed although its parameters are invalid")

    monkeypatch.setattr(papermill, "execute_notebook", refuse)


def _run_rejected(argv, tmp_path, capsys) -> str:
    out = tmp_path / "executed"
    assert cli.main([*argv, "--profile", "ci", "--output-dir", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert not out.exists() or not any(out.iterdir())  # no executed notebook, not even a partial one
    return lines[0]


# Each bad value the issue reports (and the like for every notebook): the notebook, the
# parameter and the printed value must appear in the one error line.
BAD_VALUES = [
    ("theorem1", "n_train_max", "0", "0"),
    ("theorem1", "n_train_max", "-1", "-1"),
    ("theorem1", "n_trials", "0", "0"),
    ("theorem1", "mc_n_features", "0", "0"),
    ("theorem1", "output_dim", "0", "0"),
    ("theorem1", "spectrum_scale", "1e999", "inf"),
    ("theorem1", "n_params_max", "5000", "5000"),    # more features than the Monte-Carlo target has
    ("theorem1", "omega", "1.0", "1.0"),
    ("theorem1", "label_noise", "-0.1", "-0.1"),
    ("theorem2", "n_modules", "0", "0"),
    ("theorem2", "input_dim_values", "[]", "[]"),
    ("theorem2", "module_dim", "3", "3"),            # more than min(input_dim_values) = 2
    ("theorem2", "n_trials", "1", "1"),
    ("theorem2", "n_mc_points", "0", "0"),
    ("theorem2", "spectrum_scale", "1e999", "inf"),
    ("dimension_scaling", "input_dim_values", "[]", "[]"),
    ("dimension_scaling", "input_dim_values", "[2, 10]", "[2, 10]"),  # Fig. 3 was digitised for m = 2..9 only
    ("dimension_scaling", "n_params_values", "[0]", "[0]"),
    ("dimension_scaling", "spectrum_scale", "1e999", "inf"),
    ("sine_task", "n_samples", "0", "0"),
    ("sine_task", "n_modules", "0", "0"),
    ("sine_task", "n_modules_values", "[]", "[]"),
    ("nn_vs_theory", "n_train_values", "[]", "[]"),
    ("nn_vs_theory", "n_seeds", "0", "0"),
    ("nn_vs_theory", "input_dim_values", "[]", "[]"),
    ("nn_vs_theory", "lr", "0.0", "0.0"),
    ("nn_vs_theory", "lr", "1e999", "inf"),
    ("nn_vs_theory", "n_steps", "-1", "-1"),           # 0 means the calibrated budget
    ("optimisation_gap", "lr", "0.0", "0.0"),
    ("optimisation_gap", "n_train_values", "[]", "[]"),
    ("optimisation_gap", "n_seeds", "0", "0"),
    ("essay_modularity", "alpha", "2.0", "2.0"),
    ("essay_modularity", "n_seeds", "0", "0"),
    ("essay_modularity", "tasks", "[]", "[]"),
    ("essay_modularity", "tasks", "['retina', 'faces']", "'faces'"),
    ("essay_modularity", "dropout_values", "[1.0]", "[1.0]"),
    ("essay_modularity", "n_louvain_shuffles", "500", "500"),
]


@pytest.mark.parametrize("notebook, parameter, text, shown", BAD_VALUES,
                         ids=[f"{n}-{p}={t}" for n, p, t, _ in BAD_VALUES])
def test_bad_value_fails_in_one_line_naming_notebook_parameter_and_value_before_any_kernel(
        notebook, parameter, text, shown, tmp_path, capsys, no_kernel):
    line = _run_rejected(["run", notebook, "-p", parameter, text], tmp_path, capsys)
    assert f"notebook {notebook!r}" in line
    assert parameter in line and shown in line
    assert "rule" in line or "not finite" in line


def test_run_all_checks_every_notebook_before_running_any(tmp_path, capsys, no_kernel):
    line = _run_rejected(["run", "all", "-p", "lr", "0.0"], tmp_path, capsys)
    assert "lr = 0.0" in line and "'> 0'" in line


def test_rule_names_the_rule_and_the_other_parameters_it_reads(toy, tmp_path, capsys, no_kernel):
    line = _run_rejected(["run", "toy", "-p", "sizes", "[1, 20]"], tmp_path, capsys)
    assert line == "error: notebook 'toy': parameters n_max = 10, sizes = [1, 20] break the rule 'max(sizes) <= n_max'"


@pytest.mark.parametrize("overrides, fragment", [
    ({"n_max": 0}, "parameter n_max = 0 breaks the rule '> 0'"),
    ({"rate": 1.0}, "parameter rate = 1.0 breaks the rule '0 < x < 1'"),
    ({"sizes": [1, 2, 3], "n_max": 2}, "parameters n_max = 2, sizes = [1, 2, 3] break the rule 'max(sizes) <= n_max'"),
    ({"rate": math.nan}, "parameter rate = nan is not finite"),
])
def test_a_broken_rule_is_refused_naming_the_notebook(toy, overrides, fragment):
    with pytest.raises(runner.RunnerError) as error:
        runner.resolve("toy", "default", overrides)
    assert str(error.value) == f"notebook 'toy': {fragment}"


def test_values_inside_their_rules_pass(toy):
    assert runner.resolve("toy", "ci", {"rate": 0.25, "sizes": [1, 5, 10], "mode": "slow"})["sizes"] == [1, 5, 10]


@pytest.mark.parametrize("command", ["run", "list"])
def test_a_notebook_without_a_chapter_module_is_refused_in_one_line(command, toy_notebook, tmp_path, capsys,
                                                                   no_kernel):
    toy_notebook(TOY, TOY_PROFILES, None)
    if command == "run":
        line = _run_rejected(["run", "toy"], tmp_path, capsys)
    else:
        assert cli.main(["list", "toy"]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == "error: notebook 'toy' has no chapter module modcore/chapters/toy.py with a Parameters class"


def test_a_profile_file_with_a_constraints_section_is_refused_naming_the_file(toy, tmp_path, capsys, no_kernel):
    profile_file = toy / "profiles" / "toy.yml"
    profile_file.write_text(TOY_PROFILES + "constraints:\n  n_max: '> 0'\n")
    line = _run_rejected(["run", "toy"], tmp_path, capsys)
    assert line.startswith(f"error: {profile_file}: profiles hold values only; its 'constraints' section is no longer "
                           f"read") and "modcore/chapters/toy.py" in line


def test_yaml_error_names_the_file_and_line_in_one_line(toy, tmp_path, capsys, no_kernel):
    (toy / "profiles" / "toy.yml").write_text("ci:\n  n_max: [10\ndefault: {}\npaper: {}\n")
    line = _run_rejected(["run", "toy"], tmp_path, capsys)
    assert "toy.yml line" in line and "not valid YAML" in line


def test_yaml_nan_in_a_profile_is_rejected(toy):
    (toy / "profiles" / "toy.yml").write_text(TOY_PROFILES.replace("n_max: 10", "rate: .nan"))
    with pytest.raises(runner.RunnerError, match="rate = nan is not finite"):
        runner.resolve("toy", "ci")


@pytest.mark.parametrize("text, value", [("1e-3", 1e-3), ("2E-1", 0.2), ("5e-1", 0.5), ("0.25", 0.25), ("1.5e-1", 0.15)])
def test_yaml_exponent_without_a_dot_is_a_float(toy, text, value):
    (toy / "profiles" / "toy.yml").write_text(TOY_PROFILES.replace("n_max: 10", f"rate: {text}"))
    resolved = runner.resolve("toy", "ci")["rate"]
    assert isinstance(resolved, float) and resolved == value


def test_yaml_integers_and_strings_keep_their_types(toy):
    (toy / "profiles" / "toy.yml").write_text(TOY_PROFILES.replace("n_max: 10", "n_max: 1_000\n  mode: slow"))
    assert runner.resolve("toy", "ci") == {"n_max": 1000, "mode": "slow"}


def test_missing_notebook_packages_name_the_extra_in_one_line(monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "papermill", None)  # as if not installed
    assert cli.main(["run", "theorem1", "--profile", "ci"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "missing: papermill" in lines[0] and 'pip install -e ".[notebooks]"' in lines[0]


def test_list_shows_each_parameters_rule_from_the_chapter_under_the_table(toy, capsys):
    assert cli.main(["list", "toy"]) == 0
    out = capsys.readouterr().out
    assert "  rules (from modcore/chapters/toy.py; every number must also be finite):\n" in out
    assert "    n_max: > 0; <= 1000\n" in out and "    max(sizes) <= n_max\n" in out


def test_list_of_a_page_without_parameters_shows_no_rules_heading(capsys):
    assert cli.main(["list", "choices"]) == 0
    assert capsys.readouterr().out == "choices\n  no parameters\n"
