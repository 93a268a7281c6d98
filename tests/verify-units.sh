#!/bin/sh
# tests/verify-units.sh SOURCE_DIR BUILD_DIR - systemd-analyze verify on
# every unit in deploy/systemd, with its programs pointed at the build
# (verify checks that ExecStart names an executable). Skipped (exit 77)
# where systemd-analyze is missing.
set -eu
src=$1
build=$2
command -v systemd-analyze >/dev/null 2>&1 || { echo "no systemd-analyze: skipped"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for unit in "$src"/deploy/systemd/*.in; do
  name=$(basename "$unit" .in)
  sed -e "s|@SBINDIR@/mailbag-policyd|$build/policyd/mailbag-policyd|" \
      -e "s|@SBINDIR@/mailbag-lmtpd|$build/lmtp-bridge/mailbag-lmtpd|" \
      -e "s|@SBINDIR@/mailbag-milter|$build/milter/mailbag-milter|" \
      -e "s|@BINDIR@/mailbag|$build/cli/mailbag|" \
      -e "s|@LIBEXECDIR@/mailbag/|$src/deploy/|" "$unit" >"$dir/$name"
  if grep -q '@[A-Z]*@' "$dir/$name"; then
    echo "$name: a placeholder is left unfilled" >&2
    exit 1
  fi
done
cp "$src"/deploy/systemd/*.timer "$dir/"
cd "$dir"
# --man=no: the man pages are not installed in a build tree
out=$(systemd-analyze verify --man=no ./*.service ./*.timer 2>&1) || { echo "$out" >&2; exit 1; }
# verify reports some problems as warnings only: any line about our units fails
if echo "$out" | grep -E 'mailbag-[a-z]+\.(service|timer)'; then
  exit 1
fi
echo "verified: $(ls)"
