#!/usr/bin/env bash
# Builds and runs the Veld sync server on its embedded SQLite: 127.0.0.1:8080, database in
# ./veld-data. Extra arguments go to `veld-server serve` (e.g. --port 9090, --db PATH).
# Stop it with Ctrl-C: requests in flight finish first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
swift build --product veld-server
exec "$(swift build --show-bin-path)/veld-server" serve "$@"
