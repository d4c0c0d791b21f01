/*
 * guard: aims calls that could stop, kill or trace a process at the PID
 * given as its argument and prints each result as "NAME RESULT", RESULT
 * being 0 or the negative errno. Signals sent are 0 (a check, no signal).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>

static void show(const char *name, long r)
{
	printf("%s %ld\n", name, r < 0 ? -(long)errno : 0L);
}

int main(int argc, char **argv)
{
	char path[64];
	int pid, dir;

	if (argc != 2)
		return 2;
	pid = atoi(argv[1]);
	show("kill", kill(pid, 0));
	show("tgkill", syscall(SYS_tgkill, pid, pid, 0));
	show("pidfd_open", syscall(SYS_pidfd_open, pid, 0));
	snprintf(path, sizeof path, "/proc/%d", pid);
	dir = open(path, O_RDONLY | O_DIRECTORY);
	show("pidfd_send_signal", syscall(SYS_pidfd_send_signal, dir, 0, NULL, 0));
	show("prlimit64", syscall(SYS_prlimit64, pid, RLIMIT_NOFILE, NULL, NULL));
	return 0;
}
