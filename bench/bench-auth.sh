#!/usr/bin/env bash
# bench/bench-auth.sh - Dovecot auth lookups beside passwd-file, in one run
#
#   sudo bash bench/bench-auth.sh [BUILD_DIR]
#
# Runs the shared kit's bench-auth.sh (../shared/bench) with this
# repository's target added (bench/targets/auth/mailbag.sh): the same
# users and hash served by Dovecot's own passwd-file and by the mailbag
# driver on LMDB, measured by the same load generator: AUTH PLAIN with
# password verification (auth), passdb lookups (pass) and userdb lookups
# (user), at each user count. Every kit variable works (AUTH_TARGETS,
# AUTH_USERS, AUTH_COUNT, BENCH_RUNS, BENCH_RESULTS ...). Then prints
# the medians and the ratios to passwd-file.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/kit.sh"
bench_kit_setup auth "${1:-}"
export AUTH_TARGETS=${AUTH_TARGETS:-passwd-file mailbag}
# mailbag keeps no plain-text passwords: compare on a real hash
export AUTH_SCHEMES=${AUTH_SCHEMES:-SHA512-CRYPT}
export AUTH_USERS=${AUTH_USERS:-1000 100000 1000000}
# the kit uses AUTH_COUNT_SLOW for every op of a hashed scheme; 20,000
# keeps the cheap pass/user lookups from ending in a blink
export AUTH_COUNT_SLOW=${AUTH_COUNT_SLOW:-20000}
"$kit/bench-auth.sh"
/usr/bin/python3 "$here/ratios.py" "$BENCH_RESULTS" passwd-file
