#!/usr/bin/env bash
# Create .venv and install mlake with the given extras (default: dev). Fast on re-runs.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
if [ ! -x .venv/bin/uv ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check uv
fi
if ! .venv/bin/uv pip install --quiet --python .venv/bin/python -e ".[${extras}]"; then
  echo "uv failed; falling back to pip" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[${extras}]"
fi
# The training-data loader's PyTorch adapter (mlake.loader.torch) and its tests need torch: a CPU build
# that pip finds on this machine's disk (uv does not see it, so torch is never resolved by uv). Dev only.
if [[ ",${extras}," == *",dev,"* ]] && ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  .venv/bin/python -m pip install torch==2.13.0
fi
# Compile every installed module to bytecode now. uv installs without it, and machines that set
# PYTHONDONTWRITEBYTECODE=1 never write it later, so each process would compile pandas, pyarrow,
# pyiceberg, SQLAlchemy ... from source again: 2.9 s before `import mlake.lake` returns instead of 0.9 s,
# in every CLI command, server and test worker. Re-runs only compile what changed. Vendored Python 2
# files in some packages do not compile; compileall reports them and goes on.
.venv/bin/python -m compileall -q -j 0 .venv/lib/python*/site-packages src >/dev/null 2>&1 || true
