#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the tests and stops it when the calling shell
# exits. Source it:
#
#   source scripts/postgres.sh     # sets VELD_TEST_POSTGRES_URL (and VELD_TEST_POSTGRES_CA,
#                                  # the CA of the cluster's TLS certificate)
#
# If PostgreSQL cannot be installed or started, VELD_TEST_POSTGRES_URL stays unset and
# the PostgreSQL tests skip, saying why.
VELD_PG_DIR=$(mktemp -d /tmp/veld-pg.XXXXXX)
chmod 755 "$VELD_PG_DIR"  # the cluster runs as the postgres user, who must get through
if VELD_TEST_POSTGRES_URL=$(bash "$(dirname "${BASH_SOURCE[0]}")/pg-cluster.sh" init "$VELD_PG_DIR/cluster"); then
  export VELD_TEST_POSTGRES_URL
  export VELD_TEST_POSTGRES_CA="$VELD_PG_DIR/cluster/ca.pem"
  echo "postgres: throwaway cluster at ${VELD_TEST_POSTGRES_URL##*@}"
else
  unset VELD_TEST_POSTGRES_URL
  echo "postgres: could not start a PostgreSQL cluster; the PostgreSQL tests will be skipped" >&2
fi
veld_pg_cleanup() { bash "$(dirname "${BASH_SOURCE[0]}")/pg-cluster.sh" destroy "$VELD_PG_DIR/cluster" 2>/dev/null; rm -rf "$VELD_PG_DIR"; }
trap veld_pg_cleanup EXIT
