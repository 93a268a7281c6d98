# shellcheck shell=bash
# Milter target: mailbag-milter signing with the ed25519 key, milter socket: loopback TCP.
OPENDKIM_ALG=ed25519
OPENDKIM_SOCKET=inet
source "$(dirname "${BASH_SOURCE[0]}")/mailbag.sh"
