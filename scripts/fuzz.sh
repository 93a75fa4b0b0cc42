#!/usr/bin/env bash
# Fuzzes the push body reader and the push policy with libFuzzer (fuzz/PushBodyFuzz.swift),
# built straight from VeldProtocol's sources with the toolchain's -sanitize=fuzzer,address.
#
#   bash scripts/fuzz.sh              # 60 seconds
#   bash scripts/fuzz.sh 600          # as many seconds as given
#
# The corpus grows in .build/fuzz/corpus, seeded from fuzz/corpus; a finding is written to
# .build/fuzz/ as crash-… and the script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
seconds="${1:-60}"
out=.build/fuzz
mkdir -p "$out/corpus"
cp -n fuzz/corpus/* "$out/corpus/" 2>/dev/null || true
# What SwiftPM's .embedInCode makes of the built-in modules (PackageResources), for a build
# without SwiftPM.
{
  echo "enum PackageResources {"
  for module in protocol/modules/*.json; do
    name="$(basename "$module" | tr -c 'A-Za-z0-9\n' '_')"
    printf '    static let %s: [UInt8] = [' "$name"
    od -An -v -tu1 "$module" | tr -s ' \n' ',' | sed 's/^,//; s/,$//'
    echo "]"
  done
  echo "}"
} > "$out/PackageResources.swift"
echo "fuzz: building the push fuzzer (-sanitize=fuzzer,address)" >&2
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name VeldFuzz \
  protocol/*.swift protocol/Sync/*.swift protocol/Rules/*.swift protocol/Reports/*.swift "$out/PackageResources.swift" fuzz/PushBodyFuzz.swift -o "$out/push-fuzzer" 2> "$out/build.log" \
  || { cat "$out/build.log" >&2; exit 1; }
echo "fuzz: running for ${seconds}s" >&2
"$out/push-fuzzer" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$out/" "$out/corpus" 2> "$out/run.log" || { tail -40 "$out/run.log" >&2; exit 1; }
tail -2 "$out/run.log" >&2
