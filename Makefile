# Two commands on a fresh clone: `make test` and `make demo`. Both set up the virtual environment first
# and are cheap when it is already up to date.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
DATA_DIR ?= $(CURDIR)/.data
DEMO_WORKDIR ?= $(CURDIR)/.demo_workdir
# MediaPipe's pose environment (video input; requirements-pose.txt): its own venv, run as a subprocess.
POSE_PYTHON ?= $(PYTHON)
POSE_VENV ?= .venv-pose
POSE_STAMP := $(POSE_VENV)/.requirements-installed
# pytest workers (pytest-xdist): much of the suite is XLA compiling, single-threaded, so 2 workers on 2 cores
# take 30 % less time than one; more cost memory (each holds its own JAX process).
TEST_WORKERS ?= 2
# Wheels that benchmarks/gpu_check.sh installs on a GPU machine without the package index (copy .whl/ along).
GPU_WHEELS_DIR ?= .whl
GPU_WHEELS_STAMP := $(GPU_WHEELS_DIR)/.downloaded

.PHONY: setup pose-setup test test-all demo clean gpu-wheels

$(STAMP): requirements.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "skeljax needs Python >= 3.11"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

setup: $(STAMP)

$(POSE_STAMP): requirements-pose.txt
	$(POSE_PYTHON) -c 'import sys; assert (3, 9) <= sys.version_info[:2] <= (3, 12), "the pose environment (mediapipe 0.10.21) needs Python 3.9-3.12: set POSE_PYTHON"'
	test -x $(POSE_VENV)/bin/python || $(POSE_PYTHON) -m venv $(POSE_VENV)
	$(POSE_VENV)/bin/python -m pip install --quiet --no-deps -r requirements-pose.txt
	touch $(POSE_STAMP)

pose-setup: $(POSE_STAMP)

# Pure-Python wheels for CPython 3.12 on x86-64 Linux (benchmarks/gpu_wheels.txt), whatever this machine is.
$(GPU_WHEELS_STAMP): benchmarks/gpu_wheels.txt
	mkdir -p $(GPU_WHEELS_DIR)
	rm -f $(GPU_WHEELS_DIR)/*.whl
	$(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
	  -d $(GPU_WHEELS_DIR) -r benchmarks/gpu_wheels.txt
	touch $@

gpu-wheels: $(GPU_WHEELS_STAMP)

# The tests run the video tools in the pose environment (and fail, rather than skip, without it).
test: setup pose-setup
	SKELJAX_POSE_PYTHON=$(abspath $(POSE_VENV))/bin/python $(PY) -m pytest -q -n $(TEST_WORKERS) -m "not slow" tests

test-all: setup pose-setup
	SKELJAX_POSE_PYTHON=$(abspath $(POSE_VENV))/bin/python $(PY) -m pytest -q -n $(TEST_WORKERS) tests

demo: setup
	$(PY) -m skeljax.demo --data_dir=$(DATA_DIR) --workdir=$(DEMO_WORKDIR)

clean:
	rm -rf $(VENV) $(POSE_VENV) $(DATA_DIR) $(DEMO_WORKDIR)
