/*
 * unotif: the floor of a call decided by a user-space supervisor on this
 * machine, for reading BenchmarkDecidedCall against it. A child loads a
 * filter that notifies getppid (SECCOMP_FILTER_FLAG_NEW_LISTENER), passes
 * the listener to its parent over a socket pair and calls getppid N times;
 * the parent, a plain C loop of SECCOMP_IOCTL_NOTIF_RECV and _SEND with
 * SECCOMP_USER_NOTIF_FLAG_CONTINUE, answers each with the listener set to
 * SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6). The child prints the
 * mean time of one call. Run it pinned to one CPU, as bench.sh does:
 *
 *	taskset -c 1 ./unotif 200000
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

/* pass_fd sends fd over socket s (SCM_RIGHTS); take_fd receives one. */
static int pass_fd(int s, int fd)
{
	char byte = 0, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&byte, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
			   .msg_control = ctl, .msg_controllen = sizeof ctl};
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);

	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof fd);
	return sendmsg(s, &m, 0) == 1 ? 0 : -1;
}

static int take_fd(int s)
{
	char byte, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&byte, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
			   .msg_control = ctl, .msg_controllen = sizeof ctl};
	struct cmsghdr *h;
	int fd;

	if (recvmsg(s, &m, 0) != 1 || (h = CMSG_FIRSTHDR(&m)) == NULL)
		return -1;
	memcpy(&fd, CMSG_DATA(h), sizeof fd);
	return fd;
}

static int caller(int s, long n)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof f / sizeof f[0], f};
	double start;
	char go;
	long i;
	int l;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return 1;
	l = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (l < 0 || pass_fd(s, l) != 0) {
		perror("unotif: listener");
		return 1;
	}
	close(l);
	if (read(s, &go, 1) != 1)
		return 1;
	start = now_ns();
	for (i = 0; i < n; i++)
		syscall(SYS_getppid);
	printf("unotif: %.0f ns a call decided by a C supervisor (mean of %ld)\n",
	       (now_ns() - start) / n, n);
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000, i;
	struct seccomp_notif_sizes sz;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	__u64 flags = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
	int sp[2], l, status;
	pid_t pid;

	if (n <= 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0)
		return 2;
	pid = fork();
	if (pid == 0) {
		int rc = caller(sp[0], n);

		fflush(stdout);
		_exit(rc);
	}
	if ((l = take_fd(sp[1])) < 0)
		return 1;
	if (ioctl(l, SECCOMP_IOCTL_NOTIF_SET_FLAGS, flags, 0) != 0)
		perror("unotif: SYNC_WAKE_UP (the round trip is slower without it)");
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) != 0)
		return 1;
	req = calloc(1, sz.seccomp_notif);
	resp = calloc(1, sz.seccomp_notif_resp);
	if (req == NULL || resp == NULL || write(sp[1], "g", 1) != 1)
		return 1;
	for (i = 0; i < n; i++) {
		memset(req, 0, sz.seccomp_notif);
		if (ioctl(l, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
			perror("unotif: recv");
			break;
		}
		memset(resp, 0, sz.seccomp_notif_resp);
		resp->id = req->id;
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		if (ioctl(l, SECCOMP_IOCTL_NOTIF_SEND, resp) != 0) {
			perror("unotif: send");
			break;
		}
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 1;
	return i == n ? 0 : 1;
}
