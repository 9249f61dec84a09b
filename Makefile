# Two commands on a fresh clone: `make test` and `make demo`. Both set up the virtual environment first
# and are cheap when it is already up to date.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
DATA_DIR ?= $(CURDIR)/.data
DEMO_WORKDIR ?= $(CURDIR)/.demo_workdir

.PHONY: setup test test-all demo clean

$(STAMP): requirements.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "skeljax needs Python >= 3.11"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

setup: $(STAMP)

test: setup
	$(PY) -m pytest -q -m "not slow" tests

test-all: setup
	$(PY) -m pytest -q tests

demo: setup
	$(PY) -m skeljax.demo --data_dir=$(DATA_DIR) --workdir=$(DEMO_WORKDIR)

clean:
	rm -rf $(VENV) $(DATA_DIR) $(DEMO_WORKDIR)
