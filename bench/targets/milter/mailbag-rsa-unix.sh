# shellcheck shell=bash
# Milter target: mailbag-milter signing with the rsa key, milter socket: unix socket in the work dir.
OPENDKIM_ALG=rsa
OPENDKIM_SOCKET=unix
source "$(dirname "${BASH_SOURCE[0]}")/mailbag.sh"
