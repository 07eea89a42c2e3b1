# `make book`: install, execute every notebook at PROFILE (default: default), render the book.
# `make test`: install, then the whole test suite (unit tests + notebooks at the ci profile + the
#   book built from them, opened in headless Chromium: `apt-get install chromium` first, as .ci/run does).
# `make browser`: only the browser test (it executes the notebooks at ci itself, then builds the book).
PYTHON  ?= python3
PROFILE ?= default
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed

.PHONY: install book notebooks html test browser bench clean

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

bench: $(STAMP)
	for script in benchmarks/*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf _build book/_executed
