#!/usr/bin/env bash
# Installs what tests/test_report_browser.py needs: Chromium and its driver (Debian packages)
# and Selenium. Idempotent: does nothing that is already there. Needs root for apt-get.
#   bash scripts/install_browser.sh
# selenium is pinned to 4.51.0: 4.52.0 requires certifi>=2026.10.23, newer than the package
# index offers; 4.51.0 has the same API for what the test uses.
set -euo pipefail
PY=${PYTHON:-python}
export PIP_DISABLE_PIP_VERSION_CHECK=1
if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
  echo "chromium and chromedriver already installed"
else
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium chromium-driver
fi
if $PY -c "import selenium, sys; sys.exit(selenium.__version__ != '4.51.0')" 2>/dev/null; then
  echo "selenium 4.51.0 already installed"
else
  $PY -m pip install -q selenium==4.51.0
fi
