#!/usr/bin/env bash
# bench/auth-logins.sh - first and repeat logins, SHA512-CRYPT and Argon2id,
# beside Dovecot's passwd-file (issue 20)
#
#   sudo bash bench/auth-logins.sh [BUILD_DIR]
#
# bench/bench-auth.sh runs this after the shared kit's bench-auth.sh, with
# the same results file; it also runs alone. Same targets (the kit's
# passwd-file, our targets/auth/mailbag.sh), the same users and the same
# private Dovecot (auth_cache_size = 0, so Dovecot caches nothing itself).
#
# SHA512-CRYPT, at each of AUTH_USERS (the kit's users u1..uN and hash):
#   repeat  after a warm-up, AUTH PLAIN logins of u1..u$AUTH_REPEAT_USERS
#           only, so every user logs in again and again (the kit's
#           authload.py --users 100, AUTH_CONC x AUTH_WINDOW in flight), for
#           AUTH_LOGIN_SECONDS a run
#   first   on a fresh Dovecot each run: distinct users, each at most once
#           (loginload.py --distinct over u1..uN), same shape and length
# Argon2id at mailbag's default cost (the hash `mailbag user add` writes,
# lib/password.c; passwd-file gets the very same string), AUTH_ARGON_USERS
# users, one Dovecot per target, 1 login in flight per client:
#   warm-up: u1..u100 once each; then per run
#   first   conc=1 and conc=8: users never logged in before (each run and
#           phase takes its own AUTH_ARGON_STRIDE users above u100)
#   mixed   the p99 of USER lookups on auth-master (1 client, 1 at a time)
#           while 8 clients make first logins; the same lookups idle first
#   repeat  conc=1 and conc=8 over u1..u100
# After each Dovecot's loads: the auth process's RSS, its anonymous part
# (RssAnon: heap, not the LMDB or passwd-file pages it maps) and its peak
# (VmHWM), and the auth-worker processes' (count, summed RSS and RssAnon,
# largest peak); during the mixed load too.
#
# Environment (defaults): AUTH_TARGETS="passwd-file mailbag"
#   AUTH_USERS="1000 100000 1000000" AUTH_CONC=8 AUTH_WINDOW=32 BENCH_RUNS
#   AUTH_LOGIN_PHASES="sha512 argon2id"
#   AUTH_LOGIN_SECONDS=5  AUTH_REPEAT_USERS=100  AUTH_WARMUP=1000
#   AUTH_ARGON_USERS=20000  AUTH_ARGON_STRIDE=1000  AUTH_ARGON_SECONDS=6
#   AUTH_MIXED_SECONDS=8  AUTH_ARGON_PASSWORD=benchpass
#   AUTH_LOGIN_DEBUG=0    1: auth_debug = yes, and count the driver's
#                         "credential cache hit/miss" lines per phase (slows
#                         every login down: for checking, not for figures)
# Needs lmdb-utils (mdb_dump reads the seed user's hash back).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/kit.sh"
bench_kit_setup auth "${1:-}"
source "$kit/lib/common.sh"
source "$BENCH_HOME/lib/dovecot.sh"
source "$here/targets/mailbag-common.sh"

: "${AUTH_TARGETS:=passwd-file mailbag}"
: "${AUTH_USERS:=1000 100000 1000000}"
: "${AUTH_CONC:=8}"
: "${AUTH_WINDOW:=32}"
: "${AUTH_LOGIN_PHASES:=sha512 argon2id}"
: "${AUTH_LOGIN_SECONDS:=5}"
: "${AUTH_REPEAT_USERS:=100}"
: "${AUTH_WARMUP:=1000}"
: "${AUTH_ARGON_USERS:=20000}"
: "${AUTH_ARGON_STRIDE:=1000}"
: "${AUTH_ARGON_SECONDS:=6}"
: "${AUTH_MIXED_SECONDS:=8}"
: "${AUTH_ARGON_PASSWORD:=benchpass}"
: "${AUTH_LOGIN_DEBUG:=0}"

WORK="$BENCH_DIR/auth"
DC="$WORK/dovecot-logins"
AUTHLOAD=("$PYTHON" "$BENCH_HOME/tools/authload.py")
LOGINLOAD=("$PYTHON" "$here/loginload.py" --kit "$BENCH_HOME")
mkdir -p "$WORK/data"
dc_stop "$DC"   # leftover from an interrupted run of ours

argon_needed=$((AUTH_REPEAT_USERS + BENCH_RUNS * 3 * AUTH_ARGON_STRIDE))
((AUTH_ARGON_USERS >= argon_needed)) ||
  die "AUTH_ARGON_USERS=$AUTH_ARGON_USERS is too few for $BENCH_RUNS runs: first logins need $argon_needed users (or lower AUTH_ARGON_STRIDE)"

# load_run NAME CMD... - run a load tool in the background (Ctrl-C stops
# it); its key=value line lands in $WORK/NAME.out. A tool that stops on its
# time limit exits 2 with a good line: the failed= count says what failed.
load_run() {
  local name=$1
  shift
  bg_run "$WORK/$name.out" "$@" || true
  [[ -s $WORK/$name.out ]] || die "$* printed nothing"
  cat "$WORK/$name.out"
}

# start_instance USERS - a fresh private Dovecot for the prepared target,
# its auth process started and the user data loaded by one PASS lookup
# (which verifies nothing, so it caches no credential)
start_instance() {
  local extra=${DC_EXTRA_CONF:-}
  [[ $AUTH_LOGIN_DEBUG != 1 ]] || extra+=$'\nauth_debug = yes'
  rm -rf "$DC"
  cache_seen=0
  DC_EXTRA_CONF=$extra dc_setup "$DC" "$AUTH_DATA_FILE"
  dc_start "$DC"
  load_run prime "${AUTHLOAD[@]}" --socket "$DC/run/auth-master" --op pass --users "$1" \
    --count 1 --conc 1 --window 1 >/dev/null
}

# cache_lines TARGET PARAMS RUN - with AUTH_LOGIN_DEBUG=1: the driver's
# credential cache hits and misses logged since the last call
cache_seen=0
cache_lines() {
  [[ $AUTH_LOGIN_DEBUG == 1 ]] || return 0
  local log="$DC/dovecot.log" hits misses total
  [[ -f $DC/dovecot-info.log ]] && log="$DC/dovecot-info.log"
  total=$(wc -l <"$log")
  hits=$(tail -n "+$((cache_seen + 1))" "$log" | grep -c 'mailbag: credential cache hit' || true)
  misses=$(tail -n "+$((cache_seen + 1))" "$log" | grep -c 'mailbag: credential cache miss' || true)
  cache_seen=$total
  record auth "$1" "$2" "$3" cache_hits "$hits" count "auth_debug lines 'mailbag: credential cache hit'"
  record auth "$1" "$2" "$3" cache_misses "$misses" count "auth_debug lines 'mailbag: credential cache miss'"
  log "auth $1 $2 run $3: credential cache hits=$hits misses=$misses"
}

# status_kb PID FIELD - VmRSS or VmHWM of PID in KiB (0 if gone)
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
mib() { awk -v k="${1:-0}" 'BEGIN { printf "%.1f", k / 1024 }'; }

# record_processes TARGET PARAMS WHEN - memory of the auth process and of
# the auth-worker processes now
record_processes() {
  local target=$1 p="$2 at=$3" apid wpids pid n=0 rss=0 anon=0 hwm=0 r h
  apid=$(dc_auth_pid "$DC")
  if [[ -n $apid ]]; then
    record auth "$target" "$p" 1 auth_rss "$(mib "$(status_kb "$apid" VmRSS)")" MiB "VmRSS of dovecot/auth"
    record auth "$target" "$p" 1 auth_hwm "$(mib "$(status_kb "$apid" VmHWM)")" MiB "VmHWM (peak RSS) of dovecot/auth"
    record auth "$target" "$p" 1 auth_anon "$(mib "$(status_kb "$apid" RssAnon)")" MiB "RssAnon (heap and stacks, no file pages) of dovecot/auth"
  fi
  # the auth-worker service runs "auth -w" (its title: .../auth -w)
  wpids=$(ps -o pid=,args= --ppid "$DC_MASTER_PID" |
    awk '($2 ~ /\/auth$/ && $3 == "-w") || $2 ~ /\/auth-worker/ { print $1 }')
  for pid in $wpids; do
    r=$(status_kb "$pid" VmRSS)
    h=$(status_kb "$pid" VmHWM)
    n=$((n + 1))
    rss=$((rss + ${r:-0}))
    anon=$((anon + $(status_kb "$pid" RssAnon)))
    ((${h:-0} > hwm)) && hwm=$h
  done
  record auth "$target" "$p" 1 worker_count "$n" count "dovecot/auth-worker processes"
  record auth "$target" "$p" 1 worker_rss "$(mib "$rss")" MiB "VmRSS summed over dovecot/auth-worker processes"
  record auth "$target" "$p" 1 worker_anon "$(mib "$anon")" MiB "RssAnon summed over dovecot/auth-worker processes"
  record auth "$target" "$p" 1 worker_hwm "$(mib "$hwm")" MiB "largest VmHWM of a dovecot/auth-worker process"
  log "auth $target $p: dovecot children: $(ps -o pid=,time=,rss=,args= --ppid "$DC_MASTER_PID" | tr '\n' ';')"
}

# record_logins TARGET PARAMS RUN CMD OUT - a loginload/authload line's rows
record_logins() {
  local target=$1 q=$2 run=$3 cmd=$4 out=$5 failed
  record auth "$target" "$q" "$run" rps "$(kv rps <<<"$out")" logins/s "$cmd"
  if [[ $out == *" p99_ms="* ]]; then
    record auth "$target" "$q" "$run" p50 "$(kv p50_ms <<<"$out")" ms "$cmd"
    record auth "$target" "$q" "$run" p99 "$(kv p99_ms <<<"$out")" ms "$cmd"
  else
    record auth "$target" "$q" "$run" batch_p99 "$(kv batch_p99_ms <<<"$out")" ms "$cmd"
  fi
  failed=$(kv failed <<<"$out")
  record auth "$target" "$q" "$run" failed "$failed" count "$cmd"
  record auth "$target" "$q" "$run" client_cpu "$(kv client_cpu_pct <<<"$out")" % "$cmd"
  [[ $failed == 0 ]] || log "WARN: auth $target $q run $run: $failed logins failed ($(kv bad <<<"$out"))"
}

# sha512_logins TARGET USERS - repeat and first logins on the kit's users
sha512_logins() {
  local target=$1 users=$2 scheme=SHA512-CRYPT p q run args out cmd shape
  target_prepare "$WORK" "$users" "$scheme"
  p="users=$users scheme=$scheme"
  shape="--conc $AUTH_CONC --window $AUTH_WINDOW"

  start_instance "$users"
  # shellcheck disable=SC2086
  load_run warmup "${AUTHLOAD[@]}" --socket "$DC/run/auth-client" --op auth \
    --users "$AUTH_REPEAT_USERS" --count "$AUTH_WARMUP" $shape --seed 99 >/dev/null
  cache_lines "$target" "$p op=warmup" 1
  q="$p op=repeat conc=$AUTH_CONC window=$AUTH_WINDOW"
  for ((run = 1; run <= BENCH_RUNS; run++)); do
    args="--op auth --users $AUTH_REPEAT_USERS --count 1000000000 $shape --seed $run --time-limit $AUTH_LOGIN_SECONDS"
    cmd="authload.py --socket auth-client $args (after a warm-up of $AUTH_WARMUP)"
    # shellcheck disable=SC2086
    out=$(load_run repeat "${AUTHLOAD[@]}" --socket "$DC/run/auth-client" $args)
    log "auth $target $q run $run: $out"
    record_logins "$target" "$q" "$run" "$cmd" "$out"
    cache_lines "$target" "$q" "$run"
  done
  record_processes "$target" "$p" repeat
  dc_stop "$DC"

  q="$p op=first conc=$AUTH_CONC window=$AUTH_WINDOW"
  for ((run = 1; run <= BENCH_RUNS; run++)); do
    start_instance "$users"
    args="--from 1 --to $users --distinct $shape --seed $run --time-limit $AUTH_LOGIN_SECONDS"
    cmd="loginload.py logins --socket auth-client $args (fresh Dovecot)"
    # shellcheck disable=SC2086
    out=$(load_run first "${LOGINLOAD[@]}" logins --socket "$DC/run/auth-client" $args)
    log "auth $target $q run $run: $out"
    record_logins "$target" "$q" "$run" "$cmd" "$out"
    cache_lines "$target" "$q" "$run"
    ((run < BENCH_RUNS)) || record_processes "$target" "$p" first
    dc_stop "$DC"
  done
}

# argon2id_data - the Argon2id users for both targets: one user made by
# `mailbag user add` (mailbag's own hashing, its default cost), its hash
# read back from the store and written for u1..uN into the kit's
# passwd-file path, which the passwd-file target serves and our mailbag
# target imports (kept for later runs)
argon2id_data() {
  local seed="$WORK/data/argon2id-seed" passwd="$WORK/data/passwd-$AUTH_ARGON_USERS-ARGON2ID" hash
  local mb=("$MAILBAG_BUILD/cli/mailbag" --context "$seed/context.json")
  if [[ ! -s $seed/hash ]]; then
    rm -rf "$seed"
    mailbag_bench_store "$seed" ', "mail_root": "/nonexistent"'
    "${mb[@]}" domain add bench.test >/dev/null
    printf '%s\n' "$AUTH_ARGON_PASSWORD" | "${mb[@]}" user add --password-stdin seed@bench.test >/dev/null
    mdb_dump -a -p "$seed/store" | grep -ao '{ARGON2ID}[^"]*' | head -1 >"$seed/hash.tmp"
    [[ -s $seed/hash.tmp ]] || die "no {ARGON2ID} hash for seed@bench.test in $seed/store (mdb_dump -a -p)"
    mv "$seed/hash.tmp" "$seed/hash"
    log "mailbag user add wrote $(cut -d'$' -f1-4 "$seed/hash")\$..."
  fi
  hash=$(<"$seed/hash")
  if [[ ! -s $passwd ]] || [[ $(head -1 "$passwd" | cut -d: -f2) != "$hash" ]]; then
    log "writing $passwd ($AUTH_ARGON_USERS users, the seed's hash)"
    awk -v n="$AUTH_ARGON_USERS" -v h="$hash" 'BEGIN {
      for (i = 1; i <= n; i++) printf "u%d@bench.test:%s:65534:65534::/nonexistent/u%d::\n", i, h, i }' >"$passwd.tmp"
    mv "$passwd.tmp" "$passwd"
    rm -rf "$WORK/data/mailbag-$AUTH_ARGON_USERS-ARGON2ID"   # re-import
  fi
}

# argon_first TARGET PARAMS RUN SLOT CONC - first logins of a slot's users
argon_first() {
  local target=$1 p=$2 run=$3 slot=$4 conc=$5 from to args out q
  from=$((AUTH_REPEAT_USERS + 1 + slot * AUTH_ARGON_STRIDE))
  to=$((from + AUTH_ARGON_STRIDE - 1))
  q="$p op=first conc=$conc"
  args="--from $from --to $to --distinct --conc $conc --window 1 --seed $run --time-limit $AUTH_ARGON_SECONDS --password $AUTH_ARGON_PASSWORD"
  # shellcheck disable=SC2086
  out=$(load_run argon "${LOGINLOAD[@]}" logins --socket "$DC/run/auth-client" $args)
  log "auth $target $q run $run: ${out}"
  [[ $(kv completed <<<"$out") != "$AUTH_ARGON_STRIDE" ]] ||
    log "WARN: all $AUTH_ARGON_STRIDE users of the slot logged in before the time limit: raise AUTH_ARGON_STRIDE"
  record_logins "$target" "$q" "$run" "loginload.py logins --socket auth-client ${args% --password*}" "$out"
  cache_lines "$target" "$q" "$run"
}

# argon2id_logins TARGET - first, repeat and mixed, one Dovecot
argon2id_logins() {
  local target=$1 users=$AUTH_ARGON_USERS p q run args out slot pid cmd from conc
  target_prepare "$WORK" "$users" ARGON2ID
  p="users=$users scheme=ARGON2ID"
  start_instance "$users"
  load_run warmup "${LOGINLOAD[@]}" logins --socket "$DC/run/auth-client" --from 1 \
    --to "$AUTH_REPEAT_USERS" --distinct --conc 8 --window 1 --time-limit 600 \
    --password "$AUTH_ARGON_PASSWORD" >/dev/null
  cache_lines "$target" "$p op=warmup" 1
  for ((run = 1; run <= BENCH_RUNS; run++)); do
    slot=$(((run - 1) * 3))
    argon_first "$target" "$p" "$run" "$slot" 1
    argon_first "$target" "$p" "$run" $((slot + 1)) 8

    # mixed: USER lookups while 8 clients make first logins
    from=$((AUTH_REPEAT_USERS + 1 + (slot + 2) * AUTH_ARGON_STRIDE))
    args="--from $from --to $((from + AUTH_ARGON_STRIDE - 1)) --distinct --conc 8 --window 1 --seed $run --time-limit $AUTH_MIXED_SECONDS"
    cmd="loginload.py mixed --socket auth-client --master auth-master $args"
    # shellcheck disable=SC2086
    "${LOGINLOAD[@]}" mixed --socket "$DC/run/auth-client" --master "$DC/run/auth-master" $args \
      --password "$AUTH_ARGON_PASSWORD" >"$WORK/mixed.out" &
    pid=$!
    bench_track_pid "$pid"
    sleep "$(awk -v s="$AUTH_MIXED_SECONDS" 'BEGIN { print s / 2 + 1 }')"
    ((run > 1)) || record_processes "$target" "$p" during-mixed
    wait "$pid" || true
    bench_untrack_pid "$pid"
    out=$(<"$WORK/mixed.out")
    [[ -n $out ]] || die "loginload.py mixed printed nothing"
    log "auth $target $p mixed run $run: $out"
    q="$p op=user-lookup during=idle"
    record auth "$target" "$q" "$run" p50 "$(kv idle_p50_ms <<<"$out")" ms "$cmd"
    record auth "$target" "$q" "$run" p99 "$(kv idle_p99_ms <<<"$out")" ms "$cmd"
    record auth "$target" "$q" "$run" max "$(kv idle_max_ms <<<"$out")" ms "$cmd"
    q="$p op=user-lookup during=8-first-logins"
    record auth "$target" "$q" "$run" p50 "$(kv probe_p50_ms <<<"$out")" ms "$cmd"
    record auth "$target" "$q" "$run" p99 "$(kv probe_p99_ms <<<"$out")" ms "$cmd"
    record auth "$target" "$q" "$run" max "$(kv probe_max_ms <<<"$out")" ms "$cmd"
    record auth "$target" "$q" "$run" rps "$(kv probe_rps <<<"$out")" lookups/s "$cmd"
    record auth "$target" "$q" "$run" failed "$(kv probe_failed <<<"$out")" count "$cmd"
    q="$p op=first-beside-lookups conc=8"
    record auth "$target" "$q" "$run" rps "$(kv login_rps <<<"$out")" logins/s "$cmd"
    record auth "$target" "$q" "$run" failed "$(kv login_failed <<<"$out")" count "$cmd"
    cache_lines "$target" "$q" "$run"

    for conc in 1 8; do
      q="$p op=repeat conc=$conc"
      args="--from 1 --to $AUTH_REPEAT_USERS --conc $conc --window 1 --seed $run --time-limit $AUTH_ARGON_SECONDS"
      # shellcheck disable=SC2086
      out=$(load_run argon "${LOGINLOAD[@]}" logins --socket "$DC/run/auth-client" $args \
            --password "$AUTH_ARGON_PASSWORD")
      log "auth $target $q run $run: $out"
      record_logins "$target" "$q" "$run" "loginload.py logins --socket auth-client $args (after u1..u$AUTH_REPEAT_USERS once each)" "$out"
      cache_lines "$target" "$q" "$run"
    done
  done
  record_processes "$target" "$p" end
  dc_stop "$DC"
}

if selected argon2id "$AUTH_LOGIN_PHASES"; then argon2id_data; fi
for target in $AUTH_TARGETS; do
  tfile=$(find_target auth "$target") || die "unknown auth target $target"
  # shellcheck source=/dev/null
  source "$tfile"
  if selected sha512 "$AUTH_LOGIN_PHASES"; then
    for users in $AUTH_USERS; do sha512_logins "$target" "$users"; done
  fi
  if selected argon2id "$AUTH_LOGIN_PHASES"; then argon2id_logins "$target"; fi
  target_cleanup "$WORK"
done
log "auth login bench done; results in $BENCH_RESULTS"
