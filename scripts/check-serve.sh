#!/usr/bin/env bash
# Checks that scripts/serve.sh passes its arguments to `veld-server serve`: once plain HTTP
# on loopback, once HTTPS with a certificate from a throwaway CA; each answers /v1/health.
# Needs veld-server built (the test command builds it first).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

bash scripts/test-cert.sh "$work" "Veld check CA"

serve() {  # serve NAME ARGS...: starts serve.sh, waits for its address, asks /v1/health
  local name=$1; shift
  VELD_SKIP_BUILD=1 bash scripts/serve.sh --port 0 --metrics-address 127.0.0.1:0 --db "$work/$name.sqlite" "$@" > "$work/$name.out" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    grep -q "listening on" "$work/$name.out" && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/$name.out" >&2; echo "check-serve: serve.sh $* exited" >&2; exit 1; }
    sleep 0.1
  done
  local url
  url=$(grep 'listening on' "$work/$name.out" | grep -o 'https\?://127\.0\.0\.1:[0-9]*' | head -1)
  [ -n "$url" ] || { cat "$work/$name.out" >&2; echo "check-serve: no address from serve.sh $*" >&2; exit 1; }
  curl -fsS --max-time 10 --cacert "$work/ca.pem" "$url/v1/health" > /dev/null
  # Its metrics, on their own loopback address (given as 127.0.0.1:0 below: a free port).
  local metrics=""
  for _ in $(seq 1 50); do
    metrics=$(grep -o 'http://127\.0\.0\.1:[0-9]*/metrics' "$work/$name.out" | head -1)
    [ -n "$metrics" ] && break
    sleep 0.1
  done
  [ -n "$metrics" ] || { cat "$work/$name.out" >&2; echo "check-serve: no metrics address from serve.sh $*" >&2; exit 1; }
  curl -fsS --max-time 10 "$metrics" | grep -q '^veld_http_requests_total' \
    || { echo "check-serve: $metrics does not count requests" >&2; exit 1; }
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  echo "check-serve: serve.sh ($name) answered on $url"
}

serve plain
serve tls --tls-cert "$work/server.pem" --tls-key "$work/server.key"
