#!/usr/bin/env bash
# bench/bench-lmtp-fanout.sh - one message to 50 recipients against one
# message to one, through mailbag-lmtpd and straight into Dovecot
#
#   sudo bash bench/bench-lmtp-fanout.sh [BUILD_DIR]
#
# The shared kit's LMTP bench has 8 users; this one sets up its own
# private Dovecot (the kit's lib/dovecot.sh) whose passdb/userdb is the
# mailbag driver, a store with 51 users (fan@ and 2fan@ .. 50fan@, the
# names smtp-source -r 50 uses) and mailbag-lmtpd in front. smtp-source -L
# delivers FANOUT_MSGS messages to 1 recipient and FANOUT_MSGS/10 to 50,
# one session, through the bridge and straight to Dovecot's lmtp socket.
# Recorded per run: ms per message; printed: the ratio of 50 recipients
# to 1 (the goal: at most 2) and of the bridge to Dovecot alone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/kit.sh"
bench_kit_setup lmtp-fanout "${1:-}"
source "$kit/lib/common.sh"
source "$kit/lib/dovecot.sh"
: "${FANOUT_MSGS:=1000}"
: "${FANOUT_SIZE:=1024}"

work=$BENCH_DIR/lmtp-fanout
dc=$work/dovecot
dc_stop "$dc"
rm -rf "$work"
mkdir -p "$work/mail" "$work/spool"
chown "$DC_MAIL_UID:$DC_MAIL_GID" "$work/mail"
source "$here/targets/mailbag-common.sh"
mailbag_bench_store "$work" ", \"mail_root\": \"$work/mail\",
 \"lmtpd\": {\"socket\": \"$work/lmtp\", \"dovecot_lmtp\": \"$dc/run/lmtp\", \"spool_dir\": \"$work/spool\",
           \"socket_group\": \"root\", \"socket_mode\": \"0666\"}"
hash=$(doveadm pw -s SHA512-CRYPT -p benchpw)
{ echo "fan@bench.test:$hash"; for ((i = 1; i <= 50; i++)); do echo "${i}fan@bench.test:$hash"; done; } >"$work/passwd"
mailbag_bench_import "$work" "$work/passwd" >/dev/null
mailbag_bench_dovecot_authdb "$work/context.json"
dc_setup "$dc" /dev/null
dc_start "$dc"
wait_unix "$dc/run/lmtp" 20
"$MAILBAG_BUILD/lmtp-bridge/mailbag-lmtpd" -c "$work/context.json" >"$work/lmtpd.log" 2>&1 &
lmtpd_pid=$!
bench_track_pid "$lmtpd_pid"
wait_unix "$work/lmtp" 20

"$PYTHON" "$kit/tools/mkmsg.py" --size "$FANOUT_SIZE" --from sender@bench.test --to fan@bench.test "$work/msg.eml"

# deliver TARGET SOCKET RCPTS MSGS -> ms per message
deliver() {
  local socket=$2 rcpts=$3 msgs=$4 t0 t
  rm -rf "${work:?}"/mail/*
  t0=$(now)
  "$POSTFIX_SBIN/smtp-source" -L -s 1 -m "$msgs" -r "$rcpts" -f sender@bench.test -t fan@bench.test \
    -F "$work/msg.eml" -d "unix:$socket" || die "smtp-source failed"
  t=$(elapsed_since "$t0")
  got=$(find "$work/mail" -path '*/Maildir/new/*' -type f | wc -l)
  [[ $got -eq $((rcpts * msgs)) ]] || log "WARN: $1 delivered $got of $((rcpts * msgs))"
  awk -v t="$t" -v n="$msgs" 'BEGIN { printf "%.3f", t * 1000 / n }'
}

for ((run = 1; run <= BENCH_RUNS; run++)); do
  for target in dovecot mailbag; do
    socket=$dc/run/lmtp
    [[ $target == mailbag ]] && socket=$work/lmtp
    deliver "$target" "$socket" 1 20 >/dev/null   # warm-up
    for rcpts in 1 50; do
      msgs=$FANOUT_MSGS
      ((rcpts == 50)) && msgs=$((FANOUT_MSGS / 10))
      ms=$(deliver "$target" "$socket" "$rcpts" "$msgs")
      log "fanout $target rcpts=$rcpts run $run: $ms ms/message"
      record lmtp-fanout "$target" "size=$FANOUT_SIZE rcpts=$rcpts" "$run" ms_per_message "$ms" ms \
        "smtp-source -L -s 1 -m $msgs -r $rcpts -d"
    done
  done
done
stop_pid "$lmtpd_pid"
dc_stop "$dc"
/usr/bin/python3 - "$BENCH_RESULTS" <<'PY'
import csv, statistics, sys
from collections import defaultdict
v = defaultdict(list)
for row in csv.reader(open(sys.argv[1]), delimiter="\t"):
    if len(row) >= 8 and row[5] == "ms_per_message":
        v[(row[2], row[3].split()[-1])].append(float(row[6]))
m = {k: statistics.median(x) for k, x in v.items()}
print("| target | ms/message, 1 rcpt | ms/message, 50 rcpts | 50 / 1 |")
print("|---|---|---|---|")
for t in ("dovecot", "mailbag"):
    a, b = m.get((t, "rcpts=1")), m.get((t, "rcpts=50"))
    if a and b:
        print("| %s | %.3f | %.3f | %.2f |" % (t, a, b, b / a))
for r in ("rcpts=1", "rcpts=50"):
    a, b = m.get(("dovecot", r)), m.get(("mailbag", r))
    if a and b:
        print("bridge / Dovecot alone, %s: %.2f x the time" % (r, b / a))
PY
