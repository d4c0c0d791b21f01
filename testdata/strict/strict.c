/*
 * strict: a process in seccomp strict mode, for TestLiveMoveStrictProcess.
 * It enters strict mode, where only read, write, exit and rt_sigreturn are
 * left, says "ready", then answers "alive" to every read of its standard
 * input, and exits at its end.
 */
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/seccomp.h>

int main(void)
{
	char buf[64];

	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0)
		return 3;
	syscall(SYS_write, 1, "ready\n", 6);
	while (syscall(SYS_read, 0, buf, sizeof buf) > 0)
		syscall(SYS_write, 1, "alive\n", 6);
	syscall(SYS_exit, 0);
	return 0;
}
