#!/usr/bin/env bash
# Veld's benchmarks (see BENCHMARKS.md). Builds veld-bench and veld-server in release
# into .build-bench, then runs every scenario:
#
#   bash scripts/bench.sh           # default sizes: a few minutes on 2 cores; rewrites the
#                                   # "default" figures in BENCHMARKS.md
#   bash scripts/bench.sh --full    # the issue's sizes (100k records, 500 devices, ...);
#                                   # rewrites the "full" figures
#   bash scripts/bench.sh --smoke   # seconds, one repetition: checks that every scenario
#                                   # runs end to end (CI); exits non-zero on any error
#   --debug                         # use the debug build in .build (what the tests built);
#                                   # for --smoke in CI, where speed is not the question
#
# Extra arguments go to `veld-bench run` (e.g. --only sync,merge, --load-seconds 10).
# Results also land in .build-bench/bench-<size>.json. Set VELD_BENCH_NO_POSTGRES=1 to
# skip the PostgreSQL rows.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH

size=default
configuration=release
args=()
for arg in "$@"; do
  case "$arg" in
    --smoke) size=smoke ;;
    --full) size=full ;;
    --debug) configuration=debug ;;
    *) args+=("$arg") ;;
  esac
done

scratch=.build-bench
[ "$configuration" = debug ] && scratch=.build
mkdir -p .build-bench
echo "bench: building veld-bench and veld-server ($configuration, --scratch-path $scratch)" >&2
swift build -c "$configuration" --scratch-path "$scratch" --product veld-server >&2
swift build -c "$configuration" --scratch-path "$scratch" --product veld-bench >&2
bin=$(swift build -c "$configuration" --scratch-path "$scratch" --show-bin-path)

# pycrdt for the merge comparison, in a venv beside the build. Without PyPI or python3-venv
# the comparison is reported as skipped, not failed.
python=""
venv=".build-bench/venv"
if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null 2>&1 || true
      python3 -m venv "$venv" >/dev/null 2>&1 || rm -rf "$venv"
    fi
  fi
fi
if [ -x "$venv/bin/python" ]; then
  "$venv/bin/python" -c 'import pycrdt' 2>/dev/null \
    || "$venv/bin/pip" install -q pycrdt >&2 \
    || echo "bench: could not install pycrdt from PyPI; the pycrdt column is skipped" >&2
  "$venv/bin/python" -c 'import pycrdt' 2>/dev/null && python="$PWD/$venv/bin/python"
fi

run=("$bin/veld-bench" run --size "$size" --json ".build-bench/bench-$size.json")
[ "$size" != smoke ] && [ "$configuration" = release ] && run+=(--markdown BENCHMARKS.md)
VELD_BENCH_PYTHON="$python" "${run[@]}" ${args[@]+"${args[@]}"}
