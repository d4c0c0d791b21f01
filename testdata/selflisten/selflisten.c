/*
 * selflisten: forks a child and exits at once, leaving the child to init
 * or a subreaper. The child writes its PID as the first line of the file
 * named by the argument, then tries for 1.5 s to load a filter of its own
 * that hands getppid(2) to a listener of its own (the kernel refuses
 * that, EBUSY, while a filter of its chain has an open listener), making
 * no other call. Then it appends "listener 1" and answers its listener
 * with CONTINUE from a thread, or "listener 0"; then "getppid RESULT"
 * (RESULT the negative errno on failure), and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int listener = -1;

/* answer lets every notified call run. */
static void *answer(void *arg)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;

	(void)arg;
	for (;;) {
		memset(&req, 0, sizeof req);
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
			continue;
		memset(&resp, 0, sizeof resp);
		resp.id = req.id;
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof code / sizeof code[0], code};
	char line[64];
	int fd, n;
	long r;

	if (argc != 2)
		return 2;
	if (fork() != 0)
		return 0;
	fd = open(argv[1], O_WRONLY | O_APPEND);
	if (fd < 0)
		return 1;
	n = snprintf(line, sizeof line, "%d\n", (int)getpid());
	write(fd, line, n);
	double end = now() + 1.5;
	while (listener < 0 && now() < end)
		listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				   SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (listener >= 0) {
		pthread_t th;
		pthread_create(&th, NULL, answer, NULL);
	}
	n = snprintf(line, sizeof line, "listener %d\n", listener >= 0);
	write(fd, line, n);
	r = syscall(SYS_getppid);
	n = snprintf(line, sizeof line, "getppid %ld\n", r < 0 ? (long)-errno : r);
	write(fd, line, n);
	return 0;
}
