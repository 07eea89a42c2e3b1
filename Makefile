# `make install`: .venv with exactly the packages of requirements.lock; `make lock` refreshes it.
# `make book`: install, execute every notebook at PROFILE (default: default), render the book.
# `make test`: install, then the whole test suite (unit tests + notebooks at the ci profile + the
#   book built from them, opened in headless Chromium: `apt-get install chromium` first, as .ci/run does).
# `make browser`: only the browser test (it executes the notebooks at ci itself, then builds the book).
# `make gpu-check`: on a machine with a CUDA GPU, the CUDA tests, benchmarks/ensemble.py on CUDA and
#   the gpu profile (run all --profile gpu), timed per notebook, into benchmarks/gpu_check.json
#   (about 15-17 min on one H100, of which at most 8 for the gpu profile, sized by a model, not
#   measured; GPU_CHECK_ARGS=--skip-notebooks leaves the profile out). Without CUDA it stops at
#   once. PY=python3 uses a Python that already has a CUDA torch instead of the venv.
PYTHON  ?= python3
PROFILE ?= default
# notebooks executed at once by `make notebooks`/`make book` (each its own kernel); 2 fits the
# project's 2-core machine: the essay and the small sine nets train single-threaded
JOBS    ?= 2
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed

.PHONY: install lock book notebooks html test browser bench gpu-check clean

install: $(STAMP)

# requirements.lock holds every package of the environment at its exact version, with the
# hash of its file: `make install` installs exactly that (nothing else: --no-deps), then
# modcore itself, editable. environment.yml holds the readable pins it is resolved from
# (conda users read it). After changing environment.yml or pyproject's dependencies, run
# `make lock` and commit both files (tests/test_repository.py checks that they agree).
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $@

# Resolve environment.yml + pyproject.toml again and rewrite requirements.lock (tools/lock.py).
lock:
	$(PYTHON) tools/lock.py

notebooks: $(STAMP)
	$(PY) -m modcore run all --profile $(PROFILE) --jobs $(JOBS)

html: $(STAMP)
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

book: notebooks html
	@echo "Open _build/html/index.html in a browser."

# pytest exits 5 when it collects nothing: that is a failure here, not a pass.
test: $(STAMP)
	$(PY) -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

browser: $(STAMP)
	$(PY) -m pytest tests/test_browser.py

# gpu_check.py is not a CPU benchmark: it needs CUDA (make gpu-check)
bench: $(STAMP)
	for script in $(filter-out benchmarks/gpu_check.py,$(wildcard benchmarks/*.py)); do $(PY) $$script || exit 1; done

gpu-check: $(if $(filter $(VENV)/bin/python,$(PY)),$(STAMP))
	$(PY) benchmarks/gpu_check.py $(GPU_CHECK_ARGS)

clean:
	rm -rf _build book/_executed
