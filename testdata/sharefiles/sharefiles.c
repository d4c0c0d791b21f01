/* sharefiles: a process and a second one sharing its file table (clone
 * with CLONE_FILES, not CLONE_THREAD), for the test that such a process is
 * held without the listener ever passing through the shared table, or
 * refused where it would. Prints both PIDs, then sleeps until killed. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char stack[64 * 1024];

static int sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

int main(void)
{
	int pid = clone(sleeper, stack + sizeof stack, CLONE_FILES | SIGCHLD, NULL);
	if (pid < 0) {
		perror("clone");
		return 1;
	}
	printf("%d %d\n", getpid(), pid);
	fflush(stdout);
	for (;;)
		pause();
}
