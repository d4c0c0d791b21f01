/*
 * adv: small hostile members for the adversary tests (adv_test.go).
 * Every call is a raw syscall; results are printed as counts.
 *
 *   adv pidfdrace PID N    two threads: one flips descriptor 100 between
 *                          /dev/null and /proc/PID, the other makes
 *                          pidfd_send_signal(100, 0) N times; prints
 *                          "ok=A enosys=B ebadf=C other=D"
 *   adv urgflood PID SECS  tgkill(PID, TID, SIGURG) at every thread of PID
 *                          for SECS seconds; prints "sent=N"
 *   adv hammer T N NR      T threads each make syscall NR N times (N 0: until
 *                          SIGTERM); prints "enosys=A eintr=B other=C" once
 *                          all end. SIGUSR1 has an empty handler with
 *                          SA_RESTART, SIGUSR2 one without
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile int stop;
static int target_fd, null_fd;

static void *flipper(void *arg)
{
	(void)arg;
	while (!stop) {
		syscall(SYS_dup3, target_fd, 100, 0);
		syscall(SYS_dup3, null_fd, 100, 0);
	}
	return NULL;
}

static int pidfdrace(int pid, long n)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d", pid);
	target_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (target_fd < 0 || null_fd < 0) {
		perror("open");
		return 2;
	}
	syscall(SYS_dup3, null_fd, 100, 0);
	pthread_t t;
	if (pthread_create(&t, NULL, flipper, NULL) != 0)
		return 2;
	long ok = 0, enosys = 0, ebadf = 0, other = 0;
	for (long i = 0; i < n; i++) {
		long r = syscall(SYS_pidfd_send_signal, 100, 0, NULL, 0);
		if (r == 0)
			ok++;
		else if (errno == ENOSYS)
			enosys++;
		else if (errno == EBADF)
			ebadf++;
		else
			other++;
	}
	stop = 1;
	pthread_join(t, NULL);
	printf("ok=%ld enosys=%ld ebadf=%ld other=%ld\n", ok, enosys, ebadf, other);
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int urgflood(int pid, double secs)
{
	int tids[256], nt = 0;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (!d) {
		perror(path);
		return 2;
	}
	struct dirent *e;
	while ((e = readdir(d)) && nt < 256)
		if (e->d_name[0] != '.')
			tids[nt++] = atoi(e->d_name);
	closedir(d);
	long sent = 0;
	double end = now() + secs;
	while (now() < end)
		for (int i = 0; i < nt; i++)
			if (syscall(SYS_tgkill, pid, tids[i], SIGURG) == 0)
				sent++;
	printf("sent=%ld\n", sent);
	return 0;
}

static long hammer_n, hammer_nr;
static long h_enosys, h_eintr, h_other;

static void *hammer1(void *arg)
{
	(void)arg;
	long e = 0, o = 0, in = 0;
	for (long i = 0; (hammer_n == 0 || i < hammer_n) && !stop; i++) {
		long r = syscall(hammer_nr, 0, 0, 0, 0, 0, 0);
		if (r == -1 && errno == ENOSYS)
			e++;
		else if (r == -1 && errno == EINTR)
			in++;
		else
			o++;
	}
	__atomic_add_fetch(&h_enosys, e, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&h_eintr, in, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&h_other, o, __ATOMIC_SEQ_CST);
	return NULL;
}

static void noop(int sig)
{
	(void)sig;
}

static void onterm(int sig)
{
	(void)sig;
	stop = 1;
}

static int hammer(int threads, long n, long nr)
{
	pthread_t t[64];
	hammer_n = n;
	hammer_nr = nr;
	struct sigaction sa = {0};
	sa.sa_handler = onterm;
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = noop;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL); /* restarted */
	sa.sa_flags = 0;
	sigaction(SIGUSR2, &sa, NULL); /* interrupts: EINTR */
	if (threads > 64)
		threads = 64;
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, hammer1, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	printf("enosys=%ld eintr=%ld other=%ld\n", h_enosys, h_eintr, h_other);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "hammer") == 0)
		return hammer(atoi(argv[2]), atol(argv[3]), atol(argv[4]));
	if (argc == 4 && strcmp(argv[1], "pidfdrace") == 0)
		return pidfdrace(atoi(argv[2]), atol(argv[3]));
	if (argc == 4 && strcmp(argv[1], "urgflood") == 0)
		return urgflood(atoi(argv[2]), atof(argv[3]));
	fprintf(stderr, "usage: adv pidfdrace PID N | urgflood PID SECS\n");
	return 2;
}
