#!/usr/bin/env bash
# The test suite on a real aarch64 kernel: Debian's arm64 kernel booted
# under qemu-system-aarch64 (full system emulation, no firmware), with an
# initramfs that holds the cross-compiled test binaries of every package
# with root tests, cgsyscall, the probe (arm64 and, for the AArch32 compat
# rules, arm), the inject victims, busybox for the shell tools (with
# Debian's dash as sh, bash, setpriv and strace, and their C library),
# fuse.ko, and a small Go /init (scripts/aarch64/init) that runs them and
# powers off. The console is read for the markers that /init prints; the exit
# status is 0 only when every package passed.
#
# Needs root (apt-get installs qemu-system-arm and the aarch64 C cross
# compiler when they are missing), Go and network access to Debian's
# packages for the first run. Downloads are cached in $CGSYSCALL_CACHE
# (default ~/.cache/cgsyscall-aarch64); a second run downloads nothing.
# The arm64 packages are fetched with a private apt state under the
# cache, so the machine's apt configuration and dpkg architectures are
# left as they were.
#
# Environment: CGSYSCALL_CACHE (cache directory), CGSYSCALL_AARCH64_LOG
# (where the console log goes; default $CGSYSCALL_CACHE/console.log),
# CGSYSCALL_AARCH64_RUN and CGSYSCALL_AARCH64_SKIP (-test.run and
# -test.skip patterns for every package; no spaces), CGSYSCALL_AARCH64_COUNT
# (-test.count, to run a rare failure again and again),
# CGSYSCALL_AARCH64_REFRESH=1 (fetch the newest kernel again),
# CGSYSCALL_TEST_DEBUG=1 (the daemons under test log debug detail),
# CGSYSCALL_TEST_LOG=1 (tests print their daemons' logs when they pass too),
# CGSYSCALL_KNOWN_FAILURES=1 (the tests known to fail there run too).
set -euo pipefail
cd "$(dirname "$0")/../.."

cache=${CGSYSCALL_CACHE:-$HOME/.cache/cgsyscall-aarch64}
log=${CGSYSCALL_AARCH64_LOG:-$cache/console.log}
mkdir -p "$cache"
work=$(mktemp -d /tmp/cgsyscall-aarch64.XXXXXX)
trap 'rm -rf "$work"' EXIT
t0=$SECONDS
say() { printf 'aarch64 [%3ds]: %s\n' $((SECONDS - t0)) "$*"; }

# Host tools: Debian packages, installed only when missing.
need=()
command -v qemu-system-aarch64 >/dev/null || need+=(qemu-system-arm)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
[ -e /usr/aarch64-linux-gnu/lib/libc.a ] || need+=(libc6-dev-arm64-cross)
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "aarch64: missing ${need[*]}: install them (apt-get) or run as root" >&2
		exit 1
	fi
	say "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
		"${need[@]}" >"$work/apt.log" 2>&1 ||
		{ apt-get -o DPkg::Lock::Timeout=300 update -qq >>"$work/apt.log" 2>&1 &&
			apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
				"${need[@]}" >>"$work/apt.log" 2>&1; } ||
		{ cat "$work/apt.log" >&2; exit 1; }
fi

# The Debian arm64 packages of the VM's userland besides the kernel.
userland=(busybox-static bash dash util-linux strace libc6 libtinfo6 libcap-ng0)
# The version of what the cache holds; a cache of another layout is
# fetched again.
layout=5

# fetch downloads the arm64 kernel and the userland into the cache,
# with apt's state kept under the cache (a private architecture list,
# package lists and download directory).
fetch() {
	local st=$cache/apt k=$cache/kernel
	mkdir -p "$st/lists/partial" "$st/archives/partial"
	: >"$st/status"
	local apt=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64
		-o Dir::State="$st" -o Dir::State::Lists="$st/lists"
		-o Dir::State::status="$st/status" -o Dir::Cache="$st"
		-o Dir::Cache::pkgcache="$st/pkgcache.bin"
		-o Dir::Cache::srcpkgcache="$st/srcpkgcache.bin"
		-o APT::Sandbox::User=root -o Debug::NoLocking=1
		-o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
		-o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false)
	say "fetching the arm64 package lists (private apt state in $st)"
	apt-get "${apt[@]}" -qq update
	local image
	image=$(apt-cache "${apt[@]}" depends linux-image-arm64 |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
	[ -n "$image" ] || { echo "aarch64: no linux-image-*-arm64 package found" >&2; exit 1; }
	say "downloading $image and the userland: ${userland[*]}"
	rm -rf "$work/debs" && mkdir "$work/debs"
	(cd "$work/debs" && apt-get "${apt[@]}" -qq download "$image" "${userland[@]}")

	rm -rf "$k.new" && mkdir -p "$k.new/modules" "$k.new/root"
	dpkg-deb -x "$work"/debs/linux-image-*.deb "$work/kernel"
	for p in "${userland[@]}"; do
		dpkg-deb -x "$work"/debs/"${p}"_*.deb "$work/user"
	done
	cp "$work"/kernel/boot/vmlinuz-* "$k.new/vmlinuz"
	# What the initramfs takes of the userland: busybox for the common
	# tools, the real bash, dash, setpriv and strace the tests call, and
	# the C library and loader these need.
	local u=$k.new/root
	mkdir -p "$u/bin" "$u/usr/bin" "$u/lib"
	cp "$work/user/bin/busybox" "$work/user/bin/bash" "$work/user/bin/dash" "$u/bin/"
	# sh is dash, as on Debian: busybox's own sh would run its applets
	# before anything in PATH (its setpriv lacks --reuid), and the tests
	# expect dash's exit statuses. busybox --install leaves it.
	ln -s dash "$u/bin/sh"
	cp "$work/user/usr/bin/setpriv" "$work/user/usr/bin/strace" "$u/usr/bin/"
	cp -a "$work/user/lib/aarch64-linux-gnu" "$u/lib/"
	ln -s aarch64-linux-gnu/ld-linux-aarch64.so.1 "$u/lib/ld-linux-aarch64.so.1"
	rm -rf "$u"/lib/aarch64-linux-gnu/{audit,gconv} "$u"/lib/aarch64-linux-gnu/*.a
	local mods=("$work"/kernel/lib/modules/*/kernel)
	# FUSE is a module in Debian's arm64 kernel; take it and whatever it
	# depends on (the .modinfo "depends=" list), uncompressed, in the
	# order to load them.
	addmod() {
		local name=$1 file out dep
		[ -e "$k.new/modules/$name.ko" ] && return
		file=$(find "$mods" -name "$name.ko" -o -name "$name.ko.xz" -o -name "$name.ko.zst" \
			-o -name "$name.ko.gz" | head -1)
		[ -n "$file" ] || { echo "aarch64: module $name not in $image" >&2; exit 1; }
		out=$k.new/modules/$name.ko
		case $file in
		*.xz) xz -dc "$file" >"$out" ;;
		*.zst) zstd -qdc "$file" >"$out" ;;
		*.gz) gzip -dc "$file" >"$out" ;;
		*) cp "$file" "$out" ;;
		esac
		for dep in $(go run ./scripts/aarch64/pack depends "$out"); do
			addmod "$dep"
		done
		echo "/lib/modules/$name.ko" >>"$k.new/modules/order"
	}
	addmod fuse
	echo "$image" >"$k.new/name"
	echo "$layout" >"$k.new/layout"
	rm -rf "$k" && mv "$k.new" "$k"
	# The package lists served this fetch only: a refresh fetches new ones.
	rm -rf "$work/kernel" "$work/user" "$work/debs" "$st"
}

(
	flock 9
	if [ "${CGSYSCALL_AARCH64_REFRESH:-}" = 1 ] ||
		[ "$(cat "$cache/kernel/layout" 2>/dev/null)" != "$layout" ]; then
		fetch
	else
		say "kernel $(cat "$cache/kernel/name") from the cache"
	fi
) 9>"$cache/lock"

# The initramfs tree.
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,aarch64,lib/modules,opt/bin,tests,src}
cp -a "$cache"/kernel/root/. "$root/"
cp "$cache"/kernel/modules/*.ko "$root/lib/modules/"
cp "$cache/kernel/modules/order" "$root/aarch64/modules"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
	>"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
# The source tree, for the tests' testdata and scripts.
git ls-files -c |
	while read -r f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
	xargs -0 cp --parents -t "$root/src"

say "cross-compiling for arm64"
export GOOS=linux CGO_ENABLED=0
build() { GOARCH=$1 go build -trimpath -o "$2" "$3"; }
build arm64 "$root/init" ./scripts/aarch64/init
build arm64 "$root/opt/bin/cgsyscall" ./cmd/cgsyscall
build arm64 "$root/opt/bin/probe" ./testdata/probe
GOARM=7 build arm "$root/opt/bin/probe-arm" ./testdata/probe
build arm64 "$root/opt/bin/victim-go" ./enforce/inject/testdata/govictim
aarch64-linux-gnu-gcc -O2 -pthread -static -o "$root/opt/bin/victim-c" \
	enforce/inject/testdata/cvictim.c
for c in allowlist cloneparent cserve filtered guard napper orphan racer strict subreaper \
	threadspawn withpid writeloop zleader; do
	aarch64-linux-gnu-gcc -O2 -static -o "$root/opt/bin/$c" "testdata/$c/$c.c"
done

# Every package with tests, by its directory; the root package ("root",
# the end-to-end tests) last, as the longest.
mapfile -t dirs < <(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}}{{end}}' ./... |
	sed "s|^$PWD/\?||" | grep -v '^$' | sort)
dirs+=(.)
plan=$root/aarch64/plan
echo "env CGSYSCALL_TEST_BIN=/opt/bin" >"$plan"
[ -n "${CGSYSCALL_TEST_DEBUG:-}" ] &&
	echo "env CGSYSCALL_TEST_DEBUG=$CGSYSCALL_TEST_DEBUG" >>"$plan"
[ -n "${CGSYSCALL_TEST_LOG:-}" ] &&
	echo "env CGSYSCALL_TEST_LOG=$CGSYSCALL_TEST_LOG" >>"$plan"
[ -n "${CGSYSCALL_KNOWN_FAILURES:-}" ] &&
	echo "env CGSYSCALL_KNOWN_FAILURES=$CGSYSCALL_KNOWN_FAILURES" >>"$plan"
run=()
[ -n "${CGSYSCALL_AARCH64_RUN:-}" ] && run+=(-test.run "$CGSYSCALL_AARCH64_RUN")
[ -n "${CGSYSCALL_AARCH64_SKIP:-}" ] && run+=(-test.skip "$CGSYSCALL_AARCH64_SKIP")
[ -n "${CGSYSCALL_AARCH64_COUNT:-}" ] && run+=(-test.count "$CGSYSCALL_AARCH64_COUNT")
n=0
for dir in "${dirs[@]}"; do
	name=${dir//\//-} && [ "$dir" = . ] && name=root
	GOARCH=arm64 go test -c -trimpath -o "$root/tests/$name.test" "./$dir"
	echo "$name /src/$dir 900 /tests/$name.test -test.v -test.timeout=840s ${run[*]}" >>"$plan"
	n=$((n + 1))
done
go run ./scripts/aarch64/pack cpio "$work/initrd.gz" "$root"
say "initramfs $(du -h "$work/initrd.gz" | cut -f1); booting $(cat "$cache/kernel/name")"

# pauth=off: software pointer authentication makes -cpu max 3-4 times
# slower. -nic none: no network, and no missing option ROM. qemu exits 0
# whether the tests pass or not: the console tells.
timeout 3000 qemu-system-aarch64 -M virt -cpu max,pauth=off -smp 2 -m 1024 \
	-nographic -no-reboot -nic none -kernel "$cache/kernel/vmlinuz" -initrd "$work/initrd.gz" \
	-append "console=ttyAMA0 loglevel=1 panic=-1" </dev/null 2>&1 |
	tee "$log" | tr -d '\r' | grep --line-buffered -E '^(@@aarch64|--- FAIL)' |
	sed -u 's/^/  /' || true
say "console log in $log"
go run ./scripts/aarch64/pack report "$log" $n && status=0 || status=1
say "$([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
