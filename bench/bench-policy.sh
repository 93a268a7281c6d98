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
kit=${BENCH_KIT:-$here/../../shared/bench}
[ -d "$kit" ] || kit=$here/../shared/bench
[ -d "$kit" ] || { echo "the shared bench kit is not at ../shared/bench" >&2; exit 1; }
build=${1:-$here/../build-release}
export MAILBAG_BUILD
MAILBAG_BUILD=$(cd "$build" && pwd)
export BENCH_TARGET_PATH=$here/targets
export POLICY_TARGETS=${POLICY_TARGETS:-dunno postgrey mailbag mailbag-redis}
export BENCH_RESULTS=${BENCH_RESULTS:-/tmp/peerbench/results/policy-$(date +%Y%m%d-%H%M%S).tsv}
mkdir -p "$(dirname "$BENCH_RESULTS")"
"$kit/bench-policy.sh"
/usr/bin/python3 "$here/ratios.py" "$BENCH_RESULTS" postgrey
