# shellcheck shell=bash
# Policy target "mailbag": mailbag-policyd's policy delegation socket with
# greylisting on, set like the kit's postgrey target (delay 1 s, no client
# auto-allow, nothing allowlisted), on the embedded LMDB store; every run
# starts from an empty store and empty state. Sourced by the shared kit's
# bench-policy.sh through BENCH_TARGET_PATH (see bench/bench-policy.sh).
#
# Tunables (environment):
#   MAILBAG_BUILD   build directory holding policyd/ and cli/ (default
#                   build-release beside this file's repository)
: "${MAILBAG_BUILD:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/build-release}"
TARGET_PRIME_WAIT=2

mailbag_context() {
  local dir=$1 store=$2
  cat >"$dir/context.json" <<JSON
{"hostname": "bench.example", "store": "$store", "mail_root": "$dir/vmail",
 "policyd": {"socketmap_socket": "$dir/socketmap", "policy_socket": "$dir/policy",
             "usage_socket": "$dir/usage",
             "socket_group": "mailbag"},
 "greylisting": {"enabled": true, "delay": 1, "auto_allow_after": 0, "allowlist": []}}
JSON
  chmod 640 "$dir/context.json"
  chgrp mailbag "$dir/context.json"
}

# mailbag_start DIR STORE / mailbag_stop: shared with mailbag-redis.sh
mailbag_start() {
  local dir=$1 store=$2
  id mailbag >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin mailbag
  # stale sockets of the previous run (policyd, no longer root, cannot
  # remove them) would satisfy wait_unix before the new one listens
  rm -rf "$dir/store" "$dir/vmail" "$dir/policy" "$dir/socketmap" "$dir/usage"
  mkdir -p "$dir"
  chmod 755 "$dir"
  mailbag_context "$dir" "$store"
  "$MAILBAG_BUILD/cli/mailbag" --context "$dir/context.json" init >/dev/null
  "$MAILBAG_BUILD/policyd/mailbag-policyd" -c "$dir/context.json" >"$dir/policyd.log" 2>&1 &
  TARGET_PID=$!
  bench_track_pid "$TARGET_PID"
  wait_unix "$dir/policy" 20
  POLICY_ADDR="-u $dir/policy"
}

mailbag_stop() {
  stop_pid "$TARGET_PID"
  wait "$TARGET_PID" 2>/dev/null || true
}

target_start() { mailbag_start "$1" "lmdb:$1/store"; }
target_stop() { mailbag_stop; }
