"""Parameter values are checked against the rules in the profile files before any kernel
starts: one `error:` line naming notebook, parameter, value and rule, exit 2, nothing written."""

import math

import papermill
import pytest

from modcore import __main__ as cli
from modcore import paths, runner

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
constraints:
  seed: ">= 0"
  n_max: "> 0, <= 1000"
  rate: "0 < x < 1"
  sizes: "nonempty, increasing, each >= 1, each <= n_max"
  mode: "in ['fast', 'slow']"
  relations:
    - "len(sizes) < n_max"
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    (notebooks / "profiles").mkdir(parents=True)
    (notebooks / "toy.py").write_text(TOY)
    (notebooks / "profiles" / "toy.yml").write_text(TOY_PROFILES)
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", notebooks)
    monkeypatch.setattr(paths, "PROFILES_DIR", notebooks / "profiles")
    return notebooks


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
    assert line == ("error: notebook 'toy': parameter sizes = [1, 20] breaks the rule 'each <= n_max' "
                    f"(with n_max = 10) (rule from {toy / 'profiles' / 'toy.yml'})")


@pytest.mark.parametrize("overrides, fragment", [
    ({"n_max": 0}, "n_max = 0 breaks the rule '> 0'"),
    ({"n_max": 1001}, "n_max = 1001 breaks the rule '<= 1000'"),
    ({"rate": 1.0}, "rate = 1.0 breaks the rule '0 < x < 1'"),
    ({"sizes": []}, "sizes = [] breaks the rule 'nonempty'"),
    ({"sizes": [2, 1]}, "breaks the rule 'increasing'"),
    ({"sizes": [0, 1]}, "breaks the rule 'each >= 1'"),
    ({"mode": "medium"}, "mode = 'medium' breaks the rule \"in ['fast', 'slow']\""),
    ({"sizes": [1, 2, 3], "n_max": 3}, "parameters n_max = 3, sizes = [1, 2, 3] break the rule 'len(sizes) < n_max'"),
    ({"rate": math.nan}, "rate = nan is not finite"),
    ({"rate": -math.inf}, "rate = -inf is not finite"),
])
def test_each_kind_of_rule_rejects_what_it_states(toy, overrides, fragment):
    with pytest.raises(runner.RunnerError) as error:
        runner.resolve("toy", "default", overrides)
    assert fragment in str(error.value)


def test_values_inside_their_rules_pass(toy):
    assert runner.resolve("toy", "ci", {"rate": 0.25, "sizes": [1, 5, 10], "mode": "slow"})["sizes"] == [1, 5, 10]


def test_nonfinite_allowed_lifts_the_finite_default(toy):
    (toy / "profiles" / "toy.yml").write_text(TOY_PROFILES.replace('"0 < x < 1"', '"nonfinite allowed"'))
    assert runner.resolve("toy", "ci", {"rate": math.inf})["rate"] == math.inf


@pytest.mark.parametrize("rule, message", [
    ("__import__('os').system('true') == 0", "calls something other than"),
    ("x.real > 0", "uses Attribute"),
    ("x[0] > 0", "uses Subscript"),
    ("open('f')", "is not a condition"),
    ("lambda: 1", "is not a condition"),
    ("2 ** 1000 > x", "uses Pow"),
    ("> 0,", "empty clause"),
    ("> > 0", "is not a condition"),
])
def test_rules_are_parsed_not_run_and_bad_ones_name_the_file(toy, rule, message):
    (toy / "profiles" / "toy.yml").write_text(TOY_PROFILES.replace('"> 0, <= 1000"', f'"{rule}"'))
    with pytest.raises(runner.RunnerError, match="toy.yml") as error:
        runner.resolve("toy", "ci")
    assert message in str(error.value)


@pytest.mark.parametrize("replace, message", [
    (("  seed:", "  seeds:"), "constraint for unknown parameter 'seeds'"),
    (('"len(sizes) < n_max"', '"len(sizes) < n_maxx"'), "reads unknown parameter(s) n_maxx"),
    (('"0 < x < 1"', "0.5"), "must be a quoted string"),
    (('"len(sizes) < n_max"', '"x > 0"'), "only a parameter's own rule has"),
])
def test_constraints_that_do_not_match_the_notebook_are_errors(toy, replace, message):
    (toy / "profiles" / "toy.yml").write_text(TOY_PROFILES.replace(*replace))
    with pytest.raises(runner.RunnerError) as error:
        runner.resolve("toy", "ci")
    assert message in str(error.value)


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


def test_every_real_notebook_has_constraints_for_each_numeric_parameter():
    # A parameter without a rule is checked only for type and finiteness; after a rename the
    # rules must follow the names (an unknown constraint key is an error, see above).
    # Notebooks with a chapter module are covered by tests/test_parameters.py instead.
    for name in runner.notebook_names():
        if runner.parameters_class(name) is not None:
            continue
        defaults = runner.default_parameters(name)
        rules = runner.load_constraints(name, defaults).rules
        numeric = [key for key, value in defaults.items()
                   if isinstance(value, (int, float, list)) and not isinstance(value, bool)]
        assert [key for key in numeric if key not in rules] == [], name


def test_missing_notebook_packages_name_the_extra_in_one_line(monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "papermill", None)  # as if not installed
    assert cli.main(["run", "theorem1", "--profile", "ci"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "missing: papermill" in lines[0] and 'pip install -e ".[notebooks]"' in lines[0]


def test_list_shows_the_rules_under_the_table(toy, capsys):
    assert cli.main(["list", "toy"]) == 0
    out = capsys.readouterr().out
    assert "    n_max: > 0, <= 1000\n" in out and "    len(sizes) < n_max\n" in out


def test_a_rule_that_cannot_be_evaluated_counts_as_broken(toy):
    (toy / "profiles" / "toy.yml").write_text(TOY_PROFILES.replace('"nonempty, increasing, each >= 1, each <= n_max"',
                                                                   '"min(x) >= 1"'))
    with pytest.raises(runner.RunnerError, match=r"sizes = \[\] breaks the rule 'min\(x\) >= 1' \(cannot be evaluated"):
        runner.resolve("toy", "ci", {"sizes": []})
