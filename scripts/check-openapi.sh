#!/usr/bin/env bash
# Validates protocol/openapi.yaml against the OpenAPI 3.1 specification with
# openapi-spec-validator. Installs the validator from PyPI when neither its command nor
# its Python module is present (scripts/python-tool.sh). Exits non-zero, with a message
# saying why, when the document is not valid or the validator cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

spec="protocol/openapi.yaml"
if [ ! -f "$spec" ]; then
  echo "check-openapi: $spec is missing" >&2
  exit 1
fi

if ! grep -Eq '^openapi: "?3\.1\.[0-9]+' "$spec"; then
  echo "check-openapi: $spec must declare 'openapi: 3.1.x' on a line of its own" >&2
  exit 1
fi

source scripts/python-tool.sh
if command -v openapi-spec-validator >/dev/null 2>&1; then
  validator=(openapi-spec-validator)
elif python="$(python_with openapi_spec_validator openapi-spec-validator)"; then
  validator=("$python" -m openapi_spec_validator)
else
  echo "check-openapi: cannot run openapi-spec-validator" >&2
  exit 1
fi

if output="$("${validator[@]}" "$spec" 2>&1)"; then
  echo "check-openapi: $spec is a valid OpenAPI document"
else
  # The validator dumps the whole meta-schema; keep the lines that say what and where.
  summary="$(printf '%s\n' "$output" | grep -E 'Error|^Failed validating|^On instance' | cut -c1-300 || true)"
  printf '%s\n' "${summary:-$output}" >&2
  echo "check-openapi: $spec is NOT a valid OpenAPI document (full report: ${validator[*]} $spec)" >&2
  exit 1
fi
