/* napper ACTION [SECONDS]: loads a seccomp filter that answers
 * restart_syscall with ACTION (a number in C notation) and allows the
 * rest, prints "ready PID", then sleeps SECONDS (30 by default) in
 * nanosleep and prints "slept RESULT" (0, or the negative errno). A hold that interrupts the
 * sleep has the kernel go on with it through restart_syscall, which this
 * filter kills or fails: for the test that a refused hold leaves the
 * process asleep (helper-28). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: napper ACTION [SECONDS]\n");
		return 2;
	}
	unsigned action = strtoul(argv[1], NULL, 0);
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_restart_syscall, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof f / sizeof f[0], f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
		perror("seccomp");
		return 1;
	}
	printf("ready %d\n", getpid());
	fflush(stdout);
	struct timespec ts = { argc == 3 ? atoi(argv[2]) : 30, 0 };
	long r = syscall(SYS_nanosleep, &ts, NULL);
	printf("slept %ld\n", r < 0 ? -errno : r);
	return 0;
}
