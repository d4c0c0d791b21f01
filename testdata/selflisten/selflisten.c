/*
 * selflisten [-traced] [-pad] FILE: forks a child and exits at once,
 * leaving the child to init or a subreaper. The child writes its PID as
 * the first line of FILE, then "ready", then tries for 1.5 s to load a
 * filter of its own that hands getppid(2) to a listener of its own (the
 * kernel refuses that, EBUSY, while a filter of its chain has an open
 * listener), making no other call. Then it appends "listener 1" and
 * answers its listener with CONTINUE from a thread, or "listener 0"; then
 * "getppid RESULT" (RESULT the negative errno on failure), and exits.
 *
 * -traced: before "ready", a child of its own seizes it with ptrace (no
 * stop) and stays until it exits (PR_SET_PDEATHSIG), so that nobody else
 * can trace it; it writes "traced 0", or the seizure's errno.
 * -pad: first of all, it loads a filter without a listener that hands
 * every call to a listener but those it needs (so that its chain notifies
 * more than any layer of the daemon); it waits 2.5 s before "ready".
 * -forge: first of all, it loads a filter without a listener that fails
 * every seccomp(2) load with SECCOMP_FILTER_FLAG_TSYNC (as the daemon's
 * are) with EBUSY, as the kernel does while a listener is open.
 * -child: it does not fork (it is the child itself, of whoever started
 * it), and waits 3.5 s before "ready".
 * -own: first of all, it loads -pad's filter with a listener of its own,
 * answered by a thread of its own with CONTINUE.
 * Every process of it ends within 10 s (alarm).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile int listener = -1;

/* answer lets every notified call run. */
static void *answer(void *arg)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;

	(void)arg;
	while (listener < 0)
		sched_yield();
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

/* needed are the calls the child makes after -pad's filter: all of them
 * among those a layer of the daemon does not notify unless denied. */
static const int needed[] = {
	SYS_seccomp, SYS_write, SYS_ioctl, SYS_clock_gettime, SYS_clock_nanosleep,
	SYS_nanosleep, SYS_exit, SYS_exit_group, SYS_rt_sigreturn, SYS_restart_syscall,
	SYS_mmap, SYS_munmap, SYS_mprotect, SYS_madvise, SYS_brk, SYS_clone, SYS_clone3,
	SYS_rt_sigprocmask, SYS_set_robust_list, SYS_rseq, SYS_futex, SYS_getpid,
	SYS_gettid, SYS_sched_yield, SYS_openat, SYS_close,
};

static void forge(void)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_seccomp, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, SECCOMP_FILTER_FLAG_TSYNC, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EBUSY),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof code / sizeof code[0], code};

	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

static void pad(int own)
{
	/* With its own listener, it lets the daemon's injected prctl calls
	 * through too: its threads are stopped meanwhile, and could not
	 * answer them. */
	enum { n = sizeof needed / sizeof needed[0] + 1 };
	struct sock_filter code[n + 3];
	struct sock_fprog prog = {n + 3, code};

	code[0] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					       offsetof(struct seccomp_data, nr));
	for (int i = 0; i < n; i++)
		code[i + 1] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
							   i < n - 1 ? needed[i] :
							   own ? SYS_prctl : needed[0],
							   n - i, 0);
	code[n + 1] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
	code[n + 2] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	if (!own) {
		syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
		return;
	}
	/* The thread first: making it calls what the filter hands on. */
	pthread_t th;
	pthread_create(&th, NULL, answer, NULL);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			   &prog);
}

/* traced returns the result of the seizure by its child: 0 or an errno. */
static int traced(void)
{
	pid_t me = getpid();
	int p[2];
	int r = 0;

	if (pipe(p) != 0)
		return errno;
	if (fork() != 0) {
		close(p[1]);
		if (read(p[0], &r, sizeof r) != sizeof r)
			r = EIO;
		close(p[0]);
		return r;
	}
	alarm(10);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (ptrace(PTRACE_SEIZE, me, 0, 0) != 0)
		r = errno;
	write(p[1], &r, sizeof r);
	if (r != 0)
		_exit(1);
	for (;;)
		pause();
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
	int want_traced = 0, want_pad = 0, want_forge = 0, want_child = 0, want_own = 0, i;
	char line[64];
	int fd, n;
	long r;

	for (i = 1; i < argc - 1; i++) {
		want_traced |= strcmp(argv[i], "-traced") == 0;
		want_pad |= strcmp(argv[i], "-pad") == 0;
		want_forge |= strcmp(argv[i], "-forge") == 0;
		want_child |= strcmp(argv[i], "-child") == 0;
		want_own |= strcmp(argv[i], "-own") == 0;
	}
	if (argc < 2)
		return 2;
	if (!want_child && fork() != 0)
		return 0;
	alarm(10);
	if (want_forge)
		forge();
	if (want_pad || want_own)
		pad(want_own);
	fd = open(argv[argc - 1], O_WRONLY | O_APPEND);
	if (fd < 0)
		return 1;
	n = snprintf(line, sizeof line, "%d\n", (int)getpid());
	write(fd, line, n);
	if (want_traced) {
		n = snprintf(line, sizeof line, "traced %d\n", traced());
		write(fd, line, n);
	}
	if (want_pad || want_child) {
		struct timespec ts = {want_child ? 3 : 2, 500000000};
		nanosleep(&ts, NULL);
	}
	write(fd, "ready\n", 6);
	double end = now() + 1.5;
	while (listener < 0 && now() < end)
		listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				   SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (listener >= 0 && !want_own) {
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
