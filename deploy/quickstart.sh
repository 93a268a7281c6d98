#!/usr/bin/env bash
# deploy/quickstart.sh - install mailbag and run a private demo mail server
#
#   bash deploy/quickstart.sh [--domain example.test] [--user demo] [--root DIR] [--fresh]
#                             [--smtp-port N] [--submission-port N] [--submissions-port N]
#                             [--imap-port N] [--imaps-port N] [--sink-port N]
#
# As root, on Debian 12 or 13. What it installs on the host: Debian's
# Postfix, Dovecot, swaks and the build dependencies (apt-get; Debian's
# own postfix service is disabled), and mailbag (meson install: commands
# under /usr/local, the Dovecot auth module into /usr/lib/dovecot/modules/
# auth and, on Dovecot 2.4, its settings module into .../modules/settings);
# it adds the system users mailbag and vmail when missing. Then
# deploy/demo.py installs a mail server under DIR (default
# /var/lib/mailbag-demo) the way a host is installed (Debian's default
# Postfix and Dovecot configuration copied there, then `mailbag setup
# --root DIR`), and starts Postfix, Dovecot, mailbag-policyd, mailbag-lmtpd
# and mailbag-milter from those files on 127.0.0.1, with the embedded LMDB
# store: the demo domain and user with DKIM keys, a self-signed
# certificate, and an outbox Maildir that mail for other domains goes to,
# signed as it would leave. While it runs, DIR/postfix/etc
# is listed in alternate_config_directories of /etc/postfix/main.cf (taken
# out again when it stops); the host's own Postfix and Dovecot
# configuration is not touched otherwise. Ctrl-C stops everything it
# started; the same command again brings the same demo back (users, mail,
# password); --fresh starts over. Ports on 127.0.0.1: SMTP 2525,
# submission 2587, submissions 2465, IMAP 2143, IMAPS 2993, outbox 2526.
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
    --fresh) extra+=("$1"); shift ;;
    --smtp-port|--submission-port|--submissions-port|--imap-port|--imaps-port|--sink-port)
      extra+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "quickstart: unknown option $1 (try --help)" >&2; exit 64 ;;
  esac
done
if [ "$(id -u)" -ne 0 ]; then
  echo "quickstart: run as root (bash deploy/quickstart.sh, as root)" >&2
  exit 77
fi

log=$(mktemp /tmp/mailbag-quickstart.XXXXXX)
trap 'rm -f "$log"' EXIT
# run a step quietly; on failure show what it said
quietly() {
  if ! "$@" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "quickstart: failed: $*" >&2
    exit 1
  fi
}

echo "== installing packages (apt-get: Postfix, Dovecot, swaks, build dependencies)"
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
quietly apt-get -o DPkg::Lock::Timeout=300 update -q
quietly env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q \
  --no-install-recommends \
  build-essential meson ninja-build pkg-config libjansson-dev liblmdb-dev \
  libsodium-dev libhiredis-dev libssl-dev libmilter-dev libopendkim-dev libspf2-dev libopendmarc-dev \
  publicsuffix python3-dnspython postfix dovecot-core dovecot-imapd dovecot-lmtpd dovecot-sieve dovecot-managesieved dovecot-dev \
  python3 openssl bsdutils swaks libnet-ssleay-perl
systemctl disable --now postfix >/dev/null 2>&1 || true

echo "== building and installing mailbag (meson install: /usr/local, Dovecot's module directories)"
[ -d build-release ] || quietly meson setup build-release --buildtype=release -Dtests=false
quietly ninja -C build-release
quietly meson install -C build-release

echo "== starting the demo server under $root"
rm -f "$log"
exec /usr/bin/python3 deploy/demo.py --root "$root" --domain "$domain" --user "$user" \
  ${extra[@]+"${extra[@]}"}
