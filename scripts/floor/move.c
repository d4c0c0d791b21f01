/*
 * move: what moving a process into a cgroup costs, straight through the
 * kernel's cgroup.procs or through a cgsyscall mount's tasks file, for
 * reading BenchmarkHold's "nodeny" and "deny-c" against it.
 *
 * Each round forks a child that waits in pause(2), waits PAUSE_US
 * microseconds (by default 2000, so that the machine goes idle between
 * moves, as it does between an administrator's commands), and times one
 * write(2) of the child's PID to FILE; then it kills and reaps the child.
 * It prints the median, 10th and 90th percentiles in microseconds. FILE
 * may be a real cgroup.procs, or the tasks file of a mounted group (one
 * that denies something makes each write a hold):
 *
 *	gcc -O2 -o move scripts/floor/move.c
 *	./move /sys/fs/cgroup/unified/g/cgroup.procs 300
 *	./move /mnt/syscalls/g/tasks 300
 *
 * The child closes its copy of FILE: through a mount, a copy closed at
 * its death would cost a FLUSH request (and an INTERRUPT, as it dies)
 * after every write.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double micros(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int ascending(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: move FILE ROUNDS [PAUSE_US]\n");
		return 2;
	}
	int rounds = atoi(argv[2]);
	int pause_us = argc > 3 ? atoi(argv[3]) : 2000;
	int fd = open(argv[1], O_WRONLY | O_CLOEXEC);
	if (fd < 0 || rounds < 1) {
		perror(argv[1]);
		return 1;
	}
	double *took = calloc(rounds, sizeof *took);
	for (int i = 0; i < rounds; i++) {
		int ready[2];
		if (pipe(ready)) {
			perror("pipe");
			return 1;
		}
		pid_t child = fork();
		if (child < 0) {
			perror("fork");
			return 1;
		}
		if (child == 0) {
			close(fd);
			close(ready[0]);
			if (write(ready[1], "r", 1) != 1)
				_exit(1);
			for (;;)
				pause();
		}
		close(ready[1]);
		char c;
		if (read(ready[0], &c, 1) != 1) {
			fprintf(stderr, "move: child %d did not start\n", child);
			return 1;
		}
		close(ready[0]);
		usleep(pause_us);
		char pid[32];
		int n = snprintf(pid, sizeof pid, "%d\n", child);
		double start = micros();
		if (write(fd, pid, n) != n) {
			perror("write");
			kill(child, SIGKILL);
			return 1;
		}
		took[i] = micros() - start;
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	qsort(took, rounds, sizeof *took, ascending);
	printf("move: %d moves into %s, p50 %.1f us, p10 %.1f, p90 %.1f (%d us apart)\n",
	       rounds, argv[1], took[rounds / 2], took[rounds / 10], took[rounds * 9 / 10],
	       pause_us);
	return 0;
}
