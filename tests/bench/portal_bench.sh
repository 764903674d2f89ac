#!/usr/bin/env bash
# The portal's load figure (issue 13, rule 41): wrk against the portal's `/` and
# `/api/agency.json` and against nginx serving the same bytes from files, in the same run, on the
# same machine. Goal: the portal >= 1/2 of nginx's requests per second. Not part of CI (numbers
# need a quiet machine): run it by hand on a Release build.
#
#   cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release
#   cmake --build build-release --target pdao_disclosure_fixture_portal
#   apt-get install wrk nginx-light        # Debian 12: wrk 4.1.0, nginx 1.22.1
#   tests/bench/portal_bench.sh build-release [DURATION_S] [CONNECTIONS]
#
# Both servers bind loopback ports; nginx gets its own prefix in a temp dir (no system config).
# nginx at its best for static bytes: worker_processes auto, sendfile, open_file_cache, access
# log off; keepalive_requests 100 (the portal's keep-alive bound). BENCH_DEBUG=1 traces the script. Prints one line per run and the ratios; the load average before and after.
set -euo pipefail
[[ -n "${BENCH_DEBUG:-}" ]] && set -x
BUILD=${1:?usage: portal_bench.sh BUILD_DIR [DURATION_S] [CONNECTIONS]}
DURATION=${2:-10}
CONNS=${3:-32}
THREADS=2
PORTAL_BIN=$BUILD/services/disclosure/pdao_disclosure_fixture_portal
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
command -v wrk >/dev/null || { echo "portal_bench: wrk not found (apt-get install wrk)" >&2; exit 1; }
[[ -x "$NGINX" ]] || { echo "portal_bench: nginx not found (apt-get install nginx-light)" >&2; exit 1; }
[[ -x "$PORTAL_BIN" ]] || { echo "portal_bench: build $PORTAL_BIN first" >&2; exit 1; }

WORK=$(mktemp -d /tmp/pdao-portal-bench.XXXXXX)
PORTAL_PID="" NGINX_STARTED=0
cleanup() {
  [[ -n "$PORTAL_PID" ]] && kill "$PORTAL_PID" 2>/dev/null || true
  [[ "$NGINX_STARTED" == 1 ]] && "$NGINX" -p "$WORK/nginx" -c nginx.conf -s stop 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NGINX_PORT=$(free_port)

# The same bytes: the fixture renders every path into files for nginx.
"$PORTAL_BIN" --write-dir "$WORK/www" --public-url "http://127.0.0.1" >/dev/null
# nginx's workers run as an unprivileged user when started as root: let them read the files.
chmod 755 "$WORK"
chmod -R a+rX "$WORK/www"
mkdir -p "$WORK/nginx/logs"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  types { text/html html; application/json json; }
  access_log off;
  sendfile on;
  open_file_cache max=64 inactive=60s;
  open_file_cache_valid 60s;
  tcp_nodelay on;
  keepalive_requests 100;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/www;
    index index.html;
  }
}
CONF
"$NGINX" -p "$WORK/nginx" -c nginx.conf
NGINX_STARTED=1

# The portal on a free port; it runs until its stdin closes.
mkfifo "$WORK/portal.stdin"
"$PORTAL_BIN" --listen 127.0.0.1:0 < "$WORK/portal.stdin" > "$WORK/portal.out" &
PORTAL_PID=$!
exec 8> "$WORK/portal.stdin"
for _ in $(seq 100); do grep -q "listening on" "$WORK/portal.out" 2>/dev/null && break; sleep 0.1; done
PORTAL_PORT=$(sed -n 's/^listening on //p' "$WORK/portal.out")
[[ -n "$PORTAL_PORT" ]] || { echo "portal_bench: the portal did not start" >&2; exit 1; }

# Same bytes check (and the sizes, for the record).
for path in / /api/agency.json; do
  cmp -s <(curl -sf "http://127.0.0.1:$PORTAL_PORT$path") <(curl -sf "http://127.0.0.1:$NGINX_PORT$path") ||
    { echo "portal_bench: $path differs between the portal and nginx" >&2; exit 1; }
  echo "$path: $(curl -sf "http://127.0.0.1:$PORTAL_PORT$path" | wc -c) bytes, identical from both"
done

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; wrk -t$THREADS -c$CONNS -d${DURATION}s"
declare -A RPS
run() {  # run NAME URL
  local out rps
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$2")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/' <<<"$out" | tr '\n' ' ')
  transfer=$(awk '/^Transfer\/sec:/ {print $2}' <<<"$out")
  RPS[$1]=$rps
  printf '%-24s %10s req/s  %9s/s  p99 %-8s %s\n' "$1" "$rps" "$transfer" "$p99" "$errors"
}
run "nginx /" "http://127.0.0.1:$NGINX_PORT/"
run "portal /" "http://127.0.0.1:$PORTAL_PORT/"
run "nginx /api/agency.json" "http://127.0.0.1:$NGINX_PORT/api/agency.json"
run "portal /api/agency.json" "http://127.0.0.1:$PORTAL_PORT/api/agency.json"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v a="${RPS[portal /]}" -v b="${RPS[nginx /]}" -v c="${RPS[portal /api/agency.json]}" \
    -v d="${RPS[nginx /api/agency.json]}" \
    'BEGIN {printf "ratio portal/nginx: / %.2f, /api/agency.json %.2f (goal >= 0.50)\n", a/b, c/d}'
