#!/usr/bin/env bash
# docker/postgres/initdb/10-warden.sh: warden's part of a new database in
# the warden/postgres image.
#
# The official image's entrypoint runs /docker-entrypoint-initdb.d/* once,
# when the data directory is empty, against a temporary server listening
# only on its Unix socket, and then starts the server for real. So the
# settings written here with ALTER SYSTEM (warden.outbox_databases needs a
# restart) take effect at that start.
#
# It creates, in POSTGRES_DB:
#   - the warden extension (warden_admin, warden_auth, ... with it);
#   - the outbox settings: POSTGRES_DB's outbox is delivered, to
#     OUTBOX_AMQP_URL (amqp://user:password@host:5672/%2f; unset: messages
#     wait in warden.outbox until warden.amqp_url is set);
#   - when EDGE_DB_PASSWORD is set: the edge's login role EDGE_DB_USER
#     (default warden_edge), a member of warden_auth and of EDGE_RPC_ROLE
#     (default web, the role /v1/rpc calls run as: the edge's WARDEN_DB_ROLE),
#     and the schema EDGE_API_SCHEMA (default api: WARDEN_API_SCHEMA) whose
#     functions /v1/rpc may call, usable by EDGE_RPC_ROLE. The login role is
#     no superuser, as README.md's RPC section advises.
# Passwords come only from the environment; none is printed or logged.
set -euo pipefail

db=${POSTGRES_DB:-${POSTGRES_USER:-postgres}}
psql=(psql -X -q --no-password -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "$db")

"${psql[@]}" -v db="$db" <<'SQL'
CREATE EXTENSION IF NOT EXISTS warden;
ALTER SYSTEM SET warden.outbox_databases = :'db';
SQL
echo "warden: extension created in database $db; its outbox is delivered"

if [ -n "${OUTBOX_AMQP_URL:-}" ]; then
  # the URL holds the broker's password: never echoed, and only superusers
  # can read warden.amqp_url
  "${psql[@]}" -v amqp_url="$OUTBOX_AMQP_URL" <<'SQL'
ALTER SYSTEM SET warden.amqp_url = :'amqp_url';
SQL
  echo "warden: warden.amqp_url set"
else
  echo "warden: OUTBOX_AMQP_URL is not set; set warden.amqp_url to deliver the outbox"
fi

if [ -n "${EDGE_DB_PASSWORD:-}" ]; then
  # An error must not print the statement, which holds the password.
  "${psql[@]}" \
    -v edge_user="${EDGE_DB_USER:-warden_edge}" \
    -v edge_password="$EDGE_DB_PASSWORD" \
    -v rpc_role="${EDGE_RPC_ROLE:-web}" \
    -v api_schema="${EDGE_API_SCHEMA:-api}" <<'SQL'
SET log_min_error_statement = panic;
\set VERBOSITY terse
CREATE ROLE :"rpc_role" NOLOGIN;
CREATE ROLE :"edge_user" LOGIN PASSWORD :'edge_password' IN ROLE warden_auth, :"rpc_role";
CREATE SCHEMA IF NOT EXISTS :"api_schema";
GRANT USAGE ON SCHEMA :"api_schema" TO :"rpc_role";
SQL
  echo "warden: edge login role ${EDGE_DB_USER:-warden_edge} created (RPC as ${EDGE_RPC_ROLE:-web}, schema ${EDGE_API_SCHEMA:-api})"
else
  echo "warden: EDGE_DB_PASSWORD is not set; no login role for the edge was created"
fi
