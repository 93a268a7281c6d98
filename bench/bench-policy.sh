#!/usr/bin/env bash
# bench/bench-policy.sh - policy delegation beside postgrey, in one run
#
#   sudo bash bench/bench-policy.sh [BUILD_DIR]
#
# Runs the shared kit's bench-policy.sh (../shared/bench) with this
# repository's targets added (bench/targets/policy): mailbag (LMDB) and
# mailbag-redis, beside postgrey and the null target dunno, with the same
# load generator, scenarios (distinct: every triplet new; repeat: known
# triplets that pass) and concurrencies. Every kit variable works
# (POLICY_TARGETS, POLICY_CONC, POLICY_N, BENCH_RUNS, BENCH_RESULTS ...).
# Then prints the medians and the ratios to postgrey.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/kit.sh"
bench_kit_setup policy "${1:-}"
export POLICY_TARGETS=${POLICY_TARGETS:-dunno postgrey mailbag mailbag-redis}
"$kit/bench-policy.sh"
/usr/bin/python3 "$here/ratios.py" "$BENCH_RESULTS" postgrey
