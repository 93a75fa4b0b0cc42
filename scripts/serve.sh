#!/usr/bin/env bash
# Builds and runs the Veld sync server on its embedded SQLite: plain HTTP on 127.0.0.1:8080
# (loopback only), database in ./veld-data. Arguments go to `veld-server serve`: --port 9090,
# --db PATH, --tls-cert cert.pem --tls-key key.pem for HTTPS on another address (--host).
# Stop it with Ctrl-C: requests in flight finish first. VELD_SKIP_BUILD=1 uses the binary
# already built.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
[ "${VELD_SKIP_BUILD:-0}" = 1 ] || swift build --product veld-server
exec "$(swift build --show-bin-path)/veld-server" serve "$@"
