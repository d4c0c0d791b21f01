/*
 * threadspawn CMD [ARG...]: starts a thread with pthread_create and CMD with
 * posix_spawnp, the two ways of the C library that try clone3 first and
 * fall back to clone when it fails with ENOSYS. Prints "thread 7" once the
 * thread returned 7, then "spawn STATUS" once CMD exited with STATUS, and
 * exits 0 (1 if either could not start).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

static void *seven(void *arg)
{
	(void)arg;
	return (void *)7;
}

int main(int argc, char **argv)
{
	pthread_t th;
	void *ret;
	pid_t pid;
	int err, status;

	if (argc < 2) {
		fprintf(stderr, "usage: threadspawn CMD [ARG...]\n");
		return 2;
	}
	err = pthread_create(&th, NULL, seven, NULL);
	if (err != 0) {
		fprintf(stderr, "threadspawn: pthread_create: %s\n", strerror(err));
		return 1;
	}
	pthread_join(th, &ret);
	printf("thread %ld\n", (long)ret);
	fflush(stdout);
	err = posix_spawnp(&pid, argv[1], NULL, NULL, argv + 1, environ);
	if (err != 0) {
		fprintf(stderr, "threadspawn: posix_spawnp: %s\n", strerror(err));
		return 1;
	}
	if (waitpid(pid, &status, 0) < 0) {
		perror("threadspawn: waitpid");
		return 1;
	}
	printf("spawn %d\n", WEXITSTATUS(status));
	return 0;
}
