# shellcheck shell=bash
# Policy target "mailbag-redis": the "mailbag" target on a private
# redis-server (unix socket, no persistence), emptied before every run:
# the several-nodes set-up: tables from the read cache, state on Redis
# (non-blocking, pipelined across connections).
# shellcheck source=/dev/null
source "$(dirname "${BASH_SOURCE[0]}")/mailbag.sh"

target_start() {
  local dir=$1
  mkdir -p "$dir/redis"
  chown redis "$dir/redis" 2>/dev/null || true
  rm -f "$dir/redis/redis.sock"
  redis-server --port 0 --unixsocket "$dir/redis/redis.sock" --unixsocketperm 777 \
    --save "" --appendonly no --dir "$dir/redis" >"$dir/redis/redis.log" 2>&1 &
  REDIS_PID=$!
  bench_track_pid "$REDIS_PID"
  wait_unix "$dir/redis/redis.sock" 20
  mailbag_start "$dir" "unix:$dir/redis/redis.sock"
}

target_stop() {
  mailbag_stop
  stop_pid "$REDIS_PID"
  wait "$REDIS_PID" 2>/dev/null || true
}
