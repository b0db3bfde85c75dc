#!/usr/bin/env bash
# Serve a WSGI app on 127.0.0.1:PORT with one of the serving stacks we measured (exec's the
# server, so the caller's saved PID is the server's master and leads its process group).
#
#   bench/serve.sh STACK PORT [guichet|baseline] [WORKERS]
#
# STACK: sync | gthread<T> | gevent | granian<T> | granian<T>x<W>   (T = threads per worker,
# e.g. gthread4; x<W> = W worker processes, overriding WORKERS, e.g. granian2x3)
# App guichet = bench.app:create_app() (gateway.app's factory plus the journey's bench.quote;
# the environment configures it); baseline = the
# shared harness's hand-written Flask app (peers/flask_baseline/app.py) run by OUR stack.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
STACK="${1:?stack}"; PORT="${2:?port}"; APP="${3:-guichet}"; WORKERS="${4:-2}"
VENV="$ROOT/.venv/bin"
if [[ "$APP" == baseline ]]; then
  cd "${SHARED_BENCH:-$ROOT/../shared/bench}/peers/flask_baseline"  # run.sh exports SHARED_BENCH
  GUNI_APP="app:app"; GRANIAN_APP=(app:app)
else
  cd "$ROOT"
  GUNI_APP="bench.app:create_app()"; GRANIAN_APP=(--factory bench.app:create_app)
fi
GUNI=("$VENV/python" -m gunicorn -w "$WORKERS" -b "127.0.0.1:$PORT" --backlog 2048
      --log-level warning --no-control-socket)
case "$STACK" in
  sync)      exec "${GUNI[@]}" -k sync "$GUNI_APP" ;;
  gthread*)  exec "${GUNI[@]}" -k gthread --threads "${STACK#gthread}" --keep-alive 75 "$GUNI_APP" ;;
  gevent)    exec "${GUNI[@]}" -k gevent --worker-connections 1000 --keep-alive 75 "$GUNI_APP" ;;
  granian*)  SPEC="${STACK#granian}"; THREADS="${SPEC%%x*}"
             [[ "$SPEC" == *x* ]] && WORKERS="${SPEC#*x}"
             exec "$VENV/granian" --interface wsgi --host 127.0.0.1 --port "$PORT" \
               --workers "$WORKERS" --blocking-threads "$THREADS" --backlog 2048 \
               --no-ws --no-access-log --log-level warning "${GRANIAN_APP[@]}" ;;
  *) echo "unknown stack $STACK" >&2; exit 2 ;;
esac
