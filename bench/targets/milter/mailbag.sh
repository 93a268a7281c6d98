# shellcheck shell=bash
# Milter targets "mailbag-*": mailbag-milter signing for the kit's
# $DKIM_DOMAIN with the same key the opendkim targets use (the kit's
# opendkim_keys: RSA-2048 from opendkim-genkey, or Ed25519), relaxed/relaxed,
# for mail from 127.0.0.0/8 (milter.trusted_networks: smtp-source does not
# authenticate). The key is the domain's only one, so exactly one
# signature is made, as with opendkim. Sourced by the wrapper targets
# (mailbag-rsa.sh, mailbag-ed25519-unix.sh, ...), which set OPENDKIM_ALG
# (rsa|ed25519) and OPENDKIM_SOCKET (inet|unix).
#
# Tunables (environment):
#   MAILBAG_BUILD   build directory holding cli/ and milter/
source "$(dirname "${BASH_SOURCE[0]}")/../mailbag-common.sh"
source "$BENCH_HOME/targets/milter/opendkim.sh"   # opendkim_keys, DKIM_* names

target_start() {
  local dir=$1 listen=""
  opendkim_keys
  rm -rf "$dir/keys"
  mkdir -p "$dir/keys/$DKIM_DOMAIN"
  if [[ $OPENDKIM_SOCKET == inet ]]; then
    port_free "$PORT_MILTER"
    listen="$BENCH_HOST:$PORT_MILTER"
    MILTER_SPEC="inet:$BENCH_HOST:$PORT_MILTER"
  else
    MILTER_SPEC="unix:$dir/milter.sock"
  fi
  mailbag_bench_store "$dir" ", \"dkim\": {\"key_dir\": \"$dir/keys\"},
 \"milter\": {\"socket\": \"$dir/milter.sock\", \"listen_tcp\": \"$listen\", \"socket_group\": \"postfix\",
            \"trusted_networks\": [\"127.0.0.0/8\"]}"
  install -m 0640 -g mailbag "$DKIM_KEY" "$dir/keys/$DKIM_DOMAIN/$DKIM_SELECTOR.key"
  chgrp mailbag "$dir/keys" "$dir/keys/$DKIM_DOMAIN"
  chmod 0750 "$dir/keys" "$dir/keys/$DKIM_DOMAIN"
  "$MAILBAG_BUILD/milter/mailbag-milter" -c "$dir/context.json" >"$dir/milter.log" 2>&1 &
  TARGET_PID=$!
  bench_track_pid "$TARGET_PID"
  if [[ $OPENDKIM_SOCKET == unix ]]; then
    wait_unix "$dir/milter.sock" 20
  else
    wait_tcp "$PORT_MILTER" 20
  fi
}

target_stop() {
  stop_pid "$TARGET_PID"
  wait "$TARGET_PID" 2>/dev/null || true
}
