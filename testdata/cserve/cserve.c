/*
 * cserve: the single-threaded C counterpart of "probe -serve", for the
 * hold benchmark. It prints "ready PID", then answers each line of
 * standard input: "getppid" makes that call and prints "getppid RESULT"
 * (RESULT the negative errno on failure); "write PATH TEXT" writes TEXT
 * and a newline to the file PATH in one write(2) ("self": its PID), again
 * after EINTR, and prints "write RESULT" (0 or the negative errno);
 * anything else prints "TOKEN ?". It exits at the end of its input.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(void)
{
	char line[4096];
	long r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", (int)getpid());
	while (fgets(line, sizeof line, stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "write ", 6) == 0) {
			char *path = line + 6, *text = strchr(path, ' '), buf[32];
			int fd;

			if (text == NULL) {
				printf("write ?\n");
				continue;
			}
			*text++ = '\0';
			if (strcmp(text, "self") == 0) {
				snprintf(buf, sizeof buf, "%d", (int)getpid());
				text = buf;
			}
			strcat(text, "\n");
			fd = open(path, O_WRONLY | O_CLOEXEC);
			r = 0;
			for (int tries = 0; fd >= 0 && tries < 100; tries++) {
				/* EINTR: the daemon was stopping it for a hold
				 * while the write waited; nothing changed. */
				if (write(fd, text, strlen(text)) >= 0) {
					r = 0;
					break;
				}
				r = -errno;
				if (errno != EINTR)
					break;
			}
			if (fd < 0)
				r = -errno;
			if (fd >= 0)
				close(fd);
			printf("write %ld\n", r);
			continue;
		}
		if (strcmp(line, "getppid") != 0) {
			printf("%s ?\n", line);
			continue;
		}
		r = syscall(SYS_getppid);
		printf("getppid %ld\n", r < 0 ? (long)-errno : r);
	}
	return 0;
}
