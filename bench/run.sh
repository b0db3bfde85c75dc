#!/usr/bin/env bash
# `make bench`: the shared harness's 6-hop journey against Guichet AND its peers, in one run,
# with the shared harness's own scripts and load generator; the table goes to bench/README.md.
#
#   bench/run.sh [--quick] [--runs N] [--duration S] [--warmup S] [--peers "…"] [--stack S]
#
# --quick = 1 round of 10 s (about 2 min instead of ~8). STACK (env or --stack) is how Guichet
# is served (bench/serve.sh: sync, gthread<T>, gevent, granian<T>[x<W>]); the default is the winner
# recorded in bench/README.md. After the harness's rounds, the hand-written Flask baseline is
# also served by OUR stack (an extra row). Redis DB 7 is the benchmark's (the peers own 1-3).
# Every server started here leads its own process group and is stopped by its PID.
set -euo pipefail
ROOT="$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)"
# The shared harness: $SHARED_BENCH, else ../shared/bench beside this checkout or, from a git
# worktree elsewhere, beside the main checkout (the common git directory's parent).
COMMON="$(git -C "$ROOT" rev-parse --path-format=absolute --git-common-dir)"
for CANDIDATE in "${SHARED_BENCH:-}" "$ROOT/../shared/bench" "$(dirname "$COMMON")/../shared/bench"; do
  [[ -n "$CANDIDATE" && -d "$CANDIDATE" ]] && { SHARED="$(cd "$CANDIDATE" && pwd)"; break; }
done
[[ -n "${SHARED:-}" ]] || { echo "no ../shared/bench beside this checkout: set SHARED_BENCH" >&2; exit 1; }
export SHARED_BENCH="$SHARED"
STACK="${STACK:-granian3x3}"; RUNS="${RUNS:-3}"; DURATION="${DURATION:-20}"; WARMUP="${WARMUP:-5}"
PEERS="${PEERS:-flask_hello flask_baseline ussd_menu_builder ussd_airflow}"
CONCURRENCY="${CONCURRENCY:-64}"; DB=7; PORT=8110; BASE_PORT=8111
while (($#)); do
  case "$1" in
    --quick) RUNS=1; DURATION=10; WARMUP=3; shift ;;
    --runs) RUNS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --peers) PEERS="$2"; shift 2 ;;
    --stack) STACK="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
PY="$ROOT/.venv/bin/python"
OUTROOT="$ROOT/bench/results"; mkdir -p "$OUTROOT"

# The peers (venvs, node_modules) and wrk: the harness's own installer, once.
if [[ ! -x "$SHARED/peers/flask_baseline/.venv/bin/gunicorn" || ! -d "$SHARED/peers/ussd_menu_builder/node_modules" ]] \
   || ! command -v wrk >/dev/null; then
  "$SHARED/setup.sh"
fi

export MENUS_PATH="$ROOT/bench/journey.menus.yaml" REDIS_URL="redis://127.0.0.1:6379/$DB" \
  REDIS_DB="$DB" DATABASE_URL="sqlite:///$OUTROOT/bench.db" LOG_LEVEL="${LOG_LEVEL:-INFO}"

SERVER_PID=""
stop_server() {  # the server leads its own process group (setsid): TERM it, KILL after 5 s
  [[ -n "$SERVER_PID" ]] || return 0
  kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
trap stop_server EXIT
trap 'exit 130' INT TERM

start_server() {  # app port log
  redis-cli -n "$DB" flushdb >/dev/null   # DB 7 is ours; the harness reuses phone numbers
  setsid "$ROOT/bench/serve.sh" "$STACK" "$2" "$1" >"$3" 2>&1 &
  SERVER_PID=$!
}

wait_ready() {  # url
  for _ in $(seq 1 150); do
    body=$(curl -s -m 2 -X POST -d "sessionId=ready$RANDOM&serviceCode=%2A384%2A1234%23&phoneNumber=%2B243810000000&networkCode=63001&text=" "$1" || true)
    [[ "$body" == CON* || "$body" == END* ]] && return 0
    sleep 0.2
  done
  return 1
}

# 1. Guichet next to every peer, by the harness (it interleaves the peers in each round).
URL="http://127.0.0.1:$PORT/ussd/africastalking"
LOG="$(mktemp)"
start_server guichet "$PORT" "$OUTROOT/guichet.server.log"
wait_ready "$URL" || { echo "guichet did not start, see $OUTROOT/guichet.server.log" >&2; exit 1; }
"$SHARED/run_all.sh" --target "$URL" --target-name guichet --target-pid "$SERVER_PID" \
  --runs "$RUNS" --duration "$DURATION" --warmup "$WARMUP" --concurrency "$CONCURRENCY" \
  --peers "$PEERS" | tee "$LOG"
stop_server
STAMP="$(sed -n 's|.*-> results/\([0-9-]*\)/.*|\1|p' "$LOG" | tail -1)"
[[ -n "$STAMP" ]] || { echo "no results directory in the harness output" >&2; exit 1; }
OUT="$OUTROOT/$STAMP"
cp -r "$SHARED/results/$STAMP" "$OUT"
mv "$OUTROOT/guichet.server.log" "$OUT/"

# 2. The hand-written Flask baseline served by our stack: same load, same rounds (extra row).
LABEL="flask_baseline@$STACK"
BURL="http://127.0.0.1:$BASE_PORT/ussd"
start_server baseline "$BASE_PORT" "$OUT/baseline_ourstack.server.log"
if wait_ready "$BURL"; then
  for run in $(seq 1 "$RUNS"); do
    echo "== run $run/$RUNS: $LABEL"
    python3 "$SHARED/loadgen/ussd_load.py" "$BURL" -c "$CONCURRENCY" -d "$WARMUP" --label warmup >/dev/null
    python3 "$SHARED/loadgen/ussd_load.py" "$BURL" -c "$CONCURRENCY" -d "$DURATION" \
      --label "$LABEL" --server-pid "$SERVER_PID" --json "$OUT/run${run}_$LABEL.json" | cut -c1-300
  done
  echo "$LABEL" >>"$OUT/peers.txt"
else
  echo "the baseline on $STACK did not start, see $OUT/baseline_ourstack.server.log" >&2
fi
stop_server

python3 "$SHARED/lib/table.py" "$OUT"
"$PY" "$ROOT/bench/report.py" "$OUT" --stack "$STACK" --readme "$ROOT/bench/README.md"
rm -f "$LOG"
