#!/usr/bin/env bash
# bench/bench-lmtp.sh - LMTP delivery through mailbag-lmtpd beside Dovecot's
# own LMTP, in one run
#
#   sudo bash bench/bench-lmtp.sh [BUILD_DIR]
#
# Runs the shared kit's bench-lmtp.sh (../shared/bench) with this
# repository's target added (bench/targets/lmtp/mailbag.sh): smtp-source in
# LMTP mode delivers the same messages (1 KB and 100 KB, 1 and 4 sessions)
# straight to Dovecot's lmtp socket and through mailbag-lmtpd in front of
# it. Every kit variable works (LMTP_TARGETS, LMTP_FSYNC, LMTP_MSGS,
# BENCH_RUNS, BENCH_RESULTS ...). Then prints the medians and the ratios to
# Dovecot alone: the goal is a bridge costing under 10% (ratio >= 0.90).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/kit.sh"
bench_kit_setup lmtp "${1:-}"
export LMTP_TARGETS=${LMTP_TARGETS:-dovecot mailbag}
export LMTP_FSYNC=${LMTP_FSYNC:-optimized}
"$kit/bench-lmtp.sh"
/usr/bin/python3 "$here/ratios.py" "$BENCH_RESULTS" dovecot
