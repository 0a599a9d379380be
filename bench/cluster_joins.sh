#!/bin/bash
# Web CPU per waiting-room join with REDIS_URL naming one Redis server vs a Redis Cluster
# (three masters from Debian's redis-server, started and removed here): one web process each,
# wrk -t2 -c32 for 10 s of joins with a fresh X-User-Id per request, CPU from /proc/PID/stat.
# Usage: bench/cluster_joins.sh [ROUNDS]   (needs redis-server, wrk, the local Redis on 6379)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
WORK=$(mktemp -d)
echo "command: bench/cluster_joins.sh $ROUNDS   load before: $(cut -d' ' -f1-3 /proc/loadavg)"
cat > "$WORK/join.lua" <<'LUA'
counter = 0
request = function()
  counter = counter + 1
  local user = string.format("fan-%d-%d", math.random(1, 1000000000), counter)
  return wrk.format("POST", wrk.path, {["X-User-Id"] = user}, "")
end
LUA
.venv/bin/python -m tests.integration.cluster.servers > "$WORK/cluster.out" 2>&1 &
CLUSTER_PID=$!
PREFIX="bench_cj_$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cleanup() {
  kill "$CLUSTER_PID" 2>/dev/null || true; wait "$CLUSTER_PID" 2>/dev/null || true
  redis-cli --scan --pattern "${PREFIX}_*" | xargs -r redis-cli del > /dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 1 60); do grep -q REDIS_URL= "$WORK/cluster.out" && break; sleep 1; done
CLUSTER_URL=$(grep REDIS_URL= "$WORK/cluster.out" | cut -d= -f2)

one() {  # MODE URL PORT -> prints "MODE us_per_join"
  local mode=$1 url=$2 port=$3 web ev u1 s1 u2 s2 out reqs
  export DATABASE_URL="sqlite:///$WORK/$mode-$port.db" REDIS_URL="$url" REDIS_PREFIX="${PREFIX}_$mode:" BROKER_URL=stub:// \
    ADMIN_TOKEN=bench-admin SECRET_KEY=bench-secret-0123456789abcdef LOG_LEVEL=WARNING PORT=$port \
    RATE_JOIN_PER_MIN=0 RATE_PER_IP_PER_MIN=0
  .venv/bin/python -m ticketdrop init-db > /dev/null
  .venv/bin/python -m web > "$WORK/$mode-$port.log" 2>&1 &
  web=$!
  for _ in $(seq 1 90); do curl -sf "localhost:$port/health" > /dev/null && break; sleep 1; done
  ev=$(curl -s -X POST "localhost:$port/admin/events" -H "Authorization: Bearer bench-admin" \
    -H 'Content-Type: application/json' -d '{"name":"Bench","venue":"Arena","starts_at":"2030-01-01T20:00:00Z",
    "on_sale_at":"2026-01-01T00:00:00Z","status":"on_sale","wave_size":100}' | .venv/bin/python -c 'import sys,json;print(json.load(sys.stdin)["id"])')
  wrk -t2 -c32 -d3s -s "$WORK/join.lua" "http://127.0.0.1:$port/events/$ev/waiting-room/join" > /dev/null  # warm up
  read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$web/stat")
  out=$(wrk -t2 -c32 -d10s -s "$WORK/join.lua" "http://127.0.0.1:$port/events/$ev/waiting-room/join")
  read -r u2 s2 < <(awk '{print $14, $15}' "/proc/$web/stat")
  kill "$web"; wait "$web" 2>/dev/null || true
  reqs=$(echo "$out" | awk '/requests in/{print $1}')
  if echo "$out" | grep -q Non-2xx; then echo "$mode: non-2xx answers: $out" >&2; exit 1; fi
  echo "$mode $(( (u2 + s2 - u1 - s1) * 10000 / reqs ))"   # clock ticks are 10 ms: CPU us per join
}
port=18700
for round in $(seq 1 "$ROUNDS"); do
  for mode in single cluster; do
    port=$((port + 1))
    url=redis://127.0.0.1:6379/0; [ "$mode" = cluster ] && url=$CLUSTER_URL
    read -r m us < <(one "$mode" "$url" "$port")
    echo "round $round  $m  web CPU per join: $us us"
    eval "sum_$m=\$(( \${sum_$m:-0} + us ))"
  done
done
echo "mean web CPU per join: one server $((sum_single / ROUNDS)) us, cluster $((sum_cluster / ROUNDS)) us;" \
     "ratio cluster/single $(awk "BEGIN{printf \"%.2f\", $sum_cluster/$sum_single}")   load after: $(cut -d' ' -f1-3 /proc/loadavg)"
