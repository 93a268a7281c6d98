# shellcheck shell=bash
# Milter target: mailbag-milter signing with the ed25519 key, milter socket: unix socket in the work dir.
OPENDKIM_ALG=ed25519
OPENDKIM_SOCKET=unix
source "$(dirname "${BASH_SOURCE[0]}")/mailbag.sh"
