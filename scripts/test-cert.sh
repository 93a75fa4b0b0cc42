#!/usr/bin/env bash
# Makes a throwaway CA and a server certificate it issued for 127.0.0.1, for tests and
# the local demo:
#
#   scripts/test-cert.sh DIR [NAME]   # DIR/ca.pem, DIR/server.pem, DIR/server.key (0600)
#
# Valid for 7 days. Never use these for a real server.
set -euo pipefail
dir=${1:?usage: test-cert.sh DIR [NAME]}
name=${2:-Veld test CA}
mkdir -p "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/ca.key" -out "$dir/ca.pem" \
  -days 7 -subj "/CN=$name" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/server.key" -out "$dir/server.csr" \
  -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n' > "$dir/server.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -set_serial "$RANDOM$RANDOM" -days 7 \
  -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
chmod 600 "$dir/server.key" "$dir/ca.key"
chmod 644 "$dir/ca.pem" "$dir/server.pem"
