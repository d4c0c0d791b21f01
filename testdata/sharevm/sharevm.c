/* sharevm: a process and a second one sharing its memory (clone with
 * CLONE_VM, not CLONE_THREAD) whose first thread has exited, leaving a
 * second thread: the second process's leader is a zombie, which kcmp sees
 * without memory, while its live thread shares the first process's. For
 * the test that a deny to a group holding the first process refuses it.
 * Prints both PIDs once the leader has exited, then sleeps until killed. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static char stack[64 * 1024], thread_stack[64 * 1024];

static int sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

static int leader(void *arg)
{
	(void)arg;
	if (clone(sleeper, thread_stack + sizeof thread_stack,
		  CLONE_VM | CLONE_THREAD | CLONE_SIGHAND, NULL) > 0)
		syscall(SYS_exit, 0);
	return sleeper(NULL);
}

/* zombie reports whether process pid's leader has exited. */
static int zombie(int pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'Z';
}

int main(void)
{
	int pid = clone(leader, stack + sizeof stack, CLONE_VM | SIGCHLD, NULL);
	if (pid < 0) {
		perror("clone");
		return 1;
	}
	for (int i = 0; i < 2000 && !zombie(pid); i++)
		usleep(1000);
	if (!zombie(pid)) {
		fprintf(stderr, "the other's leader did not exit\n");
		return 1;
	}
	printf("%d %d\n", getpid(), pid);
	fflush(stdout);
	for (;;)
		pause();
}
