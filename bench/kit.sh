# shellcheck shell=bash
# bench/kit.sh - what the bench-*.sh wrappers share: find the shared kit
# (../shared/bench beside the checkout, or $BENCH_KIT), the build to measure
# (the first argument, default build-release), and point the kit at this
# repository's targets. Sets here, kit, MAILBAG_BUILD, BENCH_TARGET_PATH.
#   bench_kit_setup NAME [BUILD_DIR]   NAME names the results file
bench_kit_setup() {
  local name=$1 build=${2:-}
  [ -n "$build" ] || build=$here/../build-release
  kit=${BENCH_KIT:-$here/../../shared/bench}
  [ -d "$kit" ] || kit=$here/../shared/bench
  [ -d "$kit" ] || { echo "the shared bench kit is not at ../shared/bench" >&2; exit 1; }
  export MAILBAG_BUILD
  MAILBAG_BUILD=$(cd "$build" && pwd)
  export BENCH_TARGET_PATH=$here/targets
  export BENCH_RESULTS=${BENCH_RESULTS:-/tmp/peerbench/results/$name-$(date +%Y%m%d-%H%M%S).tsv}
  mkdir -p "$(dirname "$BENCH_RESULTS")"
}
