#!/usr/bin/env bash
# Search benchmark (issue "Instant search"): with the demo generator's
# 1,000,000 contacts and 100,000 companies in one organization, the API's search
# latency for 1-, 2-, 3-letter prefixes, whole words and typos; full reindex
# time and its peak RSS; index size on disk; server RSS with the index open.
#
#   benches/search.sh                       # 1M contacts (generation ~5 min the first time)
#   CONTACTS=100000 COMPANIES=10000 benches/search.sh
#
# DATA (default /tmp/harmonia-bench-search-<contacts>) keeps the generated
# organization between runs. Load: wrk over loopback, $CONNS connections.
set -euo pipefail
CONTACTS=${CONTACTS:-1000000}
COMPANIES=${COMPANIES:-100000}
CONNS=${CONNS:-4}
DURATION=${DURATION:-10s}
PORT=${PORT:-18095}
DATA=${DATA:-/tmp/harmonia-bench-search-$CONTACTS}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B="http://127.0.0.1:$PORT"
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
( cd "$ROOT" && cargo build --release --quiet )
BIN="$ROOT/target/release/harmonia"

if [ ! -f "$DATA/harmonia.db" ]; then
  echo "generating $CONTACTS contacts and $COMPANIES companies in $DATA ..." >&2
  "$BIN" --data-dir "$DATA" demo --contacts "$CONTACTS" --companies "$COMPANIES" --no-serve >/dev/null
fi

# Full reindex, timed, with its peak memory.
/usr/bin/time -f "%e %M" -o "$WORK/reindex.time" "$BIN" --data-dir "$DATA" reindex --org demo \
  >"$WORK/reindex.out" 2>/dev/null
read -r REINDEX_S REINDEX_KB < "$WORK/reindex.time"
INDEX_DIR=$(ls -d "$DATA"/tenants/*/index)
INDEX_MB=$(du -sm "$INDEX_DIR" | cut -f1)
DB_MB=$(du -sm "$(dirname "$INDEX_DIR")/crm.db" | cut -f1)

"$BIN" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
until curl -sf "$B/healthz" >/dev/null; do sleep 0.01; done
curl -s -c "$WORK/jar" -H 'content-type: application/json' \
  -d '{"email":"demo@harmonia.example","password":"harmonia-demo"}' "$B/api/v1/auth/login" >/dev/null
CSRF=$(curl -s -b "$WORK/jar" "$B/api/v1/me" | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])')
KEY=$(curl -s -b "$WORK/jar" -H "x-csrf-token: $CSRF" -H 'content-type: application/json' \
  -d '{"name":"bench","role":"member"}' "$B/api/v1/orgs/demo/api-keys" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
until curl -s -H "Authorization: Bearer $KEY" "$B/api/v1/orgs/demo/search?q=a" | grep -q '"rebuilding":false'; do sleep 0.2; done

run() { # name, comma-separated queries
  QUERIES="$2" PATH_PREFIX="/api/v1/orgs/demo/search?limit=20&q=" \
    wrk -t1 -c"$CONNS" -d"$DURATION" --latency -H "Authorization: Bearer $KEY" \
    -s "$ROOT/benches/wrk/search.lua" "$B" > "$WORK/$1.txt"
  if grep -q "Non-2xx" "$WORK/$1.txt"; then echo "error: $1 failed"; cat "$WORK/$1.txt"; exit 1; fi
  printf '| %s | %s | %s | %s |\n' "$1" \
    "$(awk '/Requests\/sec/ {print $2}' "$WORK/$1.txt")" \
    "$(awk '$1=="50%" {print $2}' "$WORK/$1.txt")" \
    "$(awk '$1=="99%" {print $2}' "$WORK/$1.txt")" >> "$WORK/table.md"
}
DURATION=3s run warmup "a,jo,gar,sofia"
: > "$WORK/table.md"
run "1 letter" "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,r,s,t,u,v,w,y,z"
run "2 letters" "ma,jo,an,el,sa,ch,da,li,ka,ro,ha,be,no,pa,wa,zh"
run "3 letters" "mar,jos,and,ele,sam,gar,lee,kim,han,ols,pat,sch,nak,ros,wal,bri"
run "whole word" "garcia,nakamura,sofia,lucas,wagner,patel,okafor,helga,dmitri,santos"
run "two words" "sofia garcia,lucas weber,mei tanaka,omar silva,ada kim"
run "typo" "garcai,nakamrua,sofai,wagenr,okafro,santso"
run "phone" "415 555 01,+1 212 555 0142,555-0117,(303) 555"
# Freshness: create a contact, poll search until it is found (10 times).
FRESH=$(python3 - "$B" "$KEY" <<'PY'
import json, sys, time, urllib.request
base, key = sys.argv[1], sys.argv[2]
def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))
times = []
for i in range(10):
    word = "freshness%dzq%d" % (i, int(time.time() * 1000) % 100000)
    t0 = time.perf_counter()
    call("POST", "/api/v1/orgs/demo/contacts", {"first_name": word})
    while not call("GET", "/api/v1/orgs/demo/search?q=" + word)["items"]:
        time.sleep(0.005)
    times.append((time.perf_counter() - t0) * 1000)
times.sort()
print("%.0f ms median, %.0f ms max" % (times[len(times) // 2], times[-1]))
PY
)
sleep 1
REST_KB=$(ps -o rss= -p "$SERVER" | tr -d ' ')

CPU=$(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}')
echo "## Search benchmark — $(date -u +%Y-%m-%d), $(nproc) cores ($CPU)"
echo
echo "$CONTACTS contacts + $COMPANIES companies in one organization; wrk 1 thread, $CONNS connections, $DURATION per shape, limit=20."
echo
echo "| query shape | req/s | p50 | p99 |"
echo "| --- | --- | --- | --- |"
cat "$WORK/table.md"
echo
echo "| measure | value |"
echo "| --- | --- |"
echo "| full reindex (\`harmonia reindex\`) | ${REINDEX_S} s ($(python3 -c "print(round(($CONTACTS+$COMPANIES)/$REINDEX_S))") records/s) |"
echo "| peak RSS during the reindex | $((REINDEX_KB / 1024)) MB |"
echo "| index size on disk | $INDEX_MB MB (database: $DB_MB MB) |"
echo "| server RSS at rest, index open, after the runs | $((REST_KB / 1024)) MB |"
echo "| freshness: create → found by search (10 tries) | $FRESH |"
