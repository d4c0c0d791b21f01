/*
 * strict: a process in seccomp strict mode, for TestLiveMoveStrictProcess.
 * It prints "ready PID", as cserve does, then enters strict mode, where
 * only read, write, exit and rt_sigreturn are left, and answers each line
 * of its standard input "LINE alive". It exits at the end of its input.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/seccomp.h>

int main(void)
{
	char ready[32], buf[256], line[256];
	int n, len = 0;

	n = snprintf(ready, sizeof ready, "ready %d\n", (int)getpid());
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0)
		return 3;
	syscall(SYS_write, 1, ready, n);
	while ((n = syscall(SYS_read, 0, buf, sizeof buf)) > 0) {
		for (int i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (len < (int)sizeof line - 8)
					line[len++] = buf[i];
				continue;
			}
			memcpy(line + len, " alive\n", 7);
			syscall(SYS_write, 1, line, len + 7);
			len = 0;
		}
	}
	syscall(SYS_exit, 0);
	return 0;
}
