/*
 * writeloop: writes "uname" to the file DENY, then to the file ALLOW,
 * without pause and from descriptors opened once, until it is killed.
 * Aimed at a group's syscalls.deny and syscalls.allow, every other write
 * changes the policy. It spends nearly all its time inside those writes,
 * where a hold finds it. Usage: writeloop DENY ALLOW
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fds[2];

	if (argc != 3) {
		fprintf(stderr, "usage: writeloop DENY ALLOW\n");
		return 2;
	}
	for (int i = 0; i < 2; i++) {
		fds[i] = open(argv[1 + i], O_WRONLY | O_CLOEXEC);
		if (fds[i] < 0) {
			perror(argv[1 + i]);
			return 1;
		}
	}
	for (;;)
		for (int i = 0; i < 2; i++)
			if (write(fds[i], "uname\n", 6) < 0)
				; /* EINTR while it is being held: write again */
}
