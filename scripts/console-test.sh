#!/usr/bin/env bash
# The console in real browsers: headless Chromium (Debian's `chromium` and
# `chromium-driver`) driven by Selenium (from PyPI, into a virtual environment when
# missing), and headless Firefox (Debian's `firefox-esr`) driven through WebDriver BiDi,
# which Firefox speaks itself (no geckodriver; Tests/console/bidi_firefox.py, over the
# websocket-client package that Selenium brings), each against a real server and real
# profiles on loopback. Missing Debian packages are installed.
# Screenshots go to $VELD_SCREENSHOTS (a new temporary folder when unset; the test prints
# it). Pass --skip-build to reuse an existing debug build.
set -euo pipefail
cd "$(dirname "$0")/.."
VELD_SETUP_PACKAGES="chromium chromium-driver firefox-esr python3-venv ${VELD_SETUP_PACKAGES:-}" source scripts/setup.sh
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
if [ "${1:-}" != "--skip-build" ]; then swift build --product veld && swift build --product veld-server; fi
source scripts/python-tool.sh
python="$(python_with selenium selenium)"
python="$(PYTHON="$python" python_with websocket websocket-client)"
export VELD_BIN_DIR="$(swift build --show-bin-path)"
export CHROMIUM="${CHROMIUM:-$(command -v chromium)}"
export CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}"
export FIREFOX="${FIREFOX:-$(command -v firefox-esr || command -v firefox)}"
timeout 900 "$python" Tests/console/test_console.py
