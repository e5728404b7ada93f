# Two commands on a fresh machine (see README):
#   make demo   start a node, load real data, search it
#   make test   run the whole test suite
# Both create ./.venv and install Vektra and its test tools into it first.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test lint proto clean

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

demo: $(VENV)/.installed
	$(PY) -m vektra.cli.demo

# pytest exits 5 when it collected no tests: that is a broken suite, not a
# pass, so it is reported and turned into a failure.
test: $(VENV)/.installed
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests - failing" >&2; exit 1; fi; \
	exit $$rc

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

proto: $(VENV)/.installed
	$(PY) proto/generate.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache vektra.egg-info

# The container image vektra:dev (README, "Containers"): built without a
# registry or network in the build; reused while its inputs are unchanged.
.PHONY: image
image:
	deploy/build-image.sh
