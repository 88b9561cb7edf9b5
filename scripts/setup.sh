#!/usr/bin/env bash
# Create .venv and install grok_interp with its dev tools, on TransformerLens 3.9 (the
# default; README, Install). `--tl4` builds .venv-tl4 on TransformerLens 4.x instead.
# CPU torch goes in first, as its own step: a bare `torch` requirement would otherwise
# pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv TL="transformer-lens==3.9.*" EXTRAS="dev,ray"
if [ "${1:-}" = "--tl4" ]; then
  VENV=.venv-tl4 TL="transformer-lens>=4,<5" EXTRAS="dev"
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  { "$VENV/bin/pip" install -q "torch==2.13.0" \
    || "$VENV/bin/pip" install -q torch --index-url https://download.pytorch.org/whl/cpu; } 2>&1 \
    | grep -v "WARNING: Location" || true
fi
"$VENV/bin/pip" install -q -e ".[$EXTRAS]" "$TL" 2>&1 | grep -v "WARNING: Location" || true
# The report page's browser test drives Debian's headless Chromium (Playwright uses the
# system browser; it downloads none of its own).
if [ "$VENV" = .venv ] && ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] \
  && command -v apt-get >/dev/null; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
    >/dev/null 2>&1 || echo "setup: could not install chromium; the browser test will skip" >&2
fi
"$VENV/bin/python" -c "import grok_interp, transformer_lens" >/dev/null
