#!/usr/bin/env bash
# The speed benchmarks of issues 2 and 3, as docs/BENCHMARKS.md reports
# them: machine facts first, then the end-to-end benchmarks at the
# repository root (they mount the real FUSE file system over a cgroup v2
# subtree of their own and run real processes held by the daemon), then
# the package benchmarks of enforce/inject and enforce/supervise. Run it as
# root on a quiet machine; it takes about ten minutes (fifteen at most).
#
#   sudo scripts/bench.sh 2>&1 | tee bench.txt
#
# QUICK=1 runs a fifth of the rounds, to try the script out.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "bench.sh: run as root: the benchmarks mount FUSE, make cgroups and" \
		"hold processes with seccomp filters" >&2
	exit 1
fi
for tool in go gcc gzip find taskset; do
	if ! command -v "$tool" >/dev/null; then
		echo "bench.sh: $tool is needed and not found" >&2
		exit 1
	fi
done
if ! grep -q ' - cgroup2 ' /proc/self/mountinfo; then
	echo "bench.sh: no cgroup v2 file system is mounted" >&2
	exit 1
fi

# rounds N: N benchmark iterations, or a fifth of them (at least 1) with QUICK=1.
rounds() {
	if [ "${QUICK:-}" = 1 ]; then
		echo "$(( $1 / 5 > 0 ? $1 / 5 : 1 ))x"
	else
		echo "${1}x"
	fi
}

echo "== machine"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpus:    $(nproc)"
echo "model:   $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo "kernel:  $(uname -sr)"
echo "go:      $(go version)"
echo "load:    $(cut -d ' ' -f 1-3 /proc/loadavg) (1, 5, 15 min; quiet is below 0.2)"
echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

echo "== build"
go build ./...
CGO_ENABLED=0 go build -o /dev/null ./cmd/cgsyscall

# The kernel's floors on this machine. A call decided in user space, the
# peer of BenchmarkDecidedCall: a C supervisor and a C caller on one CPU
# (scripts/floor/unotif.c). Hosts differ by more than 2x here.
echo "== floor"
floor=$(mktemp -d /tmp/cgsyscall-floor.XXXXXX)
gcc -O2 -o "$floor/unotif" scripts/floor/unotif.c
for _ in 1 2 3; do
	taskset -c 1 "$floor/unotif" 200000
done
# The least injection of a filter into a running process, the peer of
# BenchmarkHold (scripts/floor/inject.c), with tracer and tracee on one
# CPU and on two: what a VM charges for a wakeup across CPUs shows here.
gcc -O2 -o "$floor/inject" scripts/floor/inject.c
for _ in 1 2; do
	echo "one CPU:  $("$floor/inject" 300 1 1)"
	echo "two CPUs: $("$floor/inject" 300 0 1)"
done
rm -rf "$floor"

failed=()

# root PATTERN ROUNDS: the root benchmarks matching PATTERN. A failure is
# reported at the end; the other benchmarks still run.
root() {
	echo "== $1"
	if ! go test -run '^$' -count 1 -timeout 20m -bench "$1" -benchtime "$(rounds "$2")" . |
		grep -v -e '^goos:' -e '^goarch:' -e '^pkg:' -e '^cpu:'; then
		failed+=("$1")
	fi
}

root '^BenchmarkGetpidLoop$' 5
root '^BenchmarkExecTrue$' 200
root '^BenchmarkControlWriteRead$' 2000
root '^BenchmarkHold$' 200
root '^BenchmarkDecidedCall$' 5
root '^BenchmarkDenyReach1000$' 3
root '^BenchmarkMacro$/^find' 31
root '^BenchmarkMacro$/^gzip' 5
root '^BenchmarkMacro$/^go-build' 9

echo "== enforce/inject, enforce/supervise"
if ! go test -run '^$' -count 1 -bench . ./enforce/inject ./enforce/supervise |
	grep -v -e '^goos:' -e '^goarch:' -e '^cpu:'; then
	failed+=(packages)
fi

if [ ${#failed[@]} -gt 0 ]; then
	echo "bench.sh: FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "bench.sh: done"
