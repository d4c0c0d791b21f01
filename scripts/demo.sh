#!/usr/bin/env bash
# The main job in one go: build cgsyscall, mount a private mirror of a new
# cgroup v2 subtree, make a group, deny uname(2) there, and watch uname(1)
# get ENOSYS under "cgsyscall exec". Everything it makes is removed on exit,
# also on failure: the cgroup $CG2/cgsyscall-demo-PID, a temporary
# directory /tmp/cgsyscall-demo.XXXXXX (the binary, the mount point, the
# daemon's log), and the listener keeper the daemon started, ended with
# SIGTERM (left alone, it waits 10 s for a daemon to come back). Needs
# root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root (it mounts a FUSE file system and makes cgroups)" >&2
	exit 1
fi
# The file system type is the field after the " - " separator (optional
# fields before it vary in number; proc(5)).
cg2=$(awk '{
	for (i = 7; i < NF; i++)
		if ($i == "-") {
			if ($(i + 1) == "cgroup2") { print $5; exit }
			break
		}
}' /proc/self/mountinfo)
if [ -z "$cg2" ]; then
	echo "demo: no cgroup2 file system is mounted" >&2
	exit 1
fi

work=$(mktemp -d /tmp/cgsyscall-demo.XXXXXX)
base="$cg2/cgsyscall-demo-$$"
mnt="$work/mnt"
cleanup() {
	set +e
	mountpoint -q "$mnt" && umount "$mnt"
	# The keeper of this mirror: this binary, "keeper", the mirror last.
	local p args k
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$work/cgsyscall" ] || continue
		args=$(tr '\0' '\n' 2>/dev/null <"$p/cmdline") || continue
		if [ "$(sed -n 2p <<<"$args")" = keeper ] && [ "$(tail -n 1 <<<"$args")" = "$base" ]; then
			k=${p#/proc/}
			kill -TERM "$k" 2>/dev/null
			for _ in 1 2 3 4 5 6 7 8 9 10; do [ -d "$p" ] || break; sleep 0.1; done
		fi
	done
	[ -d "$base/web/worker" ] && rmdir "$base/web/worker"
	[ -d "$base/web" ] && rmdir "$base/web"
	[ -d "$base" ] && rmdir "$base"
	# The run state the daemon and its keeper keep for this mirror.
	local name
	name=$(printf '%s' "${base#/}" | tr / _)
	rm -f "/run/cgsyscall/keeper-$name.lock" "/run/cgsyscall/keeper-$name.sock" \
		"/run/cgsyscall/placements-$name"
	rm -rf "$work"
}
trap cleanup EXIT

# run shows a command as it could be typed (an argument with spaces in
# single quotes), then runs it.
run() {
	local a line=
	for a in "$@"; do
		case $a in
		*[[:space:]]*) line+=" '$a'" ;;
		*) line+=" $a" ;;
		esac
	done
	printf '\n$%s\n' "$line"
	"$@"
}
say() { printf '\n# %s\n' "$*"; }

echo "# building cgsyscall"
CGO_ENABLED=0 go build -o "$work/cgsyscall" ./cmd/cgsyscall
PATH="$work:$PATH"
mkdir -p "$base" "$mnt"

say "mount a mirror of $base"
run cgsyscall mount --mirror "$base" --log "$work/daemon.log" "$mnt"
run mkdir "$mnt/web"
run ls "$mnt/web"
say "deny uname(2) (number $(cgsyscall resolve uname | cut -d' ' -f1)) to the group web"
run sh -c "echo uname > $mnt/web/syscalls.deny"
run cat "$mnt/web/syscalls.deny"
run cgsyscall show -m "$mnt"
say "outside the group uname works"
run uname -s
say "inside, the kernel answers ENOSYS"
set +e
printf '\n$ cgsyscall exec -m %s web -- uname -s\n' "$mnt"
cgsyscall exec -m "$mnt" web -- uname -s
status=$?
set -e
echo "(exit status $status)"
say "a child group cannot re-allow what its parent denies"
run mkdir "$mnt/web/worker"
printf '\n$ /bin/echo uname > %s/web/worker/syscalls.allow\n' "$mnt"
/bin/echo uname 2>&1 >"$mnt/web/worker/syscalls.allow" || true
say "the daemon's log says why (one line a write: who, what, the result)"
run grep -m1 'action=allow' "$work/daemon.log"
say "unmount"
run umount "$mnt"
if [ "$status" = 1 ]; then
	echo; echo "demo: OK (uname got ENOSYS inside the group)"
else
	echo; echo "demo: FAILED (uname exited $status inside the group, expected 1)" >&2
	exit 1
fi
