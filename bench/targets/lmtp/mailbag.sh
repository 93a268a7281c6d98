# shellcheck shell=bash
# LMTP target "mailbag": mailbag-lmtpd in front of the kit's Dovecot lmtp
# socket, on the embedded LMDB store holding the kit's users
# bench1..bench8@bench.test (with a hashed password: the store keeps no
# plain ones). Every recipient is checked against the store at RCPT and
# the message streamed on to Dovecot; each delivery is journalled. Sourced
# by the shared kit's bench-lmtp.sh through BENCH_TARGET_PATH
# (bench/bench-lmtp.sh).
#
# Tunables (environment):
#   MAILBAG_BUILD   build directory holding cli/ and lmtp-bridge/
source "$(dirname "${BASH_SOURCE[0]}")/../mailbag-common.sh"

target_start() {
  local dir=$1 dovecot_lmtp=$2 hash i
  rm -rf "$dir"
  mailbag_bench_store "$dir" ", \"mail_root\": \"$BENCH_DIR/lmtp/mail\",
 \"lmtpd\": {\"socket\": \"$dir/lmtp\", \"dovecot_lmtp\": \"$dovecot_lmtp\", \"spool_dir\": \"$dir/spool\",
           \"socket_group\": \"root\", \"socket_mode\": \"0666\"}"
  hash=$(doveadm pw -s SHA512-CRYPT -p benchpw)
  for ((i = 1; i <= 8; i++)); do
    echo "bench$i@bench.test:$hash"
  done >"$dir/passwd"
  mailbag_bench_import "$dir" "$dir/passwd" >/dev/null
  "$MAILBAG_BUILD/lmtp-bridge/mailbag-lmtpd" -c "$dir/context.json" >"$dir/lmtpd.log" 2>&1 &
  TARGET_PID=$!
  bench_track_pid "$TARGET_PID"
  wait_unix "$dir/lmtp" 20
  LMTP_SOCKET=$dir/lmtp
}

target_stop() {
  stop_pid "$TARGET_PID"
  wait "$TARGET_PID" 2>/dev/null || true
}
