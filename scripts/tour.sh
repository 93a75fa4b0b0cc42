#!/usr/bin/env bash
# The offline CLI tour: a carer at a location with no network initialises a profile, captures a
# visit, a care plan with a goal and an advice request, lists, shows, edits and checks
# status. Runs in a temporary profile unless VELD_HOME is set. Pass --skip-build to reuse
# an existing debug build.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--skip-build" ]; then
  source scripts/setup.sh
  [ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
  swift build --product veld
fi
veld="$(swift build --show-bin-path)/veld"

if [ -z "${VELD_HOME:-}" ]; then
  VELD_HOME="$(mktemp -d)/veld"
  trap 'rm -rf "$(dirname "$VELD_HOME")"' EXIT
fi
export VELD_HOME
quiet="${VELD_TOUR_QUIET:-}"
run() {
  [ -n "$quiet" ] || printf '\n$ veld %s\n' "$*"
  if [ -n "$quiet" ]; then "$veld" "$@" >/dev/null; else "$veld" "$@"; fi
}
id_of() { "$veld" "$@" --json | sed -n 's/^  "id" : "\(.*\)",$/\1/p'; }

run init --user anna --role carer
visit=$(id_of visit add --location loc-zonnehof --kind werkbezoek --date 2026-11-20 \
  --summary "Rondgang huiskamer" \
  --observations "Bewoners zaten samen aan de koffie; twee medewerkers op de groep.")
[ -n "$quiet" ] || echo "visit: $visit"
plan=$(id_of careplan add --location loc-zonnehof --client-code ZH-0042 --law Wlz --care-start 2026-10-01)
run goal add --care-plan "$plan" --domain welzijn --goal "Dagelijks naar buiten"
printf 'De cliëntenraad wordt gevraagd te adviseren over de nieuwe dagbesteding.\nGraag voor 15 december.\n' \
  | "$veld" council add --scope org-bezinn --council "Cliëntenraad Zonnehof" --kind adviesaanvraag \
      --topic "Nieuwe dagbesteding" --response-due 2026-12-15 --body-file - >/dev/null
run visit list
run visit show "$visit" --json
run edit "$visit" summary="Rondgang huiskamer en tuin"
run show "$visit"
run list
run status
pending=$("$veld" status --json | sed -n 's/^  "pending" : \([0-9]*\).*/\1/p')
if [ "$pending" != "4" ]; then
  echo "tour: expected 4 pending records, found '$pending'" >&2
  exit 1
fi
echo "tour: ok (profile in $VELD_HOME)"
