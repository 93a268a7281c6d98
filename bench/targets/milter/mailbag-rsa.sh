# shellcheck shell=bash
# Milter target: mailbag-milter signing with the rsa key, milter socket: loopback TCP.
OPENDKIM_ALG=rsa
OPENDKIM_SOCKET=inet
source "$(dirname "${BASH_SOURCE[0]}")/mailbag.sh"
