#!/usr/bin/env bash
# The whole test suite: static checks, then every package's tests, the root
# end-to-end tests included (they mount the real FUSE file system, make real
# cgroups and run real processes under real seccomp filters, so run as
# root; as another user they skip with a message), natively and then on an
# aarch64 kernel under qemu.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages some tests need, installed only when missing and only as
# root: crun runs exported OCI profiles (TestExportRunsInCrun), and groff
# renders the man page (TestManPageRenders).
need=()
command -v crun >/dev/null || need+=(crun)
command -v groff >/dev/null || command -v man >/dev/null || need+=(groff-base)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
	echo "== installing ${need[*]}"
	aptlog=$(mktemp /tmp/cgsyscall-apt.XXXXXX)
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need[@]}" \
		>"$aptlog" 2>&1 ||
		{ apt-get -o DPkg::Lock::Timeout=300 update -qq >>"$aptlog" 2>&1 &&
			apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
				"${need[@]}" >>"$aptlog" 2>&1; } ||
		{ cat "$aptlog" >&2; rm -f "$aptlog"; exit 1; }
	rm -f "$aptlog"
fi

echo "== go vet"
go vet ./...
GOARCH=arm64 go vet ./...
echo "== go test"
go test -count=1 -timeout 20m ./...
echo "== aarch64: the test binaries on an arm64 kernel under qemu-system-aarch64"
# Installs qemu and the arm64 packages it needs (cached under
# ~/.cache/cgsyscall-aarch64; docs/AARCH64.md). CGSYSCALL_NO_AARCH64=1
# leaves it out, for a quick native run.
if [ "${CGSYSCALL_NO_AARCH64:-}" = 1 ]; then
	echo "skipped (CGSYSCALL_NO_AARCH64=1)"
else
	scripts/aarch64/run.sh
fi
