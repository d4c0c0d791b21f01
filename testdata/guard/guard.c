/*
 * guard: aims calls that could stop, kill or trace a process at the PID
 * given as its first argument and prints each result as "NAME RESULT",
 * RESULT being 0 or the negative errno. Signals sent are 0 (a check, no
 * signal). With a directory as a second argument, it also sets the
 * attributes trusted.cgsyscall.deny (to an empty set) and user.guard-test
 * on it. pidfd_getfd takes descriptor 0 through the pidfd it opened (-1
 * where the open failed).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

static void show(const char *name, long r)
{
	printf("%s %ld\n", name, r < 0 ? -(long)errno : 0L);
}

int main(int argc, char **argv)
{
	char path[64];
	int pid, dir, pfd;

	if (argc != 2 && argc != 3)
		return 2;
	pid = atoi(argv[1]);
	show("kill", kill(pid, 0));
	show("tgkill", syscall(SYS_tgkill, pid, pid, 0));
	pfd = syscall(SYS_pidfd_open, pid, 0);
	show("pidfd_open", pfd);
	show("pidfd_getfd", syscall(SYS_pidfd_getfd, pfd, 0, 0));
	snprintf(path, sizeof path, "/proc/%d", pid);
	dir = open(path, O_RDONLY | O_DIRECTORY);
	show("pidfd_send_signal", syscall(SYS_pidfd_send_signal, dir, 0, NULL, 0));
	show("prlimit64", syscall(SYS_prlimit64, pid, RLIMIT_NOFILE, NULL, NULL));
	if (argc == 3) {
		show("setxattr-trusted",
		     setxattr(argv[2], "trusted.cgsyscall.deny", "\n", 1, 0));
		show("setxattr-user", setxattr(argv[2], "user.guard-test", "x", 1, 0));
	}
	return 0;
}
