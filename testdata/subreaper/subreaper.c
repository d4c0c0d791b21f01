/*
 * subreaper CMD [ARG...]: makes itself a child subreaper
 * (prctl(PR_SET_CHILD_SUBREAPER, 1)), which execve keeps, and execs CMD:
 * the orphans of CMD's descendants are given to CMD, not to init. Exits 127
 * if either fails.
 */
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: subreaper CMD [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
		perror("subreaper: prctl");
		return 127;
	}
	execvp(argv[1], argv + 1);
	perror("subreaper: exec");
	return 127;
}
