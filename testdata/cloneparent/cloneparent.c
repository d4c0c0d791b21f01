/*
 * cloneparent CMD [ARG...]: starts CMD with clone(CLONE_PARENT), so that
 * CMD's parent is this process's parent, not this process, and exits 0
 * (127 if the clone fails). CMD carries this process's seccomp filters,
 * whatever its new parent carries.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long child;

	if (argc < 2) {
		fprintf(stderr, "usage: cloneparent CMD [ARG...]\n");
		return 2;
	}
	child = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (child < 0) {
		perror("cloneparent: clone");
		return 127;
	}
	if (child == 0) {
		execvp(argv[1], argv + 1);
		perror("cloneparent: exec");
		_exit(127);
	}
	return 0;
}
