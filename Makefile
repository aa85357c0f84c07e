# `make demo` and `make test` bootstrap .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast clean

$(STAMP): setup.py requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# Trains PESRS on the built-in demo corpus (cpu preset) and prints the test metrics.
demo: $(STAMP)
	$(PY) -m stickerchat.train --model=pesrs --model_dir=runs/demo_pesrs

test: $(STAMP)
	KERAS_HOME=$$(mktemp -d) $(PY) -m pytest -q --durations=15 tests

# Skips the tests marked slow.
test-fast: $(STAMP)
	KERAS_HOME=$$(mktemp -d) $(PY) -m pytest -q -m "not slow" tests

clean:
	rm -rf $(VENV) runs build *.egg-info .pytest_cache
