# `make book`: install, execute every notebook at PROFILE (default: default), render the book.
# `make test`: install, then the whole test suite (unit tests + notebooks at the ci profile + the
#   book built from them, opened in headless Chromium: `apt-get install chromium` first, as .ci/run does).
# `make browser`: only the browser test (it executes the notebooks at ci itself, then builds the book).
# `make gpu-check`: on a machine with a CUDA GPU, the CUDA tests, benchmarks/ensemble.py on CUDA and
#   every notebook with a `device` parameter at ci on CUDA, timed, into benchmarks/gpu_check.json
#   (about 8-9 min on one H100; GPU_CHECK_ARGS=--skip-notebooks leaves the notebooks out). Without
#   CUDA it stops at once. PY=python3 uses a Python that already has a CUDA torch instead of the venv.
PYTHON  ?= python3
PROFILE ?= default
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed

.PHONY: install book notebooks html test browser bench gpu-check clean

install: $(STAMP)

# The pip list of environment.yml is the single source of pins (conda users read the same file).
$(STAMP): environment.yml pyproject.toml
	$(PYTHON) -m venv $(VENV)
	awk '/- pip:/{f=1;next} f&&/^ *- /{sub(/^ *- /,"");sub(/ *#.*/,"");print}' environment.yml > $(VENV)/requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check -r $(VENV)/requirements.txt
	touch $@

notebooks: $(STAMP)
	$(PY) -m modcore run all --profile $(PROFILE)

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
