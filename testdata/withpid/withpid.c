/*
 * withpid PID CMD [ARG...]: starts CMD as a child with process ID PID
 * (clone3 with set_tid, which needs CAP_SYS_ADMIN), waits for it and exits
 * with its status; 127 if the clone or the exec fails (EEXIST: the ID is
 * taken).
 */
#define _GNU_SOURCE
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct clone_args args;
	pid_t want, got;
	int status;

	if (argc < 3) {
		fprintf(stderr, "usage: withpid PID CMD [ARG...]\n");
		return 2;
	}
	want = (pid_t)atoi(argv[1]);
	memset(&args, 0, sizeof args);
	args.exit_signal = SIGCHLD;
	args.set_tid = (uint64_t)(uintptr_t)&want;
	args.set_tid_size = 1;
	got = (pid_t)syscall(SYS_clone3, &args, sizeof args);
	if (got < 0) {
		perror("withpid: clone3");
		return 127;
	}
	if (got == 0) {
		execvp(argv[2], argv + 2);
		perror("withpid: exec");
		_exit(127);
	}
	if (waitpid(got, &status, 0) < 0)
		return 127;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
