#!/usr/bin/env bash
# Foundation benchmark (issue "Foundation"): create-contact and get-contact throughput and
# latency at 32 connections, idle RSS, RSS after 1,000 organizations have each served a
# request, and time from start to a healthy /healthz with 1,000 organizations on disk.
#
#   benches/foundation.sh                 # full run (~2 min)
#   DURATION=3s ORGS=50 benches/foundation.sh   # quick look
#
# Load comes from wrk (Debian package, installed if missing) in a separate process over
# loopback. The server runs as built for release, with its default logging (one line per
# request) sent to a file.
set -euo pipefail
DURATION=${DURATION:-15s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
ORGS=${ORGS:-1000}
PORT=${PORT:-18090}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B="http://127.0.0.1:$PORT"
WORK=$(mktemp -d)
PASSWORD="benchmark password 1"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
( cd "$ROOT" && cargo build --release --quiet )
BIN="$ROOT/target/release/harmonia"

rss_kb() { ps -o rss= -p "$1" | tr -d ' '; }
anon_kb() { awk '/^RssAnon/ {print $2}' "/proc/$1/status"; }
# Waits until the server has used (almost) no CPU for a second: the search
# indexer has caught up with what the load wrote.
wait_idle() {
  local before after
  while :; do
    before=$(awk '{print $14 + $15}' "/proc/$1/stat"); sleep 1
    after=$(awk '{print $14 + $15}' "/proc/$1/stat")
    [ $((after - before)) -le 5 ] && return
  done
}
now_ms() { date +%s%3N; }
start_server() {
  "$BIN" --data-dir "$WORK/data" serve --listen "127.0.0.1:$PORT" >>"$WORK/server.log" 2>&1 &
  SERVER=$!
}
wait_healthy() {
  until curl -sf "$B/healthz" >/dev/null; do sleep 0.002; done
}
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

echo "$PASSWORD" > "$WORK/pw"
"$BIN" --data-dir "$WORK/data" setup --org-name Bench --email bench@example.com \
  --password-file "$WORK/pw" >/dev/null 2>&1
start_server
wait_healthy
sleep 1
IDLE_RSS=$(rss_kb "$SERVER")

LOGIN=$(curl -s -c "$WORK/jar" -H 'content-type: application/json' \
  -d "{\"email\":\"bench@example.com\",\"password\":\"$PASSWORD\"}" "$B/api/v1/auth/login")
CSRF=$(echo "$LOGIN" | json '["csrf_token"]')
KEY=$(curl -s -b "$WORK/jar" -H "x-csrf-token: $CSRF" -H 'content-type: application/json' \
  -d '{"name":"bench","role":"member"}' "$B/api/v1/orgs/bench/api-keys" | json '["secret"]')

run_wrk() { # name, then wrk arguments
  local name=$1; shift
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Authorization: Bearer $KEY" "$@" \
    > "$WORK/$name.txt"
  if grep -q "Non-2xx" "$WORK/$name.txt"; then
    echo "error: $name had failed requests:"; cat "$WORK/$name.txt"; exit 1
  fi
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/$name.txt")
  p50=$(awk '$1=="50%" {print $2}' "$WORK/$name.txt")
  p99=$(awk '$1=="99%" {print $2}' "$WORK/$name.txt")
  printf '| %s | %s | %s | %s |\n' "$name" "$rps" "$p50" "$p99" >> "$WORK/table.md"
}

# Warm-up, then the measured create run.
DURATION=2s run_wrk warmup -s "$ROOT/benches/wrk/create_contact.lua" "$B/api/v1/orgs/bench/contacts"
: > "$WORK/table.md"
run_wrk "create contact (POST, with a phone)" -s "$ROOT/benches/wrk/create_contact.lua" "$B/api/v1/orgs/bench/contacts"
WITH_PHONE=0 run_wrk "create contact (POST, no phone)" -s "$ROOT/benches/wrk/create_contact.lua" "$B/api/v1/orgs/bench/contacts"

# Ids to read: up to 10,000 contacts, paged through the API.
CURSOR=""
: > "$WORK/ids"
for _ in $(seq 1 50); do
  PAGE=$(curl -s -H "Authorization: Bearer $KEY" "$B/api/v1/orgs/bench/contacts?limit=200&sort=created${CURSOR:+&cursor=$CURSOR}")
  echo "$PAGE" | python3 -c 'import json,sys; [print(c["id"]) for c in json.load(sys.stdin)["items"]]' >> "$WORK/ids"
  CURSOR=$(echo "$PAGE" | json '["next_cursor"] or ""')
  [ -n "$CURSOR" ] || break
done
CONTACTS=$(curl -s -H "Authorization: Bearer $KEY" "$B/api/v1/orgs/bench/contacts/count" | json '["count"]')
T0=$(now_ms); wait_idle "$SERVER"; CATCH_UP_MS=$(( $(now_ms) - T0 - 1000 ))
IDS="$WORK/ids" PATH_PREFIX="/api/v1/orgs/bench/contacts/" \
  run_wrk "get contact (GET by id)" -s "$ROOT/benches/wrk/get_contact.lua" "$B"
LOADED_RSS=$(rss_kb "$SERVER"); LOADED_ANON=$(anon_kb "$SERVER")

# 1,000 organizations, each serving one request, on a fresh server (so the
# figure is about organizations, not about the load run's indexing).
kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null || true
start_server
wait_healthy
seq 1 "$ORGS" | xargs -P 4 -I{} curl -s -o /dev/null -b "$WORK/jar" -H "x-csrf-token: $CSRF" \
  -H 'content-type: application/json' -d '{"name":"Org {}","slug":"org-{}"}' "$B/api/v1/orgs"
T0=$(now_ms)
seq 1 "$ORGS" | xargs -P 8 -I{} curl -s -o /dev/null -b "$WORK/jar" "$B/api/v1/orgs/org-{}/contacts"
T1=$(now_ms)
wait_idle "$SERVER"
ORGS_RSS=$(rss_kb "$SERVER"); ORGS_ANON=$(anon_kb "$SERVER")
OPEN_ORGS_MS=$((T1 - T0))

# Start-up with 1,000 organizations on disk.
kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null || true
T0=$(now_ms)
start_server
wait_healthy
T1=$(now_ms)
START_MS=$((T1 - T0))
kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null || true

CPU=$(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}')
echo "## Foundation benchmark — $(date -u +%Y-%m-%d), $(nproc) cores ($CPU), $(free -g | awk '/Mem/ {print $2}') GB"
echo
echo "wrk: $THREADS threads, $CONNS connections, $DURATION per scenario, API-key auth, same machine, unpinned."
echo
echo "| scenario | req/s | p50 | p99 |"
echo "| --- | --- | --- | --- |"
cat "$WORK/table.md"
echo
echo "| measure | value |"
echo "| --- | --- |"
echo "| contacts in the org after the create run | $CONTACTS |"
echo "| idle RSS (after start) | $((IDLE_RSS / 1024)) MB |"
echo "| search indexer catching up after the create runs | $CATCH_UP_MS ms |"
echo "| RSS after the load runs (anonymous / with mapped index files) | $((LOADED_ANON / 1024)) / $((LOADED_RSS / 1024)) MB |"
echo "| RSS after $ORGS organizations each served a request (anonymous / total) | $((ORGS_ANON / 1024)) / $((ORGS_RSS / 1024)) MB |"
echo "| time for those $ORGS first requests (8 in parallel) | $OPEN_ORGS_MS ms |"
echo "| start to healthy /healthz with $((ORGS + 1)) organizations on disk | $START_MS ms |"
