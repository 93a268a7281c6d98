# tests/tree-lib.sh - what tests/debian13 and tests/boot/run both do to
# the Debian trees they cache under /var/cache/mailbag-ci (sourced, not
# run): Debian's sources for the release, package scripts kept from
# starting services while a tree is made, and older trees of a recipe
# removed once a new one is complete.

# tree_sources TREE RELEASE MIRROR KEYRING: the release, its updates and
# its security suite from MIRROR, in deb822 form (debootstrap's
# sources.list goes)
tree_sources() {
  local tree=$1 release=$2 mirror=$3 keyring=$4
  cat >"$tree/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $release $release-updates
Components: main
Signed-By: $keyring

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: $release-security
Components: main
Signed-By: $keyring
SOURCES
  rm -f "$tree/etc/apt/sources.list"
}

# tree_no_services TREE: package scripts start nothing in TREE (they would
# start them on this host: a chroot shares its network); tree_services
# TREE undoes it
tree_no_services() {
  printf '#!/bin/sh\nexit 101\n' >"$1/usr/sbin/policy-rc.d"
  chmod 755 "$1/usr/sbin/policy-rc.d"
}
tree_services() {
  rm -f "$1/usr/sbin/policy-rc.d"
}

# tree_remove_older KEEP: the other trees PREFIX-HASH beside KEEP (KEEP
# is PREFIX-HASH itself), each only when nobody holds its lock
tree_remove_older() {
  local keep=$1 old
  for old in "${keep%-*}"-????????????; do
    [ -d "$old" ] && [ "$old" != "$keep" ] || continue
    ( flock -n 8 || exit 0; rm -rf --one-file-system "$old" "$old.log"; echo "   removed the old tree $old" ) 8>"$old.lock"
  done
}
