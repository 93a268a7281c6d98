# shellcheck shell=bash
# Auth target "mailbag": Dovecot's passdb + userdb from the mailbag driver
# (libauthdb_mailbag.so) on the embedded LMDB store, holding the same users
# (u1..uN@bench.test) and the same hash as the kit's passwd-file target:
# its passwd-file is imported with `mailbag user import`. Sourced by the
# shared kit's bench-auth.sh through BENCH_TARGET_PATH (bench/bench-auth.sh).
#
# mailbag stores no plain-text passwords: use a hashed scheme
# (AUTH_SCHEMES=SHA512-CRYPT). A change in the store is live at the next
# lookup, with no file to re-read, so there is no reload to time
# (AUTH_DATA_FILE stays empty).
#
# Tunables (environment):
#   MAILBAG_BUILD   build directory holding cli/ and dovecot-plugin/
source "$(dirname "${BASH_SOURCE[0]}")/../mailbag-common.sh"

target_prepare() {
  local dir=$1 users=$2 scheme=$3 passwd data
  [[ $scheme != PLAIN ]] || die "mailbag keeps no plain-text passwords: run it with AUTH_SCHEMES=SHA512-CRYPT (or another hash)"
  passwd="$BENCH_DIR/auth/data/passwd-$users-$scheme"
  mkdir -p "$BENCH_DIR/auth/data"
  if [[ ! -s $passwd ]]; then
    log "generating $passwd"
    "$PYTHON" "$BENCH_HOME/tools/gen_passwd.py" --count "$users" --scheme "$scheme" "$passwd"
  fi
  # one store per user count and scheme, kept for later runs like the
  # kit's passwd files
  data="$BENCH_DIR/auth/data/mailbag-$users-$scheme"
  if [[ ! -s $data/imported ]]; then
    rm -rf "$data"
    mailbag_bench_store "$data" ', "mail_root": "/nonexistent"'
    log "importing $users users into $data/store"
    local t0=$SECONDS
    mailbag_bench_import "$data" "$passwd" >"$data/imported"
    log "mailbag: $(cat "$data/imported") in $((SECONDS - t0)) s"
  fi
  AUTH_DATA_FILE=
  # the module goes to our Dovecot only, not into the system's directory
  mailbag_bench_dovecot_authdb "$data/context.json" private
}

target_cleanup() {
  unset DC_AUTHDB_CONF
  DC_EXTRA_CONF=
  DOVECOT_BIN=${MAILBAG_BENCH_SYSTEM_DOVECOT:-/usr/sbin/dovecot}
}
