/*
 * writeloop: writes "uname" to the file DENY, then to the file ALLOW,
 * without pause and from descriptors opened once. Aimed at a group's
 * syscalls.deny and syscalls.allow, every other write changes the policy.
 * It spends nearly all its time inside those writes, where a hold finds
 * it. Without COUNT it writes until it is killed; with COUNT it makes
 * COUNT pairs of writes under a 1 kHz SIGALRM (a handler with
 * SA_RESTART), then prints "eintr N", the writes that failed with EINTR,
 * and exits. Usage: writeloop DENY ALLOW [COUNT]
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static void tick(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	int fds[2];
	long count = -1, eintr = 0;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: writeloop DENY ALLOW [COUNT]\n");
		return 2;
	}
	for (int i = 0; i < 2; i++) {
		fds[i] = open(argv[1 + i], O_WRONLY | O_CLOEXEC);
		if (fds[i] < 0) {
			perror(argv[1 + i]);
			return 1;
		}
	}
	if (argc == 4) {
		struct sigaction sa;
		struct itimerval it = {{0, 1000}, {0, 1000}};

		count = atol(argv[3]);
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = tick;
		sa.sa_flags = SA_RESTART;
		sigaction(SIGALRM, &sa, NULL);
		setitimer(ITIMER_REAL, &it, NULL);
	}
	for (long n = 0; count < 0 || n < count; n++)
		for (int i = 0; i < 2; i++)
			if (write(fds[i], "uname\n", 6) < 0 && errno == EINTR)
				eintr++; /* while it is being held: write again */
	printf("eintr %ld\n", eintr);
	return 0;
}
