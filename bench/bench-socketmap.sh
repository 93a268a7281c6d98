#!/usr/bin/env bash
# bench/bench-socketmap.sh - socketmap lookups/s beside Postfix's own lmdb: table
#
#   sudo bash bench/bench-socketmap.sh [BUILD_DIR]
#
# One client for all: Postfix's `postmap -q -`, which reads keys from
# stdin and looks each up in one process, as smtpd and cleanup do. Peers:
#   lmdb       the table postmap'ed and memory-mapped in the client: no
#              IPC at all, the floor of what a lookup costs
#   proxy-lmdb the same table through Postfix's proxymap server (a private
#              Postfix instance from ../shared/bench/lib/postfix.sh): the
#              IPC lookup service Postfix itself offers
# Ours: socketmap: to mailbag-policyd, one request in flight on one unix
# connection, backed by the LMDB store. Same users, same keys (90% hits,
# 10% misses), BENCH_RUNS runs each; prints the median lookups/s and the
# ratio, and appends rows to $BENCH_RESULTS in the shared kit's format:
#   time bench target params run metric value unit command
# Environment: BENCH_USERS (10000), BENCH_LOOKUPS (200000), BENCH_RUNS (5),
# BENCH_DIR (/tmp/mailbag-bench), BENCH_RESULTS ($BENCH_DIR/results.tsv).
set -euo pipefail
build=${1:-build}
build=$(cd "$build" && pwd)
users=${BENCH_USERS:-10000}
lookups=${BENCH_LOOKUPS:-200000}
runs=${BENCH_RUNS:-5}
dir=${BENCH_DIR:-/tmp/mailbag-bench}
results=${BENCH_RESULTS:-$dir/results.tsv}
hash='{SHA512-CRYPT}$6$fg2oPU/.HqGtHoMD$0tzWzyVmLRZ4.ofTKQmkdEJ7vK8AQcqNsfkXmd3/hOqZ8FjIdnhQ973W.TXaALZDTgdHJT4ufVTPcaNN.3KZd.'

[ "$(id -u)" -eq 0 ] || { echo "run as root (policyd drops to the mailbag user)" >&2; exit 77; }
id mailbag >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin mailbag
[ -f /etc/postfix/main.cf ] || touch /etc/postfix/main.cf

rm -rf "$dir"; mkdir -p "$dir"; chmod 755 "$dir"
ctx=$dir/context.json
export MAILBAG_CONTEXT=$ctx
cat >"$ctx" <<JSON
{"hostname": "bench.example", "store": "lmdb:$dir/store", "mail_root": "$dir/vmail",
  "policyd": {"socketmap_socket": "$dir/socketmap", "policy_socket": "$dir/policy",
             "usage_socket": "$dir/usage", "socket_group": "mailbag"}}
JSON
"$build/cli/mailbag" init >/dev/null
"$build/cli/mailbag" domain add bench.example >/dev/null

echo "== creating $users users (store and lmdb: table)"
: >"$dir/virtual"
for ((i = 0; i < users; i++)); do
  echo "user$i@bench.example OK" >>"$dir/virtual"
done
# the store: one CLI call per user, as an admin script would
for ((i = 0; i < users; i++)); do
  "$build/cli/mailbag" user add --hash "$hash" "user$i@bench.example" >/dev/null
done
postmap "lmdb:$dir/virtual"
awk -v n="$lookups" -v u="$users" 'BEGIN { srand(1); for (i = 0; i < n; i++) {
  if (i % 10 == 9) print "nobody" i "@bench.example"; else print "user" int(rand() * u) "@bench.example" } }' >"$dir/keys"

"$build/policyd/mailbag-policyd" -c "$ctx" 2>"$dir/policyd.log" &
pd=$!
# a private Postfix for proxymap, with the shared kit's helpers
shared=$(cd "$(dirname "$0")/../../shared/bench" 2>/dev/null && pwd || true)
[ -n "$shared" ] || { echo "../shared/bench not found beside the checkout" >&2; exit 1; }
BENCH_DIR=$dir/peer BENCH_RESULTS=$results
# shellcheck source=/dev/null
. "$shared/lib/common.sh"
# shellcheck source=/dev/null
. "$shared/lib/postfix.sh"
trap 'kill $pd 2>/dev/null; wait $pd 2>/dev/null || true; pf_stop "$dir/peer/pf" 2>/dev/null || true' EXIT
mkdir -p "$dir/peer"
pf_setup "$dir/peer/pf" 20925 "" 2>/dev/null
postconf -c "$dir/peer/pf/etc" -e "proxy_read_maps = proxy:lmdb:$dir/virtual"
pf_start "$dir/peer/pf" 2>/dev/null
for _ in $(seq 50); do [ -S "$dir/socketmap" ] && break; sleep 0.1; done

run_one() { # table config_dir -> seconds
  local start end
  start=$(date +%s.%N)
  postmap -c "$2" -q - "$1" <"$dir/keys" >"$dir/out"
  end=$(date +%s.%N)
  echo "$start $end" | awk '{ printf "%.4f\n", $2 - $1 }'
}
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

declare -A rate
for target in lmdb proxy-lmdb socketmap; do
  case $target in
    lmdb) table="lmdb:$dir/virtual"; conf=/etc/postfix ;;
    proxy-lmdb) table="proxy:lmdb:$dir/virtual"; conf=$dir/peer/pf/etc ;;
    socketmap) table="socketmap:unix:$dir/socketmap:virtual_mailbox_maps"; conf=/etc/postfix ;;
  esac
  secs=()
  for ((r = 1; r <= runs; r++)); do
    s=$(run_one "$table" "$conf")
    hits=$(wc -l <"$dir/out")
    want=$((lookups - lookups / 10))
    [ "$hits" -eq "$want" ] || { echo "$target: $hits answers, want $want" >&2; exit 1; }
    secs+=("$s")
    printf '%s\tsocketmap\t%s\tusers=%d,lookups=%d\t%d\tlookups_per_s\t%.0f\tlookups/s\tpostmap -q - %s\n' \
      "$(date -u +%FT%TZ)" "$target" "$users" "$lookups" "$r" "$(echo "$lookups $s" | awk '{print $1/$2}')" \
      "$table" >>"$results"
  done
  med=$(printf '%s\n' "${secs[@]}" | median)
  rate[$target]=$(echo "$lookups $med" | awk '{ printf "%.0f", $1 / $2 }')
  echo "$target: ${rate[$target]} lookups/s (median of $runs runs of $lookups)"
done
echo "ratio socketmap/proxy-lmdb: $(echo "${rate[socketmap]} ${rate[proxy-lmdb]}" | awk '{ printf "%.2f", $1 / $2 }')"
echo "ratio socketmap/lmdb:       $(echo "${rate[socketmap]} ${rate[lmdb]}" | awk '{ printf "%.2f", $1 / $2 }')"
echo "rows appended to $results"
