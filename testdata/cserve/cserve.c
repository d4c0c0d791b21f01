/*
 * cserve: the single-threaded C counterpart of "probe -serve", for the
 * hold benchmark. It prints "ready PID", then answers each line of
 * standard input: "getppid" makes that call and prints "getppid RESULT"
 * (RESULT the negative errno on failure); anything else prints
 * "TOKEN ?". It exits at the end of its input.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(void)
{
	char line[64];
	long r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", (int)getpid());
	while (fgets(line, sizeof line, stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "getppid") != 0) {
			printf("%s ?\n", line);
			continue;
		}
		r = syscall(SYS_getppid);
		printf("getppid %ld\n", r < 0 ? (long)-errno : r);
	}
	return 0;
}
