#!/usr/bin/env bash
# bench/bench-milter.sh - DKIM signing in Postfix: mailbag-milter beside
# OpenDKIM, in one run
#
#   sudo bash bench/bench-milter.sh [BUILD_DIR]
#
# Runs the shared kit's bench-milter.sh (../shared/bench) with this
# repository's targets added (bench/targets/milter/mailbag-*.sh): the same
# smtp-source load into one Postfix, relayed to smtp-sink, with
# smtpd_milters = opendkim or mailbag-milter, each signing with the same
# key, RSA-2048 and Ed25519, over loopback TCP and over a unix socket; a
# sample of every target's output is verified with dkimpy first. Once
# with 1 SMTP session and once with 10 (MILTER_SESSIONS_LIST). Every kit
# variable works (MILTER_MSGS, BENCH_RUNS, BENCH_RESULTS ...). Prints the
# medians and each mailbag target's ratio to the OpenDKIM target of the
# same algorithm and socket.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/kit.sh"
bench_kit_setup milter "${1:-}"
export MILTER_TARGETS=${MILTER_TARGETS:-opendkim-rsa mailbag-rsa opendkim-ed25519 mailbag-ed25519 \
  opendkim-rsa-unix mailbag-rsa-unix opendkim-ed25519-unix mailbag-ed25519-unix}
for sessions in ${MILTER_SESSIONS_LIST:-1 10}; do
  # one session over TCP runs at ~11 msg/s with opendkim: fewer messages
  MILTER_SESSIONS=$sessions MILTER_MSGS=${MILTER_MSGS:-$((sessions == 1 ? 200 : 2000))} \
    "$kit/bench-milter.sh"
done
/usr/bin/python3 "$here/ratios.py" "$BENCH_RESULTS" "mailbag-=opendkim-"
