#!/usr/bin/env bash
# Installs cgsyscall as a command and as mount(8)'s helper for the
# fuse.cgsyscall type, so that an /etc/fstab line such as
#
#   /sys/fs/cgroup/unified  /sys/fs/cgroup/syscalls  fuse.cgsyscall  defaults  0 0
#
# mounts it at boot (the first column is the mirrored cgroup directory).
# Run as root from the repository. PREFIX defaults to /usr/local.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}
install -d "$prefix/bin"
go build -o "$prefix/bin/cgsyscall" ./cmd/cgsyscall
ln -sf "$prefix/bin/cgsyscall" /sbin/mount.fuse.cgsyscall
echo "installed $prefix/bin/cgsyscall and /sbin/mount.fuse.cgsyscall"
