#!/usr/bin/env bash
# Installs everything the project needs into the current Python environment.
#   bash scripts/install.sh          runtime only (enough for: python main.py --game base)
#   bash scripts/install.sh --test   runtime + test requirements
# Already-installed pinned packages are skipped, so re-running is quick.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
$PY -m pip install -q -r req.txt
$PY -m pip install -q --no-deps -r req-nodeps.txt
if [[ "${1:-}" == "--test" ]]; then
  $PY -m pip install -q -r req-dev.txt
  bash scripts/install_browser.sh   # Chromium + chromedriver (Debian) for the report's browser test
fi
$PY -m pip install -q --no-deps --no-build-isolation -e . 2>/dev/null \
  || $PY -m pip install -q --no-deps -e .
