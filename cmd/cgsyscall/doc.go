package main

// The manual: one source for "cgsyscall help", "cgsyscall help COMMAND" and
// the man page docs/cgsyscall.8 ("cgsyscall help --man" writes it). Texts
// use two marks: `literal` (what is typed as it stands: bold in the man
// page) and {VAR} (what the user replaces: italic). White space inside a
// paragraph is one space. doc_test.go checks the lists against the code:
// every command run dispatches, every flag its FlagSet defines and every
// option parseOptions takes.

// command is one subcommand.
type command struct {
	name    string
	args    string   // what follows the flags in the synopsis
	summary string   // one line, for the overview
	text    []string // paragraphs
	flags   []option
	exits   []entry
	// pending says why a command is documented before its code is here;
	// doc_test.go fails once the code arrives, so that the text is checked.
	pending string
}

// option is a command-line flag or a mount option. A flag's name is
// written with one dash when it is one letter, with two otherwise.
type option struct {
	name string
	arg  string // the value's name ({DIR}); "" for a switch
	text string
}

// entry is a term and its explanation: a file, a variable, an exit status.
type entry struct {
	term string
	text string
}

// example is a paragraph and the lines it explains, shown as typed.
type example struct {
	text string
	code string
}

// manual is everything the help and the man page say.
type manual struct {
	name, purpose string
	description   []string
	commands      []command
	mountOptions  []option
	ignoredOpts   []string // accepted for mount(8)'s sake, and ignored
	files         []entry
	environment   []entry
	examples      []example
	seeAlso       []string
	// pending holds the files (by term) documented before their code is
	// here, and why; as command.pending.
	pending map[string]string
}

var mountPointFlag = option{"m", "{MOUNTPOINT}", `the cgsyscall mount to use (default
	` + "`" + defaultMount + "`" + `)`}

var doc = manual{
	name:    "cgsyscall",
	purpose: "deny system calls to cgroups: the syscalls cgroup controller in user space",
	description: []string{
		`cgsyscall mounts a FUSE file system that mirrors a cgroup hierarchy and gives every
		group three control files, ` + "`syscalls.deny`, `syscalls.allow` and `tasks`" + `,
		the "syscalls" controller a 2011 kernel RFC proposed. A process in a group that makes
		a denied system call gets ` + "`ENOSYS`" + `, as if the kernel had no such call.
		Enforcement is seccomp-BPF: nothing in the kernel is patched, and a process outside
		every restricted group pays nothing.`,
		`Each group {g} has a deny set D({g}), and D(child) always contains D(parent). A new
		group starts with a copy of its parent's set. A deny in a group reaches the group and
		all its descendants; an allow reaches the group only, and fails with ` + "`EPERM`" + `
		where the parent denies the call. Allowing at the root always succeeds, but for
		the io_uring calls while the root denies anything else (below).`,
		`A member is judged at every moment by the group it is in now: a deny holds every
		member of the group's subtree before the write returns, and an allow, or a move to a
		group that allows the call, lets the same running process make it again. The daemon
		does this by holding each member: it puts a seccomp layer into the process (with
		ptrace) that hands to the daemon the calls that may be denied to it, which the daemon
		answers from the caller's current group; every other call runs in the kernel. A deny
		of a call the layer does not hand over yet gives the process a wider layer before the
		write returns. ` + "`seccomp`" + ` itself is never handed over: denying it adds a
		fixed layer that an allow cannot take back; the log says so. A layer stays for the
		process's life, wherever it moves, and is born into its children; whatever the group
		allows, it fails ` + "`clone3`" + ` with ` + "`ENOSYS`" + ` (the C library then uses
		` + "`clone`" + `) and a ` + "`clone`" + ` with ` + "`CLONE_PARENT`" + ` with
		` + "`EPERM`" + `, so that every child a held process makes is its own; an allow of
		` + "`clone3`" + ` changes nothing for it.`,
		`While no daemon runs, every call the daemon would decide fails with ` + "`ENOSYS`" + `
		(fail closed); calls the layer does not hand over keep working. The policy
		outlives the daemon, in extended attributes of the real cgroup directories, and so
		does the record of where each held process was placed: a new daemon holds every
		such process again.`,
		`Options may be written with one dash or two (` + "`-mirror` or `--mirror`" + `);
		an option's value follows it or an equals sign (` + "`--mirror=`" + `{DIR}).`,
	},
	commands: []command{
		{
			name:    "mount",
			args:    "{MOUNTPOINT}",
			summary: "mount the controller on MOUNTPOINT (a mirror of the cgroup v2 root)",
			text: []string{
				`Mounts a mirror of {DIR} (by default the system's cgroup v2 root) on
				{MOUNTPOINT}, an existing directory, usually ` + "`" + defaultMount + "`" + `.
				Needs root and ` + "`/dev/fuse`" + `. {MOUNTPOINT} may lie inside the
				mirrored hierarchy (where ` + "`/sys/fs/cgroup`" + ` is the cgroup2 mount,
				` + "`/sys/fs/cgroup/syscalls`" + ` is a real cgroup directory); the mirror
				then hides it. A hierarchy already mirrored elsewhere is refused. Options
				may come before or after {MOUNTPOINT}.`,
				`Without ` + "`-f`" + ` it starts a detached daemon and returns once the
				mount answers. With ` + "`-f`" + ` this process is the daemon: it logs to
				standard error and, when ` + "`NOTIFY_SOCKET`" + ` is set (a systemd unit
				of ` + "`Type=notify`" + `), sends ` + "`READY=1`" + ` once the mount
				answers and ` + "`STOPPING=1`" + ` when it begins to end. ` + "`SIGTERM`" + `
				or ` + "`SIGINT`" + ` unmount and end the daemon, and so does
				` + "`umount`" + ` {MOUNTPOINT}.`,
				`A new daemon restores the policy saved by the last one, then holds again
				every member of every restricted group and every process the last one
				held.`,
				`As mount(8)'s helper, ` + "`mount.fuse.cgsyscall`" + ` {SOURCE} {MOUNTPOINT}
				[` + "`-o`" + ` {OPTIONS}], the same binary mounts an ` + "`/etc/fstab`" + `
				line of type ` + "`fuse.cgsyscall`" + `: {SOURCE} is the mirrored directory
				unless ` + "`mirror=`" + ` names it (` + "`cgsyscall`" + ` or ` + "`none`" + `
				mean the cgroup v2 root); the daemon is always detached, and ` + "`-n`" + `,
				` + "`-s`" + `, ` + "`-f`" + `, ` + "`-v`" + ` and ` + "`-t`" + ` {TYPE} are
				ignored. mount.fuse3's form, ` + "`cgsyscall`" + ` {SOURCE} {MOUNTPOINT}
				` + "`-o`" + ` {OPTIONS} with {MOUNTPOINT} absolute and {SOURCE} absolute,
				` + "`cgsyscall`" + ` or ` + "`none`" + `, works too.`,
			},
			flags: []option{
				{"mirror", "{DIR}", `the real cgroup directory to mirror: one of cgroup2 or of
					a cgroup v1 hierarchy (default: the cgroup v2 root)`},
				{"o", "{OPTION}[,{OPTION}...]", `mount options, as in the fourth field of an
					fstab line (see the mount options); may be given more than once`},
				{"f", "", `stay in the foreground: serve until unmounted`},
				{"debug", "", `log debug detail (as ` + "`-o debug`" + `)`},
				{"log", "{FILE}|`syslog`", `the log of a detached daemon: a file, or
					` + "`syslog`" + ` for the system log (facility daemon, tag
					` + "`cgsyscall`" + `); by default the system log when ` + "`/dev/log`" + `
					answers, else ` + "`/var/log/cgsyscall.log`" + `. In the foreground the log
					goes to standard error`},
				{"log-format", "`text`|`json`", `the log's format (default ` + "`text`" + `)`},
			},
			exits: []entry{
				{"0", `mounted; with ` + "`-f`" + `, unmounted again by a signal or
					umount(8)`},
				{"1", `the mount failed; the reason is on standard error`},
				{"2", `a usage mistake`},
				{"32", `as mount(8)'s helper, every failure (mount(8) reads 32 as a mount
					failure)`},
			},
		},
		{
			name:    "exec",
			args:    "{GROUP} `--` {CMD} [{ARG}...]",
			summary: "run CMD as a member of GROUP, held to the group's set from its start",
			text: []string{
				`Runs {CMD} as a member of {GROUP}, a path relative to the mount's root
				(` + "`web`, `web/worker`" + `; or its directory in the mount,
				` + "`/sys/fs/cgroup/syscalls/web`" + `), held to the group's set from its first
				instruction. {CMD} is looked up in ` + "`PATH`" + `. The child is created inside the
				real cgroup as a stage of a few hundred bytes that waits on a socket; the daemon
				holds it, and only then does the stage exec {CMD}, whose layer stays through
				` + "`execve`" + `. No signal lets {CMD} start before that; if
				` + "`cgsyscall exec`" + ` dies first, the stage exits with 125. ` + "`cgsyscall exec`" + `
				stays outside the group as {CMD}'s parent and passes signals on
				(` + "`SIGINT`" + ` and ` + "`SIGQUIT`" + ` from the terminal reach {CMD} directly).`,
				`A group that denies one of ` + "`execve`" + ` and ` + "`execveat`" + ` can
				still start programs this way; one that denies both cannot (exit status 125):
				place a running process there through its ` + "`tasks`" + ` file. The stage
				itself needs ` + "`read`" + `, and ` + "`fcntl`" + ` or ` + "`close`" + `: a group that
				denies ` + "`read`" + `, or both of the others, is refused the same way; where
				it denies ` + "`fcntl`" + ` alone, a failed exec of {CMD} shows in the exit status
				only. The stage is used in every group, also one that denies nothing. A 32-bit
				{CMD} starts the same way: the daemon holds the 64-bit stage.`,
			},
			flags: []option{mountPointFlag},
			exits: []entry{
				{"{CMD}'s", `its exit status; where signal {N} ended {CMD}, exec ends by
					signal {N} too, without a core (the shell's status reads 128+{N})`},
				{"125", `exec itself failed: a usage mistake (no ` + "`--`" + `, no {CMD}), no
					such group, no mount, or the daemon could not hold {CMD}`},
				{"126", `{CMD} was found but cannot be run`},
				{"127", `{CMD} was not found`},
			},
		},
		{
			name:    "show",
			args:    "[{GROUP}]",
			summary: "print the group tree: each group's denied syscalls and member count",
			text: []string{
				`Prints {GROUP} (default: the mount's root; named as for ` + "`exec`" + `) and
				every group below it, one a line, indented by depth: the name, the number of
				members, and the denied system calls by number and name
				(` + "`59 execve, 110 getppid`" + `; numbers without a name in runs,
				` + "`337-423`" + `) or ` + "`nothing denied`" + `. A group that denies most of
				the table shows what it leaves:
				` + "`all but 3: 0 read, 60 exit, 231 exit_group`" + `.`,
			},
			flags: []option{mountPointFlag},
			exits: []entry{
				{"0", `printed`},
				{"1", `no mount or no such group, or a file could not be read`},
				{"2", `a usage mistake`},
			},
		},
		{
			name:    "resolve",
			args:    "{NAME}|{NUMBER}...",
			summary: "print the number and name of each syscall",
			text: []string{
				`Prints ` + "`NUMBER NAME`" + ` for each system call named or numbered, in
				the native table of {ARCH}. Numbers are read as C reads them
				(` + "`59`, `0x3b`, `073`" + `); a number with no call prints
				` + "`(unassigned)`" + `. A bad token is reported on standard error, in
				its place, and the others are still printed. ` + "`--`" + ` ends the options.`,
			},
			flags: []option{
				{"arch", "{ARCH}", `the architecture: ` + "`x86_64` or `aarch64`" + `
					(default: the machine's)`},
			},
			exits: []entry{
				{"0", `every token resolved`},
				{"1", `one token or more was a name the table lacks, or a number outside it`},
				{"2", `a usage mistake, or an unknown architecture`},
			},
		},
		{
			name:    "export",
			args:    "{GROUP}",
			summary: "print GROUP's deny set as an OCI seccomp profile",
			text: []string{
				`Prints the deny set of {GROUP} (named as for ` + "`exec`" + `) as an OCI runtime
				seccomp profile (JSON, the ` + "`linux.seccomp`" + ` object of the runtime
				specification) for runc, crun,
				containerd or a Kubernetes localhost profile: default action
				` + "`SCMP_ACT_ALLOW`" + `, one ` + "`SCMP_ACT_ERRNO`" + ` rule with
				` + "`errnoRet`" + ` 38 (` + "`ENOSYS`" + `) for the denied calls by name, and every
				ABI of the machine (on x86_64 also i386 and x32, on aarch64 also arm). The
				io_uring calls, which the daemon denies in any group that denies anything, are
				listed too, and so are compat-only names the group denies (i386
				` + "`setuid32`" + `). A denied number without a name is left out with a warning
				on standard error. An empty set gives a profile that allows everything.`,
			},
			flags: []option{
				mountPointFlag,
				{"arch", "{ARCH}[,{ARCH}...]", `the architectures the profile lists (repeatable;
					SCMP names such as ` + "`SCMP_ARCH_X86`" + ` or ` + "`x86_64`, `i386`, `x32`, " +
					"`aarch64`, `arm`" + `); the machine's own must be among them (default: all
					of the machine's)`},
			},
			exits: []entry{
				{"0", `printed`},
				{"1", `no mount or no such group`},
				{"2", `a usage mistake, or an ` + "`--arch`" + ` this machine does not have`},
			},
		},
		{
			name:    "import",
			args:    "{GROUP} {FILE}",
			summary: "deny in GROUP what the OCI seccomp profile in FILE denies",
			text: []string{
				`Reads the OCI runtime seccomp profile in {FILE} (` + "`-`" + ` for standard
				input): a ` + "`linux.seccomp`" + ` object or a whole ` + "`config.json`" + `.
				It denies in {GROUP} (named as for ` + "`exec`" + `) the calls its
				` + "`SCMP_ACT_ERRNO`" + ` rules name, as one
				write to {GROUP}` + "`/syscalls.deny`" + `: all or nothing, with the same errors,
				and it only adds to what the group denies. Another errno than 38 is taken
				with a warning: the group answers ` + "`ENOSYS`" + `. What it cannot express is
				refused with one line and changes nothing: a default action other than
				allow (or log), the kill, trap, trace and notify actions, conditions on
				arguments, unknown names or fields, a profile for another architecture.`,
			},
			flags: []option{mountPointFlag},
			exits: []entry{
				{"0", `denied`},
				{"1", `no mount or no such group, a profile that cannot be read or expressed, or
					a write the daemon refused`},
				{"2", `a usage mistake`},
			},
		},
		{
			name:    "version",
			summary: "print the build's revision, Go version and platform",
			text: []string{
				`Prints ` + "`cgsyscall REVISION GOVERSION OS/ARCH`" + `: the git commit the
				binary was built from (with ` + "`+dirty`" + ` when the tree had changes, or
				` + "`unknown`" + ` when the build kept none), the Go release that built it, and
				the platform. ` + "`--version`" + ` does the same.`,
			},
			exits: []entry{
				{"0", `printed`},
				{"2", `an argument was given`},
			},
		},
		{
			name:    "help",
			args:    "[{COMMAND}]",
			summary: "print this text, or all about COMMAND",
			text: []string{
				`Prints the commands and their options, or the whole text of {COMMAND};
				` + "`--man`" + ` prints the manual page in roff (` + "`docs/cgsyscall.8`" + ` is
				made so). ` + "`-h` and `--help`" + `, alone or after a command, do the same.`,
			},
			flags: []option{{"man", "", `print the manual page (roff) instead`}},
			exits: []entry{
				{"0", `printed`},
				{"2", `no such command`},
			},
		},
	},
	mountOptions: []option{
		{"mirror", "{DIR}", `the real cgroup directory to mirror (as ` + "`--mirror`" + `)`},
		{"trust_root", "", `give root the RFC's and cgroupfs's trust: a root process may
			move itself and any process anywhere and allow calls in its own group, even
			while it is held in a restricted group (by default a confined process, root
			included, may only restrict further inside its own subtree)`},
		{"debug", "", `log debug detail`},
		{"log", "{FILE}|`syslog`", `the log of a detached daemon (as ` + "`--log`" + `)`},
		{"log_format", "`text`|`json`", `the log's format (as ` + "`--log-format`" + `)`},
		{"allow_other", "", `accepted for FUSE's sake; every user may use the mount anyway,
			and the kernel checks each one against the modes and owners it shows
			(` + "`default_permissions`" + `)`},
	},
	ignoredOpts: []string{"defaults", "rw", "auto", "noauto", "nofail", "_netdev", "user",
		"nouser", "users", "exec", "noexec", "suid", "nosuid", "dev", "nodev",
		"default_permissions", "relatime", "noatime", "atime", "comment", "x-*"},
	files: []entry{
		{"{MOUNTPOINT}/{GROUP}/`syscalls.deny`", `The calls denied to the group: each
			number in ascending order followed by a space, then a newline (a lone newline
			when none). A write denies calls here and in every descendant: tokens separated by
			spaces, tabs, commas or newlines, each a number in C notation, a name of the native
			table (` + "`execve`" + `), an inclusive range {A}` + "`-`" + `{B}, or
			` + "`all`" + `. A write is all or nothing and the first bad token decides the
			error: ` + "`ERANGE`" + ` for a number outside the table, ` + "`EINVAL`" + `
			for anything else that is not a call, ` + "`EPERM`" + ` for a call no process
			can live without (` + "`rt_sigreturn`, `restart_syscall`, `exit`, " +
			"`exit_group`" + ` and their compat twins; ranges and ` + "`all`" + ` skip
			them). An empty write changes nothing, and so does ` + "`O_TRUNC`" + `. What it
			reads is valid input.`},
		{"{MOUNTPOINT}/{GROUP}/`syscalls.allow`", `The calls of the native table still
			allowed, in the same format. A write allows calls in this group only, and fails
			with ` + "`EPERM`" + ` for a call the parent denies. A confined process (one held
			in a group that denies something), root included, may not allow calls in its own
			group or an ancestor (` + "`EPERM`" + `), unless ` + "`trust_root`" + ` trusts
			root.`},
		{"{MOUNTPOINT}/{GROUP}/`tasks`", `The processes of the group, one PID a line,
			ascending; membership is the kernel's. A write moves each process named, every
			thread of it, and holds it to the group's set before it returns; ` + "`0`" + `
			is the writer, and a thread ID moves its whole process. The write is parsed
			whole first (` + "`EINVAL`" + ` for garbage, and nothing moves); the first
			failure stops it: ` + "`ESRCH`" + ` no such process, ` + "`EACCES`" + ` not
			root nor the process's own user (on cgroup2 also: no write access to
			` + "`cgroup.procs`" + ` of the group holding both the process's group and the
			destination, as the kernel checks), ` + "`EPERM`" + ` a confined process moving
			a process out of its own subtree, ` + "`EBUSY`" + ` a process traced by someone
			else, sharing its memory with another process (before Linux 6.9 also its file
			table), or in a frozen group or below one (` + "`cgroup.freeze`" + `),
			` + "`EINVAL`" + ` a kernel thread, PID 1, the daemon or a 32-bit process,
			` + "`EAGAIN`" + ` members that appear faster than they can be held. A write to
			any control file fails with ` + "`EINTR`" + ` and changes nothing when it waited
			for its turn while a hold was stopping the writer, or waiting on a write; write
			it again. PIDs are those of the daemon's PID namespace.`},
		{"{MOUNTPOINT}/{GROUP}/`syscalls.stat`", `Read-only (mode 0444; an open for
			writing gets ` + "`EACCES`" + `). Denied calls made by the group's own members
			(not its descendants'), one ` + "`NAME COUNT`" + ` line for each syscall denied
			at least once, in the order of the native table, then a ` + "`total`" + ` {N}
			line. A compat call counts as its native twin; one without a twin shows as
			` + "`i386:`" + `{NAME} (` + "`arm:`" + `{NAME}), an x32 call as ` + "`x32:`" + `{N}.
			Only calls the daemon decides are counted: a denied ` + "`seccomp`" + ` is
			answered by the kernel alone. The counts are saved
			once a second and survive a restart (a kill -9 loses at most the last second).`},
		{"{MOUNTPOINT}/{GROUP}/`cgroup.procs`, `cgroup.threads`", `Read as the kernel
			has them; a write takes the path of ` + "`tasks`" + ` (whole processes, held),
			so the mirror offers no way around enforcement. A cgroup v1 mirror has no
			` + "`cgroup.threads`" + `, and its own ` + "`tasks`" + ` file is replaced by
			ours.`},
		{"{MOUNTPOINT}/{GROUP}/{other files}", `The real files of the group, passed
			through: reads, writes, modes, owners and errors are the kernel's. ` +
			"`mkdir` and `rmdir`" + ` make and remove real cgroups; creating a file gives
			` + "`EACCES`" + `, links, renames and unlinks ` + "`EPERM`" + `, as cgroupfs
			does. Only root and the owner of a delegated group directory may write its
			control files.`},
		{"`" + defaultMount + "`", `Where ` + "`exec`, `show`, `export` and `import`" + `
			look for the mount unless ` + "`-m`" + ` names it.`},
		{"`trusted.cgsyscall.deny`", `The extended attribute of each real cgroup directory
			that keeps the group's deny set, in the format ` + "`syscalls.deny`" + ` reads,
			written before a write returns and read when a daemon starts; it lives as long as
			the group (not across a reboot). A value that cannot be read or is not what the
			daemon writes stops the mount, with a line saying how to clear it
			(` + "`setfattr -x trusted.cgsyscall.deny`" + ` {DIR}). A cgroup v1 hierarchy
			must keep ` + "`trusted.*`" + ` attributes (mount it with ` + "`-o xattr`" + `);
			the daemon probes for them with ` + "`trusted.cgsyscall.probe`" + `, which it
			never creates.`},
		{"`/run/cgsyscall/placements-`{MIRROR}", `Where the daemon placed each process it
			holds, one ` + "`PID START GROUP PIN`" + ` line a placement (PIN: the numbers
			pinned there, comma-separated, or ` + "`-`" + `; markers before it say how the
			process is judged, ` + "`@`" + `{NS}.{PID} after it when it last moved), followed
			by ` + "`layer PID START TAG`" + ` for a layer's holder and
			` + "`anchor PID START ID`" + ` (the identity of the group's real directory and
			its ancestors'), with ` + "`place TAG GROUP PIN`" + ` lines for the groups a
			layer's processes were placed in, ` + "`line NEW OLD`" + ` for the layer a
			grown one replaced, ` + "`went TAG NS FIRST`" + ` for when a layer, and the
			first layer of its line, went in, and ` + "`closed TAG DEPTH FIRST`" + ` for a
			line whose every layer is closed while a process may carry it; appended as it
			happens,
			after a first line ` + "`key`" + ` {HEX}, the secret that tags the daemon's filters;
			{MIRROR} is the mirrored directory with its slashes as underscores
			(` + "`sys_fs_cgroup`" + `). Mode 0600. A new daemon holds those processes
			again; the file is compacted then and whenever it has doubled, and removed at a
			clean exit when none of its processes lives.`},
		{"`/var/log/cgsyscall.log`", `The log of a detached daemon when the machine has no
			system log (` + "`/dev/log`" + `) and ` + "`log=`" + ` names no other (in the
			foreground: standard error): one line per write to a policy file
			(` + "`policy change`" + `) and per move (` + "`task move`" + `): who, what, the
			result; at warning level when refused (` + "`unchanged=true`" + ` marks one that
			changed nothing, ` + "`held=`" + `{N} how many held processes a deny judges: placed in
			the group or below, or in it now), and warnings. Every line of the daemon names
			its mount point; the listener keeper logs to the same place, its lines naming
			the mirror
			(` + "`keeper=`" + `{DIR}).`},
		{"`/run/cgsyscall/keeper-`{MIRROR}`.sock`, `.lock`", `The listener keeper's
			socket and lock: the keeper holds a copy of every listener, so that a held
			process's calls fail with ` + "`ENOSYS`" + ` while no daemon runs and a new daemon
			takes the listeners back. It exits 10 seconds after its last daemon when it
			keeps nothing and removes the socket; the lock file stays, empty (remove it
			once no keeper of that mirror runs).`},
		{"the denial log", `The same log has a warning ` + "`denied call`" + ` for the
			first denial of a syscall in a group, then at most one every 10 seconds for it
			(` + "`suppressed=`" + `{N} says how many it left out), and no more than 20
			such lines a second in all: the process, its command, the group, the syscall, its
			number in the caller's ABI and that ABI. Under the systemd unit the log is the
			journal's (` + "`journalctl -u cgsyscall.service`" + `).`},
		{"`trusted.cgsyscall.stat`", `The extended attribute that keeps a group's
			` + "`syscalls.stat`" + ` across restarts. A value that cannot be read is
			logged and the group's counts start again at 0; it never stops a mount.`},
		{"`/sbin/mount.fuse.cgsyscall`", `mount(8)'s helper for the type
			` + "`fuse.cgsyscall`" + `, a link to the binary (` + "`scripts/install.sh`" + `
			makes it).`},
		{"`/etc/systemd/system/cgsyscall.service`", `A unit of ` + "`Type=notify`" + `
			that runs ` + "`cgsyscall mount -f " + defaultMount + "`" + ` (mirroring the
			cgroup v2 root), an alternative to the fstab line: use one of the two.
			` + "`scripts/install.sh`" + ` installs it, not enabled. systemd places the daemon in the
			cgroup ` + "`system.slice/cgsyscall.service`" + `; the daemon never holds itself.
			Stopping or restarting the unit leaves held processes without the daemon
			meanwhile (fail closed).`},
	},
	environment: []entry{
		{"`NOTIFY_SOCKET`", `With ` + "`mount -f`" + `: the socket of a service manager
			(sd_notify(3)) to send ` + "`READY=1`" + ` and ` + "`STOPPING=1`" + ` to. A
			detached daemon never uses it.`},
		{"`CGSYSCALL_KERNEL_OFF`", `A comma-separated list of kernel features to do
			without, as on an older kernel (` + "`seccomp_sync_wake_up`" + `,
			` + "`proc_status_kthread`" + `, or ` + "`all`" + `): for testing the
			fallbacks.`},
		{"`" + readyFDEnv + "`", `Internal: the descriptor on which a detached daemon
			tells ` + "`cgsyscall mount`" + ` that its mount answers. Do not set it.`},
		{"`CGSYSCALL_SYSLOG_SOCKET`", `For tests: the datagram socket a daemon that logs
			to the system log uses instead of ` + "`/dev/log`" + `.`},
		{"`PATH`", `Where ` + "`exec`" + ` looks for {CMD}.`},
	},
	examples: []example{
		{`Mirror a subtree of your own, deny ` + "`uname`" + ` to a group and run a command
			there:`, `mkdir /sys/fs/cgroup/lab /tmp/lab
cgsyscall mount --mirror /sys/fs/cgroup/lab /tmp/lab
mkdir /tmp/lab/web
echo uname > /tmp/lab/web/syscalls.deny
cgsyscall exec -m /tmp/lab web -- uname -s
cgsyscall show -m /tmp/lab
umount /tmp/lab`},
		{`Hold a running process, then let it go back to the root:`,
			`echo 4242 > /sys/fs/cgroup/syscalls/web/tasks
echo 4242 > /sys/fs/cgroup/syscalls/tasks`},
		{`Mount at boot, by an fstab line (the first field is the mirrored directory;
			` + "`X-mount.mkdir`" + ` has mount(8) make the mount point, a group that a cgroup2
			mount forgets at every boot):`,
			`/sys/fs/cgroup  /sys/fs/cgroup/syscalls  fuse.cgsyscall  defaults,X-mount.mkdir  0 0`},
		{`or by the systemd unit instead:`,
			`systemctl enable --now cgsyscall.service`},
		{`Find the numbers of two calls on another architecture:`,
			`cgsyscall resolve --arch aarch64 execve getppid`},
	},
	pending: map[string]string{},
	seeAlso: []string{"mount(8)", "umount(8)", "fstab(5)", "systemd.service(5)",
		"sd_notify(3)", "cgroups(7)", "seccomp(2)", "seccomp_unotify(2)", "ptrace(2)",
		"setfattr(1)", "env(1)"},
}

// internalCommands are dispatched but not for people: the daemon starts
// "cgsyscall keeper" itself (package enforce/keeper).
var internalCommands = []string{"keeper"}
