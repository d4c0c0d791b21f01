/*
 * orphan: forks a child and exits at once, as a daemon does. The child
 * writes its PID as the first line of the file named by the argument,
 * makes no call for a second and a half, then for ten seconds calls
 * getpid(2) every 20 ms and appends "getpid RESULT" (RESULT the negative
 * errno on failure) to the file, then exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	char line[64];
	int fd, n, i;
	long r;

	if (argc != 2)
		return 2;
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (fd < 0)
		return 1;
	if (fork() != 0)
		return 0;
	n = snprintf(line, sizeof line, "%d\n", (int)syscall(SYS_getpid));
	write(fd, line, n);
	nap(1500);
	for (i = 0; i < 500; i++) {
		r = syscall(SYS_getpid);
		n = snprintf(line, sizeof line, "getpid %ld\n", r < 0 ? -(long)errno : r);
		write(fd, line, n);
		nap(20);
	}
	return 0;
}
