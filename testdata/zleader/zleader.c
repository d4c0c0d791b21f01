/*
 * zleader: a process whose main thread can be made to exit first. It
 * prints "ready PID"; its other thread answers each line of standard
 * input: "getppid" with "getppid RESULT" (the negative errno on failure),
 * "leave" by having the main thread exit (pthread_exit), then "leave 0"
 * once the main thread is a zombie, as it stays until the process ends.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

static int leave[2];

/* leader_gone reports whether the main thread is a zombie now. */
static int leader_gone(void)
{
	char path[64], buf[512];
	FILE *f;
	int gone = 0;

	snprintf(path, sizeof path, "/proc/%d/stat", getpid());
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(buf, sizeof buf, f) != NULL)
		gone = strstr(buf, ") Z ") != NULL;
	fclose(f);
	return gone;
}

static void *serve(void *arg)
{
	char line[64];

	(void)arg;
	while (fgets(line, sizeof line, stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "leave") == 0) {
			if (write(leave[1], "x", 1) != 1)
				_exit(1);
			while (!leader_gone())
				usleep(1000);
			printf("leave 0\n");
		} else {
			long r = syscall(SYS_getppid);
			printf("%s %ld\n", line, r < 0 ? (long)-errno : r);
		}
		fflush(stdout);
	}
	_exit(0);
}

int main(void)
{
	pthread_t t;
	char c;

	if (pipe(leave) != 0)
		return 1;
	printf("ready %d\n", getpid());
	fflush(stdout);
	if (pthread_create(&t, NULL, serve, NULL) != 0)
		return 1;
	if (read(leave[0], &c, 1) != 1)
		return 1;
	pthread_exit(NULL);
}
