# shellcheck shell=bash
# bench/targets/mailbag-common.sh - what the mailbag bench targets share
# (targets/auth/mailbag.sh, targets/lmtp/mailbag.sh, bench-lmtp-fanout.sh):
#
#   mailbag_bench_store DIR [CONTEXT_JSON_EXTRA]
#       a context DIR/context.json (store lmdb:DIR/store, the kit's mail
#       uid/gid, plus the extra top-level keys given, which begin with a
#       comma) readable by the mailbag group, and the store made by
#       `mailbag init`; creates the mailbag user if needed
#   mailbag_bench_import DIR FILE
#       `mailbag user import --create-domains FILE` into that store
#   mailbag_bench_dovecot_authdb CONTEXT [private]
#       DC_AUTHDB_CONF / DC_EXTRA_CONF for the kit's lib/dovecot.sh: the
#       mailbag passdb and userdb, the auth process in the mailbag group,
#       the module installed where Dovecot loads it; with "private", not
#       installed but given to our Dovecot alone (mailbag_bench_private_module)
#   mailbag_bench_private_module
#       DOVECOT_BIN becomes a wrapper that starts Dovecot in a mount
#       namespace of its own, where Dovecot's auth module directory is a
#       copy holding this build's libauthdb_mailbag.so: a bench run neither
#       replaces the module other Dovecots on the machine load (integration
#       tests install theirs there) nor measures theirs by mistake
: "${MAILBAG_BUILD:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build-release}"
: "${DOVECOT_AUTH_MODULE_DIR:=/usr/lib/dovecot/modules/auth}"

mailbag_bench_store() {
  local dir=$1 extra=${2:-}
  id mailbag >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin mailbag
  mkdir -p "$dir"
  chmod 755 "$dir"
  cat >"$dir/context.json" <<JSON
{"hostname": "bench.example", "store": "lmdb:$dir/store",
 "vmail_uid": ${DC_MAIL_UID:-65534}, "vmail_gid": ${DC_MAIL_GID:-65534},
 "policyd": {"usage_socket": "$dir/usage"}$extra}
JSON
  chmod 640 "$dir/context.json"
  chgrp mailbag "$dir/context.json"
  "$MAILBAG_BUILD/cli/mailbag" --context "$dir/context.json" init >/dev/null
}

mailbag_bench_import() {
  "$MAILBAG_BUILD/cli/mailbag" --context "$1/context.json" user import --create-domains "$2"
}

mailbag_bench_dovecot_authdb() {
  local context=$1
  if [[ ${2:-} == private ]]; then
    mailbag_bench_private_module
  else
    install -m 0644 "$MAILBAG_BUILD/dovecot-plugin/libauthdb_mailbag.so" "$DOVECOT_AUTH_MODULE_DIR/"
  fi
  DC_AUTHDB_CONF="passdb {
  driver = mailbag
  args = $context
}
userdb {
  driver = mailbag
  args = $context
}"
  # the auth process reads the store as a member of its group
  DC_EXTRA_CONF="service auth {
  extra_groups = mailbag
}"
}

mailbag_bench_private_module() {
  local modules="$BENCH_DIR/mailbag-auth-modules" wrapper="$BENCH_DIR/bin/dovecot-private-auth-modules" f
  : "${MAILBAG_BENCH_SYSTEM_DOVECOT:=${DOVECOT_BIN:-/usr/sbin/dovecot}}"
  rm -rf "$modules"
  mkdir -p "$modules" "$BENCH_DIR/bin"
  for f in "$DOVECOT_AUTH_MODULE_DIR"/*.so; do
    [[ -e $f && $(basename "$f") != libauthdb_mailbag.so ]] && cp -p "$f" "$modules/"
  done
  install -m 0644 "$MAILBAG_BUILD/dovecot-plugin/libauthdb_mailbag.so" "$modules/"
  chmod 755 "$modules"
  cat >"$wrapper" <<SH
#!/bin/sh
# written by bench/targets/mailbag-common.sh: Dovecot with this bench's auth
# modules ($modules) bound over $DOVECOT_AUTH_MODULE_DIR in a private mount namespace
exec unshare --mount --propagation private /bin/sh -c 'mount --bind "\$0" "$DOVECOT_AUTH_MODULE_DIR" && exec "$MAILBAG_BENCH_SYSTEM_DOVECOT" "\$@"' "$modules" "\$@"
SH
  chmod 755 "$wrapper"
  DOVECOT_BIN=$wrapper
}
