#!/usr/bin/env bash
# The daemon's memory over many holds and growths: a mirror of a cgroup v2
# subtree of its own, groups A (uname denied) and A/sub (sysinfo denied,
# which a layer for A does not hand over); ROUNDS rounds (default 6) of
# 500 short-lived processes, each held in A, moved into A/sub (a growth of
# its layer) and ended. After each round it prints the daemon's resident
# set and the placement log's length. As root:
#
#   sudo scripts/memory.sh [BINARY]
#
# BINARY is a built cgsyscall (default: built from this tree). Everything
# it makes (the cgroups, the mount, the log in a temporary directory) is
# removed at its end, also when it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "memory.sh: run as root: it mounts FUSE, makes cgroups and holds processes" >&2
	exit 1
fi
cg2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
if [ -z "$cg2" ]; then
	echo "memory.sh: no cgroup v2 file system is mounted" >&2
	exit 1
fi
work=$(mktemp -d)
bin=${1:-$work/cgsyscall}
base=$(mktemp -d "$cg2/cgsyscall-memory-XXXXXX")
mnt=$work/mnt
# pids COMMAND LAST: the processes of the binary under test running
# COMMAND with LAST as their last argument (this run's mount point, or its
# mirror for the keeper): never another mirror's.
pids() {
	for p in /proc/[0-9]*; do
		args=$(tr '\0' '\n' 2>/dev/null < "$p/cmdline") || continue
		if [ "$(readlink "$p/exe" 2>/dev/null)" = "$bin" ] &&
			[ "$(sed -n 2p <<< "$args")" = "$1" ] && [ "$(tail -n 1 <<< "$args")" = "$2" ]; then
			echo "${p#/proc/}"
		fi
	done
}
cleanup() {
	if [ -n "${sleeper:-}" ]; then kill "$sleeper" 2>/dev/null || true; fi
	umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
	sleep 1
	for k in $(pids keeper "$base"); do kill -TERM "$k" 2>/dev/null || true; done
	sleep 1
	for d in "$base/A/sub" "$base/A" "$base"; do rmdir "$d" 2>/dev/null || true; done
	name=$(echo "${base#/}" | tr / _)
	rm -f "/run/cgsyscall/placements-$name" "/run/cgsyscall/keeper-$name.lock" \
		"/run/cgsyscall/keeper-$name.sock"
	rm -rf "$work"
}
trap cleanup EXIT
if [ -z "${1:-}" ]; then
	CGO_ENABLED=0 go build -o "$bin" ./cmd/cgsyscall
fi
mkdir "$mnt"
"$bin" mount --mirror "$base" --log "$work/daemon.log" "$mnt"
daemon=$(pids mount "$mnt" | head -1)
if [ -z "$daemon" ]; then
	echo "memory.sh: the daemon of $mnt was not found" >&2
	exit 1
fi
mkdir "$mnt/A" "$mnt/A/sub"
echo uname > "$mnt/A/syscalls.deny"
echo sysinfo > "$mnt/A/sub/syscalls.deny"
log="/run/cgsyscall/placements-$(echo "${base#/}" | tr / _)"
for round in $(seq "${ROUNDS:-6}"); do
	for _ in $(seq 500); do
		sleep 100 &
		sleeper=$!
		echo "$sleeper" > "$mnt/A/tasks"
		echo "$sleeper" > "$mnt/A/sub/tasks"
		kill "$sleeper"
		wait "$sleeper" 2>/dev/null || true
		sleeper=
	done
	echo "round $round: daemon VmRSS $(awk '/^VmRSS/ { print $2 }' "/proc/$daemon/status") kB," \
		"placement log $(wc -l < "$log") lines"
done
