#!/usr/bin/env bash
# Runs Veld's whole test suite on a fresh Debian machine with the Swift toolchain:
# installs what is missing, builds, starts a throwaway PostgreSQL cluster on loopback, runs
# every test, then the CLI tour, the console in a browser, the OpenAPI and module checks, 30 seconds of fuzzing and a smoke run
# of the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH

swift build --build-tests
# A throwaway PostgreSQL cluster for the PostgreSQL tests (installed when missing).
source scripts/postgres.sh
# The suite, then the tests that time a live server's own deadlines (idle connections,
# trickled bodies), alone: among 300 other tests on 2 cores, a blocked worker thread can
# hold a deadline back by seconds, and their bounds would measure the machine.
swift test --skip-build --skip HTTPFramingTests
swift test --skip-build --filter HTTPFramingTests
VELD_TOUR_QUIET=1 bash scripts/tour.sh --skip-build
# scripts/serve.sh with serve's own flags, plain and with TLS.
bash scripts/check-serve.sh
# The console in headless Chromium (installed when missing), through the binaries.
bash scripts/console-test.sh --skip-build
bash scripts/check-openapi.sh
# Every module against protocol/module.schema.json (JSON Schema), and the schema refuses broken ones.
bash scripts/check-modules.sh
# The push body reader and the push policy under libFuzzer, briefly (bash scripts/fuzz.sh 600 for longer).
bash scripts/fuzz.sh 30
# The benchmark harness runs end to end (tiny sizes, debug build: whether it works, not how fast).
bash scripts/bench.sh --smoke --debug
