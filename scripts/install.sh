#!/usr/bin/env bash
# Installs cgsyscall as a command, as mount(8)'s helper for the
# fuse.cgsyscall type, its manual page and a systemd unit. Mount it at boot
# one of two ways, not both:
#
#   - an /etc/fstab line (the first column is the mirrored cgroup directory):
#       /sys/fs/cgroup  /sys/fs/cgroup/syscalls  fuse.cgsyscall  defaults,X-mount.mkdir  0 0
#     (README: the mount point under a cgroup2 mount is a cgroup that a
#     reboot forgets, which X-mount.mkdir makes again)
#   - the unit cgsyscall.service (Type=notify, mirroring the cgroup v2 root),
#     which this script installs but does not enable.
#
# Run as root from the repository. PREFIX defaults to /usr/local, UNITDIR to
# /etc/systemd/system, SBINDIR (the helper's directory) to /sbin, MANDIR to
# $PREFIX/share/man.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}
unitdir=${UNITDIR:-/etc/systemd/system}
sbindir=${SBINDIR:-/sbin}
mandir=${MANDIR:-$prefix/share/man}
install -d "$prefix/bin" "$unitdir" "$sbindir" "$mandir/man8"
# Static (no cgo): a dynamically linked build starts about 1 ms slower, which every
# cgsyscall exec pays (measured: 2.0 against 3.1 ms for `cgsyscall help`).
# -buildvcs=auto: the commit for "cgsyscall version", also where GOFLAGS turns it off.
CGO_ENABLED=0 go build -buildvcs=auto -o "$prefix/bin/cgsyscall" ./cmd/cgsyscall
ln -sf "$prefix/bin/cgsyscall" "$sbindir/mount.fuse.cgsyscall"
install -m 644 docs/cgsyscall.8 "$mandir/man8/cgsyscall.8"
# The unit names the binary where this script put it.
sed "s#/usr/local/bin/cgsyscall#$prefix/bin/cgsyscall#g" scripts/cgsyscall.service \
	>"$unitdir/cgsyscall.service.new"
chmod 644 "$unitdir/cgsyscall.service.new"
mv "$unitdir/cgsyscall.service.new" "$unitdir/cgsyscall.service"
echo "installed $prefix/bin/cgsyscall, $sbindir/mount.fuse.cgsyscall,"
echo "  $mandir/man8/cgsyscall.8 and $unitdir/cgsyscall.service (not enabled)"
echo "to mount at /sys/fs/cgroup/syscalls at every boot, from now on:"
echo "  systemctl daemon-reload && systemctl enable --now cgsyscall.service"
echo "(or an fstab line of type fuse.cgsyscall; never both)"
