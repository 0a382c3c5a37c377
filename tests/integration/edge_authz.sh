#!/usr/bin/env bash
# tests/integration/edge_authz.sh: /v1/authz, forward authorization, on the
# real edge: driven with curl in the header dialects of nginx
# (X-Original-*) and Traefik (X-Forwarded-*), and through a real nginx with
# auth_request in front of a backend. Bearer tokens and API keys, the route
# table, grants and their revocation, and the RFC 6750 answers.
. "$WARDEN_ROOT/tests/lib.sh"

DB=warden_it_authz
PORT=$((WARDEN_TEST_PORT_BASE + 3))
NGINX_PORT=$((WARDEN_TEST_PORT_BASE + 4))
URL=http://127.0.0.1:$PORT/v1/authz
PW='long enough password'
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

dropdb --if-exists "$DB" >/dev/null 2>&1
createdb "$DB"
q "CREATE EXTENSION warden" >/dev/null
q "ALTER DATABASE $DB SET warden.password_cost = 4" >/dev/null
# a route whose paths make decision keys longer than a request keeps in place
LONG_PREFIX=archive$(for i in $(seq 30); do printf '/segment%02d' "$i"; done)
q "SELECT warden.create_user('alice', '$PW', 'acme'), warden.create_user('bob', '$PW'),
          warden.create_service_account('indexer'),
          warden.create_role('reader'), warden.add_permission('reader', 'document:read'),
          warden.grant('alice', 'reader'), warden.grant('indexer', 'reader'),
          warden.add_route('GET', '/documents/{id}', 'document:read', 'document:{id}'),
          warden.add_route('DELETE', '/documents/{id}', 'document:delete', 'document:{id}'),
          warden.add_route('GET', '/$LONG_PREFIX/{id}', 'document:read', 'document:{id}')" >/dev/null
alice=$(q "SELECT access_token FROM warden.login('alice', '$PW')")
bob=$(q "SELECT access_token FROM warden.login('bob', '$PW')")
KEY=$(q "SELECT warden.create_api_key('indexer', '{document:read}')")
NARROW=$(q "SELECT warden.create_api_key('indexer', '{invoice:read}')")

edge_start authz "$PORT" "WARDEN_DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/$DB" || true

ask() { # ask CREDENTIAL-HEADER METHOD URI: nginx's dialect
  http GET "$URL" ${1:+-H "$1"} -H "X-Original-Method: $2" -H "X-Original-URI: $3"
}

ask "Authorization: Bearer $alice" GET /documents/42
t_eq "a granted request: 200" 200 "$HTTP_STATUS"
t_eq "naming the subject" alice "$(header X-Warden-Subject)"
t_eq "the tenant" acme "$(header X-Warden-Tenant)"
t_eq "and the roles" reader "$(header X-Warden-Roles)"
ask "Authorization: Bearer $alice" GET '/documents/42?fields=title'
t_eq "the query string does not change the route" 200 "$HTTP_STATUS"
http GET "$URL" -H "Authorization: Bearer $alice" -H "X-Forwarded-Method: GET" -H "X-Forwarded-Uri: /documents/7"
t_eq "Traefik's X-Forwarded-* headers work the same" "200 alice" "$HTTP_STATUS $(header X-Warden-Subject)"
ask "Authorization: Bearer $alice" DELETE /documents/42
t_eq "a permission alice lacks: 403" 403 "$HTTP_STATUS"
ask "Authorization: Bearer $bob" GET /documents/42
t_eq "a user without the grant: 403" 403 "$HTTP_STATUS"
ask "Authorization: Bearer $alice" GET /admin
t_eq "no route: 403" 403 "$HTTP_STATUS"
ask "Authorization: Bearer $alice" GET /documents/..%2Fadmin
t_eq "an encoded traversal matches no route: 403" 403 "$HTTP_STATUS"
ask "Authorization: Bearer $alice" GET '/documents/*'
t_eq "a wildcard in the path cannot widen the resource: 403" 403 "$HTTP_STATUS"
ask "" GET /documents/42
t_eq "no credential: 401" 401 "$HTTP_STATUS"
t_eq "with WWW-Authenticate: Bearer (RFC 6750)" 'Bearer realm="warden"' "$(header WWW-Authenticate)"
ask "Authorization: Bearer ${alice}x" GET /documents/42
t_eq "a forged token: 401" 401 "$HTTP_STATUS"
t_eq "invalid_token" 'Bearer realm="warden", error="invalid_token"' "$(header WWW-Authenticate)"
ask "X-API-Key: $KEY" GET /documents/42
t_eq "an API key with the scope: 200 as its service account" "200 indexer" "$HTTP_STATUS $(header X-Warden-Subject)"
ask "X-API-Key: $NARROW" GET /documents/42
t_eq "a key whose scopes do not cover it: 403" 403 "$HTTP_STATUS"
ask "X-API-Key: wdn_bad_bad" GET /documents/42
t_eq "a wrong key: 401" 401 "$HTTP_STATUS"
http GET "$URL" -H "Authorization: Bearer $alice"
t_eq "no original URI: 400" 400 "$HTTP_STATUS"

q "SELECT warden.revoke_grant('alice', 'reader')" >/dev/null
ask "Authorization: Bearer $alice" GET /documents/42
t_eq "a revoked grant denies at once" 403 "$HTTP_STATUS"
q "SELECT warden.grant('alice', 'reader')" >/dev/null
q "SELECT warden.revoke('$alice')" >/dev/null
ask "Authorization: Bearer $alice" GET /documents/42
t_eq "a revoked token: 401" 401 "$HTTP_STATUS"
alice=$(q "SELECT access_token FROM warden.login('alice', '$PW')")

# --- behind nginx auth_request ---------------------------------------------
N=$WARDEN_TEST_TMP/nginx
mkdir -p "$N"
user_line=
[ "$(id -u)" -eq 0 ] && user_line="user root;"
cat >"$N/nginx.conf" <<CONF
$user_line
daemon off;
worker_processes 1;
pid $N/nginx.pid;
error_log $N/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $N/body;
  proxy_temp_path $N/proxy;
  fastcgi_temp_path $N/fastcgi;
  uwsgi_temp_path $N/uwsgi;
  scgi_temp_path $N/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location = /_warden {
      internal;
      proxy_pass http://127.0.0.1:$PORT/v1/authz;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI \$request_uri;
      proxy_set_header X-Original-Method \$request_method;
    }
    location / {
      auth_request /_warden;
      auth_request_set \$warden_subject \$upstream_http_x_warden_subject;
      add_header X-Seen-Subject \$warden_subject always;
      rewrite ^ /healthz break;
      proxy_pass http://127.0.0.1:$PORT;
    }
  }
}
CONF
nginx -c "$N/nginx.conf" -p "$N" >"$N/stdout.log" 2>&1 &
nginx_pid=$!
wait_until 10 curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" || echo "# nginx did not start: $(cat "$N/error.log" "$N/stdout.log" 2>/dev/null | tail -5)"
NG=http://127.0.0.1:$NGINX_PORT
http GET "$NG/documents/42" -H "Authorization: Bearer $alice"
t_eq "nginx auth_request: a granted request reaches the backend" '200 {"status":"ok"}' "$HTTP_STATUS $HTTP_BODY"
t_eq "with the subject warden named" alice "$(header X-Seen-Subject)"
http GET "$NG/documents/42"
t_eq "nginx auth_request: no token, 401" 401 "$HTTP_STATUS"
http DELETE "$NG/documents/42" -H "Authorization: Bearer $alice"
t_eq "nginx auth_request: not allowed, 403" 403 "$HTTP_STATUS"
kill "$nginx_pid" 2>/dev/null
wait "$nginx_pid" 2>/dev/null

t_eq "no Server-Timing unless asked for" "" "$(ask "Authorization: Bearer $alice" GET /documents/42; header Server-Timing)"
ask "Cookie: warden_at=$alice" GET /documents/42
t_eq "no token cookie unless one is named" 401 "$HTTP_STATUS"
t_eq "the log holds no token" 0 "$(grep -c -e "${alice:0:40}" -e "$KEY" "$WARDEN_TEST_TMP/authz.log")"
edge_stop authz
edge_start timing "$PORT" "WARDEN_DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/$DB" \
  WARDEN_SERVER_TIMING=on WARDEN_TOKEN_COOKIE=warden_at || true
ask "Cookie: theme=dark; warden_at=$alice" GET /documents/42
t_eq "WARDEN_TOKEN_COOKIE: the token from its cookie" "200 alice" "$HTTP_STATUS $(header X-Warden-Subject)"
ask "Cookie: warden_at=$alice; warden_at=$bob" GET /documents/42
t_eq "the cookie twice: no credential, 401" 401 "$HTTP_STATUS"
ask "Cookie: other=$alice" GET /documents/42
t_eq "another cookie's value is not taken" 401 "$HTTP_STATUS"
ask "Authorization: Bearer $alice" GET /documents/44
t_match "WARDEN_SERVER_TIMING=on: verification, cache, Redis, database and total time" \
  '^verify;dur=[0-9]+\.[0-9]{3}, cache;dur=[0-9]+\.[0-9]{3}, redis;dur=[0-9]+\.[0-9]{3}, db;dur=[0-9]+\.[0-9]{3}, total;dur=[0-9]+\.[0-9]{3}$' \
  "$(header Server-Timing)"
ask "Authorization: Bearer $alice" GET /documents/43
ask "Authorization: Bearer $alice" GET /documents/43
t_match "asked again: verified (from the token cache) and decided from the decision cache, no database" \
  '^verify;dur=[0-9]+\.[0-9]{3}, cache;dur=[0-9]+\.[0-9]{3}, total;dur=[0-9]+\.[0-9]{3}$' "$(header Server-Timing)"
# decision keys longer than a request keeps in place (the heap's)
ask "Authorization: Bearer $alice" GET "/$LONG_PREFIX/9"
t_eq "a long path: decided (200)" "200 alice" "$HTTP_STATUS $(header X-Warden-Subject)"
ask "Authorization: Bearer $alice" GET "/$LONG_PREFIX/9"
t_match "... and again from the decision cache, no database" \
  '^verify;dur=[0-9]+\.[0-9]{3}, cache;dur=[0-9]+\.[0-9]{3}, total;dur=[0-9]+\.[0-9]{3}$' "$(header Server-Timing)"
t_eq "... still 200" 200 "$HTTP_STATUS"
ask "Authorization: Bearer $bob" GET "/$LONG_PREFIX/9"
t_eq "the same long path for bob: 403, not alice's cached 200" 403 "$HTTP_STATUS"
ask "Authorization: Bearer $alice" GET "/$LONG_PREFIX/9/x"
t_eq "a longer path no route matches: its own decision (403), not the cached 200" 403 "$HTTP_STATUS"
http GET "http://127.0.0.1:$PORT/healthz"
t_match "an answer without the database: total only" '^total;dur=[0-9]+\.[0-9]{3}$' "$(header Server-Timing)"
ask "Authorization: Bearer not-a-jwt" GET /documents/42
t_eq "a malformed token: 401 invalid_token" 401 "$HTTP_STATUS"
t_match "refused in the edge, the database not asked (no db time)" '^verify;dur=[0-9]+\.[0-9]{3}, total;dur=[0-9]+\.[0-9]{3}$' "$(header Server-Timing)"
for bad in a.b a.b.c.d a..c .b.c a.b. 'a.b.c!' 'a.b+.c' 'a.b.c=' "$(head -c 16385 /dev/zero | tr '\0' a).b.c"; do
  ask "Authorization: Bearer $bad" GET /documents/42
  t_eq "not a compact JWS (${bad:0:12}): 401 invalid_token, no database" \
    '401 Bearer realm="warden", error="invalid_token" no-db' \
    "$HTTP_STATUS $(header WWW-Authenticate) $(header Server-Timing | grep -q 'db;' && echo db || echo no-db)"
done
ask "Authorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9." GET /documents/42
t_eq "an alg=none token: 401 without the database" "401 no-db" \
  "$HTTP_STATUS $(header Server-Timing | grep -q 'db;' && echo db || echo no-db)"
edge_stop timing
dropdb "$DB"
t_done
