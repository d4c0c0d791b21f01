/* sharevm: a process and a second one sharing its memory (clone with
 * CLONE_VM, not CLONE_THREAD) whose first thread has exited, leaving a
 * second thread: the second process's leader is a zombie, which kcmp sees
 * without memory, while its live thread shares the first process's. For
 * the test that a deny to a group holding the first process refuses it.
 * Prints both PIDs once the leader has exited, then sleeps until killed.
 *
 * With -serve it shares nothing at first: it prints "ready PID", then
 * answers each line of standard input: "getppid" makes that call and
 * prints "getppid RESULT" (the negative errno on failure); "share" starts
 * a process sharing its memory (clone with CLONE_VM, a plain sleeper) and
 * prints "share PID"; "unshare" kills and reaps it and prints "unshare". */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

/* plain is the sleeper of -serve's "share": it ends with its parent. */
static int plain(void *arg)
{
	(void)arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	return sleeper(NULL);
}

static int serve(void)
{
	char line[64];
	int other = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", (int)getpid());
	while (fgets(line, sizeof line, stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "getppid") == 0) {
			long r = syscall(SYS_getppid);
			printf("getppid %ld\n", r < 0 ? (long)-errno : r);
		} else if (strcmp(line, "share") == 0 && !other) {
			other = clone(plain, stack + sizeof stack, CLONE_VM | SIGCHLD, NULL);
			printf("share %d\n", other);
		} else if (strcmp(line, "unshare") == 0 && other > 0) {
			kill(other, SIGKILL);
			waitpid(other, NULL, 0);
			other = 0;
			printf("unshare\n");
		} else {
			printf("%s ?\n", line);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "-serve") == 0)
		return serve();
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
