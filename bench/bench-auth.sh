#!/usr/bin/env bash
# bench/bench-auth.sh - Dovecot auth lookups and logins beside passwd-file, in one run
#
#   sudo bash bench/bench-auth.sh [BUILD_DIR]
#
# Runs the shared kit's bench-auth.sh (../shared/bench) with this
# repository's target added (bench/targets/auth/mailbag.sh): the same
# users and hash served by Dovecot's own passwd-file and by the mailbag
# driver on LMDB, measured by the same load generator: AUTH PLAIN with
# password verification (auth), passdb lookups (pass) and userdb lookups
# (user), at each user count, cold start and auth RSS. Every kit variable
# works (AUTH_TARGETS, AUTH_USERS, AUTH_COUNT, BENCH_RUNS, BENCH_RESULTS ...).
# Then bench/auth-logins.sh (same targets, users and results file): repeat
# and first logins with SHA512-CRYPT at each user count, first and repeat
# logins with Argon2id at mailbag's default cost at 1 and 8 clients, the
# p99 of a USER lookup while 8 clients log in with Argon2id, and the memory
# of the auth and auth-worker processes (its header lists its variables;
# AUTH_LOGIN_PHASES="" skips it, AUTH_KIT=0 skips the kit's part).
# Prints the medians and ratios to passwd-file (ratios.py) and issue 20's
# tables (auth-summary.py).
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
if [[ ${AUTH_KIT:-1} != 0 ]]; then
  "$kit/bench-auth.sh"
fi
if [[ -n ${AUTH_LOGIN_PHASES-sha512 argon2id} ]]; then
  "$here/auth-logins.sh" "$MAILBAG_BUILD"
fi
/usr/bin/python3 "$here/ratios.py" "$BENCH_RESULTS" passwd-file
/usr/bin/python3 "$here/auth-summary.py" "$BENCH_RESULTS" mailbag passwd-file
