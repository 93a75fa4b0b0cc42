#!/usr/bin/env bash
# The console in a real browser: headless Chromium (Debian's `chromium` and
# `chromium-driver`, installed when missing) driven by Selenium (from PyPI, into a virtual
# environment when missing), against a real server and real profiles on loopback.
# Screenshots go to $VELD_SCREENSHOTS (a new temporary folder when unset; the test prints
# it). Pass --skip-build to reuse an existing debug build.
set -euo pipefail
cd "$(dirname "$0")/.."
VELD_SETUP_PACKAGES="chromium chromium-driver python3-venv ${VELD_SETUP_PACKAGES:-}" source scripts/setup.sh
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
if [ "${1:-}" != "--skip-build" ]; then swift build --product veld && swift build --product veld-server; fi
source scripts/python-tool.sh
python="$(python_with selenium selenium)"
export VELD_BIN_DIR="$(swift build --show-bin-path)"
export CHROMIUM="${CHROMIUM:-$(command -v chromium)}"
export CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}"
timeout 600 "$python" Tests/console/test_console.py
