#!/usr/bin/env bash
# Validates protocol/openapi.yaml against the OpenAPI 3.1 specification with
# openapi-spec-validator. Installs the validator from PyPI when neither its command nor
# its Python module is present: with pip as usual, on Debian's externally managed Python
# with --break-system-packages, and failing that in a virtual environment under a
# temporary folder. Exits non-zero, with a message saying why, when the document is not
# valid or the validator cannot be installed.
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

python="${PYTHON:-python3}"
validator=()

find_validator() {
  if command -v openapi-spec-validator >/dev/null 2>&1; then
    validator=(openapi-spec-validator)
  elif command -v "$python" >/dev/null 2>&1 && "$python" -c 'import openapi_spec_validator' >/dev/null 2>&1; then
    validator=("$python" -m openapi_spec_validator)
  else
    return 1
  fi
}

if ! find_validator; then
  if ! command -v "$python" >/dev/null 2>&1; then
    echo "check-openapi: $python not found; install Python 3 (apt-get install python3 python3-venv)" >&2
    exit 1
  fi
  echo "check-openapi: installing openapi-spec-validator from PyPI" >&2
  if "$python" -m pip install --quiet openapi-spec-validator >/dev/null 2>&1 ||
     "$python" -m pip install --quiet --break-system-packages openapi-spec-validator >/dev/null 2>&1; then
    hash -r
    if ! find_validator; then
      echo "check-openapi: pip installed openapi-spec-validator, but $python cannot import it" >&2
      exit 1
    fi
  else
    venv="$(mktemp -d)/venv"
    trap 'rm -rf "$(dirname "$venv")"' EXIT
    if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
      echo "check-openapi: cannot install openapi-spec-validator: pip refused and $python -m venv failed" >&2
      echo "check-openapi: install python3-venv (apt-get install python3-venv) or run: $python -m pip install openapi-spec-validator" >&2
      exit 1
    fi
    if ! "$venv/bin/python" -m pip install --quiet openapi-spec-validator; then
      echo "check-openapi: cannot install openapi-spec-validator from PyPI into $venv" >&2
      exit 1
    fi
    validator=("$venv/bin/python" -m openapi_spec_validator)
  fi
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
