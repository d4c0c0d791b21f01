#!/usr/bin/env bash
# The whole test suite: static checks, then every package's tests, the root
# end-to-end tests included (they mount the real FUSE file system, make real
# cgroups and run real processes under real seccomp filters, so run as
# root; as another user they skip with a message), natively and then on an
# aarch64 kernel under qemu.
set -euo pipefail
cd "$(dirname "$0")/.."

# The man page test renders docs/cgsyscall.8 and skips without a formatter.
if ! command -v groff >/dev/null && ! command -v man >/dev/null; then
	apt-get install -y --no-install-recommends groff-base
fi
echo "== go vet"
go vet ./...
GOARCH=arm64 go vet ./...
echo "== go test"
go test -count=1 -timeout 20m ./...
echo "== aarch64: the test binaries on an arm64 kernel under qemu-system-aarch64"
# Installs qemu and the arm64 packages it needs (cached under
# ~/.cache/cgsyscall-aarch64; README, section aarch64). CGSYSCALL_NO_AARCH64=1
# leaves it out, for a quick native run.
if [ "${CGSYSCALL_NO_AARCH64:-}" = 1 ]; then
	echo "skipped (CGSYSCALL_NO_AARCH64=1)"
else
	scripts/aarch64/run.sh
fi
