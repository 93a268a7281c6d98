#!/usr/bin/env bash
# deploy/quickstart.sh - install mailbag and run a private demo mail server
#
#   bash deploy/quickstart.sh [--domain example.test] [--user demo] [--root DIR]
#
# As root, on Debian 12 or 13: installs Postfix, Dovecot and the build dependencies,
# builds and installs mailbag (/usr/local, the Dovecot auth module into
# Dovecot's modules/auth), then starts a private instance of Postfix,
# Dovecot and mailbag-policyd on loopback ports with the embedded LMDB
# store under DIR (default /var/lib/mailbag-demo). It creates the demo
# domain and user, prints how to connect a mail client, and runs until
# Ctrl-C, which stops everything it started. Ports: SMTP 2525, submission
# 2587, IMAP 2143 on 127.0.0.1 (--smtp-port, --submission-port, --imap-port). The host's own Postfix and
# Dovecot configuration is not touched.
set -euo pipefail
cd "$(dirname "$0")/.."

domain=example.test
user=demo
root=/var/lib/mailbag-demo
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --domain) domain=$2; shift 2 ;;
    --user) user=$2; shift 2 ;;
    --root) root=$2; shift 2 ;;
    --smtp-port|--submission-port|--imap-port) extra+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "quickstart: unknown option $1 (try --help)" >&2; exit 64 ;;
  esac
done
if [ "$(id -u)" -ne 0 ]; then
  echo "quickstart: run as root (bash deploy/quickstart.sh, as root)" >&2
  exit 77
fi

echo "== installing packages"
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  build-essential meson ninja-build pkg-config libjansson-dev liblmdb-dev \
  libsodium-dev libhiredis-dev libssl-dev libmilter-dev libopendkim-dev libspf2-dev libopendmarc-dev \
  publicsuffix python3-dnspython postfix dovecot-core dovecot-imapd dovecot-lmtpd dovecot-sieve dovecot-dev \
  python3 openssl bsdutils swaks >/dev/null 2>&1
systemctl disable --now postfix >/dev/null 2>&1 || true

echo "== building and installing mailbag"
[ -d build-release ] || meson setup build-release --buildtype=release -Dtests=false >/dev/null
ninja -C build-release >/dev/null
meson install -C build-release --quiet

echo "== starting the demo server under $root"
if [ -e "$root/etc/context.json" ]; then
  echo "quickstart: $root already holds a demo server; remove it or pass --root" >&2
  exit 73
fi
exec /usr/bin/python3 tests/integration/mailstack.py --root "$root" \
  --mailbag /usr/local/bin/mailbag --policyd /usr/local/sbin/mailbag-policyd \
  --domain "$domain" --user "$user" ${extra[@]+"${extra[@]}"}
