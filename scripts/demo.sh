#!/usr/bin/env bash
# The main job in one go: build cgsyscall, mount a private mirror of a new
# cgroup v2 subtree, make a group, deny uname(2) there, and watch uname(1)
# get ENOSYS under "cgsyscall exec". Everything it makes is removed on exit,
# also on failure, but for the listener keeper the daemon started: it waits
# 10 s for a daemon to come back, then exits and removes its socket. Needs
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
	[ -d "$base/web/worker" ] && rmdir "$base/web/worker"
	[ -d "$base/web" ] && rmdir "$base/web"
	[ -d "$base" ] && rmdir "$base"
	# The run state the daemon and its keeper keep for this mirror.
	local name
	name=$(printf '%s' "${base#/}" | tr / _)
	rm -f "/run/cgsyscall/keeper-$name.lock" "/run/cgsyscall/placements-$name"
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
