#!/usr/bin/env bash
# Create .venv and install grok_interp with its dev tools. CPU torch goes in first, as its
# own step: a bare `torch` requirement would otherwise pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  { .venv/bin/pip install -q "torch==2.13.0" \
    || .venv/bin/pip install -q torch --index-url https://download.pytorch.org/whl/cpu; } 2>&1 \
    | grep -v "WARNING: Location" || true
fi
.venv/bin/pip install -q -e ".[dev]" 2>&1 | grep -v "WARNING: Location" || true
.venv/bin/python -c "import grok_interp, transformer_lens" >/dev/null
