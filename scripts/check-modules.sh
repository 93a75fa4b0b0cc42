#!/usr/bin/env bash
# Validates every module in protocol/modules/ (released versions too) and examples/modules/ against protocol/module.schema.json (JSON
# Schema 2020-12) with Python's jsonschema, and shows the schema refuses what it must: a
# few broken copies of the first module are checked too and must fail. Installs jsonschema
# from PyPI when it is missing (scripts/python-tool.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python-tool.sh
python="$(python_with jsonschema jsonschema)" || { echo "check-modules: no jsonschema" >&2; exit 1; }

"$python" - <<'PY'
import copy, glob, json, sys
from jsonschema import Draft202012Validator

schema = json.load(open("protocol/module.schema.json"))
Draft202012Validator.check_schema(schema)
validator = Draft202012Validator(schema)
modules = sorted(glob.glob("protocol/modules/*.json")) + sorted(glob.glob("protocol/modules/released/*.json")) + sorted(glob.glob("examples/modules/*.json"))
if not modules:
    sys.exit("check-modules: no modules in protocol/modules")
failed = False
for path in modules:
    errors = sorted(validator.iter_errors(json.load(open(path))), key=lambda e: list(e.path))
    for error in errors[:10]:
        print(f"check-modules: {path}: {'/'.join(map(str, error.path)) or '(top)'}: {error.message[:200]}", file=sys.stderr)
    failed |= bool(errors)
    if not errors:
        print(f"check-modules: {path} is a valid module")

first = json.load(open(modules[0]))
def broken(change):
    module = copy.deepcopy(first)
    change(module)
    return module
breakages = {
    "an unknown key": lambda m: m["types"][0]["fields"][0].update(requried=True),
    "a field named deleted": lambda m: m["types"][0]["fields"][0].update(name="deleted"),
    "an unknown kind": lambda m: m["types"][0]["fields"][0].update(kind="number"),
    "a choice without values": lambda m: next(f for f in m["types"][0]["fields"] if f["kind"] == "choice").pop("values"),
    "an unknown role": lambda m: m["types"][0]["fields"][0].update(writers=["purchaser"]),
    "a two-line summary": lambda m: m["types"][0].update(summary="twee\nregels"),
    "version 0": lambda m: m.update(version=0),
    "a report column holding two things": lambda m: m["reports"][0]["sections"][0]["columns"][0].update(count=True),
    "a report without a source": lambda m: m["reports"][0].pop("source"),
    "a misspelt section key": lambda m: m["reports"][0]["sections"][0].update(gropuBy="status"),
}
for name, change in breakages.items():
    if validator.is_valid(broken(change)):
        print(f"check-modules: the schema accepts a module with {name}", file=sys.stderr)
        failed = True
if failed:
    sys.exit(1)
print(f"check-modules: the schema refuses all {len(breakages)} broken copies")
PY
