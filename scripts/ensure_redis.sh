#!/usr/bin/env bash
# Make sure a Redis answers on REDIS_URL: start a local redis-server when none does,
# installing it with the system package manager when it is missing and we may.
# Exit 0 when Redis answers, 1 otherwise (the caller decides whether that is fatal).
set -u
url="${REDIS_URL:-redis://127.0.0.1:6379/0}"
hostport="${url#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"
[ "$port" = "$hostport" ] && port=6379

ping() {
  # bash's /dev/tcp: works before any package is installed.
  { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  local reply=""
  read -r -t 2 reply <&3 || true
  exec 3>&- 3<&-
  case "$reply" in +PONG*|-NOAUTH*) return 0 ;; *) return 1 ;; esac
}

ping && exit 0
case "$host" in 127.0.0.1|localhost) ;; *) echo "Redis at $host:$port does not answer" >&2; exit 1 ;; esac

if ! command -v redis-server >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "redis-server is missing: installing it with apt-get" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >&2 || true
  fi
fi
if command -v redis-server >/dev/null 2>&1; then
  # Append-only file under var/redis: a restart keeps sessions, codes and queued jobs, as
  # production should (gateway/redis_persistence.py warns when it does not).
  dir="$(cd "$(dirname "$0")/.." && pwd)/var/redis"
  echo "no Redis on $host:$port: starting a local redis-server (appendonly, in $dir)" >&2
  mkdir -p "$dir"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly yes \
    --appendfsync everysec --dir "$dir" --logfile "$dir/redis.log" >&2
  for _ in $(seq 1 50); do ping && exit 0; sleep 0.1; done
fi
echo "Redis is not reachable on $host:$port and could not be started" >&2
exit 1
