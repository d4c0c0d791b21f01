/*
 * allowlist: a static program for the README's allow-list recipe. It
 * writes one line that says what getppid(2) answered and exits 0 when the
 * line was written. Under the recipe, which allows only what this program
 * needs to start and to write, getppid answers -1 with ENOSYS.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(void)
{
	char line[64];
	long r = syscall(SYS_getppid);
	int n = snprintf(line, sizeof line, "getppid %ld\n", r < 0 ? -(long)errno : r);

	return write(1, line, n) == n ? 0 : 1;
}
