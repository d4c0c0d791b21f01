/*
 * filtered CMD [ARG...]: loads a one-instruction allow-all seccomp filter
 * of its own (no listener) and execs CMD, which keeps it: a process with
 * a filter that is none of the daemon's layers, as a sandboxed program's.
 */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = {.len = 1, .filter = &allow};

	if (argc < 2) {
		fprintf(stderr, "usage: filtered CMD [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
		perror("filtered: seccomp");
		return 1;
	}
	execvp(argv[1], argv + 1);
	perror("filtered: exec");
	return 127;
}
