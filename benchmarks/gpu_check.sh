#!/usr/bin/env bash
# GPU check: skeljax (JAX) against MMAction2 1.2.0 (PyTorch eager) on the same GPU, in one command (< 8 min).
#
#   make gpu-wheels                          # on a machine with the package index: fills .whl/
#   bash benchmarks/gpu_check.sh             # on the GPU machine, from a copy of the tree with .whl/
#   bash benchmarks/gpu_check.sh --smoke     # CPU smoke run (tiny models; tests/test_gpu_check.py)
#
# Installs the wheels of .whl/ (if any) into $GPU_CHECK_SITE (default /tmp/site) and puts them on PYTHONPATH,
# makes mmaction2 1.2.0's import of a module its wheel lacks optional there, prints the GPU (nvidia-smi), then
# runs benchmarks/gpu_check.py under a hard time limit; it prints JAX's device and each result as it comes.
# Other arguments go to gpu_check.py (--models, --budget_s, --large_batch, ...). Results: gpu_check.json,
# gpu_check.md, gpu_check.log in the output folder, $OUT if set, else ./gpu_check_out. PYTHON picks the
# interpreter (default python3).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
PYTHON="${PYTHON:-python3}"
OUT_DIR="${OUT:-$PWD/gpu_check_out}"
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1

if compgen -G '.whl/*.whl' >/dev/null; then
  SITE="${GPU_CHECK_SITE:-/tmp/site}"
  echo "# installing $(ls .whl/*.whl | wc -l) wheels from .whl/ into $SITE"
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
    .whl/*.whl || { echo "wheel install failed" >&2; exit 1; }
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
  if [ -d "$SITE/mmaction" ]; then
    "$PYTHON" -m benchmarks.torch_reference_bench --patch_installed_mmaction "$SITE" || exit 1
  fi
fi

if command -v nvidia-smi >/dev/null; then
  nvidia-smi -L
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader
fi

# The driver keeps to --budget_s (default 420 s, smoke 300 s) and writes its JSON after each model; this
# limit only catches a hang.
BUDGET_S=420
args=("$@")
for i in "${!args[@]}"; do
  case "${args[$i]}" in
    --smoke) [ "$BUDGET_S" = 420 ] && BUDGET_S=300 ;;
    --budget_s=*) BUDGET_S="${args[$i]#--budget_s=}" ;;
    --budget_s) BUDGET_S="${args[$((i + 1))]:-$BUDGET_S}" ;;
  esac
done
timeout --kill-after=10 "$(( ${BUDGET_S%.*} + 40 ))" "$PYTHON" -m benchmarks.gpu_check --out_dir "$OUT_DIR" "$@"
status=$?
[ "$status" -eq 124 ] && echo "gpu_check: stopped by the hard time limit; $OUT_DIR/gpu_check.json holds the models finished" >&2
exit "$status"
