#!/usr/bin/env bash
# A throwaway PostgreSQL cluster in a folder, on a free loopback port, for tests:
#
#   scripts/pg-cluster.sh init DIR      # initdb, start, create database veld; prints its URL
#   scripts/pg-cluster.sh stop DIR      # stop it (the data stays)
#   scripts/pg-cluster.sh start DIR     # start it again on the same port
#   scripts/pg-cluster.sh destroy DIR   # stop it and remove DIR
#
# It speaks TLS with a certificate for 127.0.0.1 from a throwaway CA (DIR/ca.pem), and
# takes plain connections too, so a test can use sslmode=verify-full&sslrootcert=DIR/ca.pem
# as well as sslmode=disable.
# Installs Debian's postgresql package when it is missing. Runs the cluster as the
# postgres system user when called as root (initdb refuses root).
set -euo pipefail
command=${1:?usage: pg-cluster.sh init|start|stop|destroy DIR}
dir=${2:?usage: pg-cluster.sh init|start|stop|destroy DIR}

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ "$command" = init ] && { [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; }; then
  echo "pg-cluster: installing Debian's postgresql package" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
run=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  run=(runuser -u postgres --)
fi

start() {
  local port
  port=$(cat "$dir/port")
  "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=300 -c fsync=off -c ssl=on -c ssl_cert_file=$dir/server.pem -c ssl_key_file=$dir/server.key" start \
    </dev/null >"$dir/pg_ctl.log" 2>&1  # the server must not hold the caller's pipes open
}

case "$command" in
  init)
    mkdir -p "$dir"
    chmod 755 "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    password="veld-test-$RANDOM$RANDOM"
    printf '%s\n' "$password" > "$dir/pw"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir/pw"
    "${run[@]}" "$bin/initdb" -D "$dir/data" -U veld --pwfile="$dir/pw" --auth-local=trust \
      --auth-host=scram-sha-256 -E UTF8 >"$dir/initdb.log" 2>&1 \
      || { echo "pg-cluster: initdb failed, see $dir/initdb.log" >&2; exit 1; }
    # A throwaway CA and a server certificate for 127.0.0.1 (the key readable by the
    # server's user only, as PostgreSQL demands).
    bash "$(dirname "${BASH_SOURCE[0]}")/test-cert.sh" "$dir" "Veld test PostgreSQL CA"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir/server.key" "$dir/server.pem"
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' > "$dir/port"
    start || { echo "pg-cluster: the server did not start, see $dir/server.log" >&2; exit 1; }
    "${run[@]}" "$bin/createdb" -h "$dir" -p "$(cat "$dir/port")" -U veld veld
    echo "postgres://veld:$password@127.0.0.1:$(cat "$dir/port")/veld"
    ;;
  start) start ;;
  stop) "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null ;;
  destroy)
    "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *) echo "pg-cluster: unknown command $command" >&2; exit 2 ;;
esac
