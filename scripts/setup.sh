#!/usr/bin/env bash
# Installs what Veld needs on a fresh Debian machine that has only the Swift toolchain:
# the SQLite and curl development packages (GRDB links the system SQLite; the client
# core's default HTTP goes through Foundation's URLSession, which uses libcurl), and openssl
# and curl, with which the tests make a throwaway CA and ask for HTTP/2. Safe to run again.
# It is sourced by the other scripts and ignores their arguments; more packages go in
# $VELD_SETUP_PACKAGES.
set -euo pipefail

if ! command -v swift >/dev/null 2>&1; then
  if [ -x /opt/swift/usr/bin/swift ]; then
    export PATH=/opt/swift/usr/bin:$PATH
  else
    echo "setup: no Swift toolchain on PATH; install Swift 6.1 or later first" >&2
    exit 1
  fi
fi

missing=()
for package in libsqlite3-dev libcurl4-openssl-dev zlib1g-dev openssl curl ca-certificates ${VELD_SETUP_PACKAGES:-}; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
