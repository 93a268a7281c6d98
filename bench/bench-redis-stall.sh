#!/usr/bin/env bash
# bench/bench-redis-stall.sh - mailbag-policyd while Redis is stalled (issue 19)
#
#   sudo bash bench/bench-redis-stall.sh [BUILD_DIR]
#
# A private redis-server (unix socket, no persistence) as the store, one
# domain and one user in it, mailbag-policyd with greylisting on (as the
# bench-policy.sh targets) and policyd.store_timeout 2 s. The user and
# domain are looked up once (the daemon holds them), then
# bench/redis-stall.py runs socketmap lookups of them and policy requests
# with new triplets while `redis-cli DEBUG SLEEP 5` stalls Redis, and
# prints/records per phase (before, during, after) the counts, the kinds
# of answers and p50/p99/max latency. BENCH_RUNS runs (default 2); rows
# appended to $BENCH_RESULTS. Never a CI test: it measures time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build-release}" && pwd)
runs=${BENCH_RUNS:-2}
dir=${BENCH_DIR:-/tmp/mailbag-bench-stall}
results=${BENCH_RESULTS:-$dir/results.tsv}

[ "$(id -u)" -eq 0 ] || { echo "run as root (policyd drops to the mailbag user)" >&2; exit 77; }
id mailbag >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin mailbag

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_socket() { for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done; echo "no $1" >&2; exit 1; }

for run in $(seq "$runs"); do
  rm -rf "$dir/run"; mkdir -p "$dir/run/redis"; chmod 755 "$dir" "$dir/run"
  chown redis "$dir/run/redis" 2>/dev/null || true
  redis-server --port 0 --unixsocket "$dir/run/redis/redis.sock" --unixsocketperm 777 \
    --save "" --appendonly no --enable-debug-command local --dir "$dir/run/redis" \
    >"$dir/run/redis/redis.log" 2>&1 &
  redis_pid=$!; pids+=("$redis_pid")
  wait_socket "$dir/run/redis/redis.sock"
  ctx=$dir/run/context.json
  cat >"$ctx" <<JSON
{"hostname": "bench.example", "store": "unix:$dir/run/redis/redis.sock", "mail_root": "$dir/run/vmail",
 "policyd": {"socketmap_socket": "$dir/run/socketmap", "policy_socket": "$dir/run/policy",
             "usage_socket": "$dir/run/usage", "socket_group": "mailbag", "store_timeout": 2},
 "greylisting": {"enabled": true, "delay": 1, "auto_allow_after": 0, "allowlist": []}}
JSON
  chmod 640 "$ctx"; chgrp mailbag "$ctx"
  "$build/cli/mailbag" --context "$ctx" init >/dev/null
  "$build/cli/mailbag" --context "$ctx" domain add stall.example >/dev/null
  "$build/cli/mailbag" --context "$ctx" user add ann@stall.example >/dev/null
  "$build/policyd/mailbag-policyd" -c "$ctx" >"$dir/run/policyd.log" 2>&1 &
  policyd_pid=$!; pids+=("$policyd_pid")
  wait_socket "$dir/run/policy"
  echo "run $run:"
  /usr/bin/python3 "$here/redis-stall.py" "$dir/run/socketmap" "$dir/run/policy" \
    "$dir/run/redis/redis.sock" ann@stall.example stall.example "$results" "$run"
  kill "$policyd_pid"; wait "$policyd_pid" 2>/dev/null || true
  kill "$redis_pid"; wait "$redis_pid" 2>/dev/null || true
  pids=()
done
echo "rows appended to $results"
