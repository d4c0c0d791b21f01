/*
 * inject: the floor of holding a running process on this machine, for
 * reading BenchmarkHold against it. It does the least that puts a filter
 * with a listener into a running single-threaded process from outside,
 * with none of cgsyscall's safety steps: PTRACE_SEIZE and
 * PTRACE_INTERRUPT, the program written below the stack's red zone, one
 * single step over the interrupted syscall instruction that calls
 * seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER|TSYNC|TSYNC_ESRCH), the
 * listener copied out with pidfd_getfd, a second single step that closes
 * the tracee's copy, the registers restored, PTRACE_DETACH. The filter
 * notifies getppid and allows the rest (5 instructions).
 *
 * Each round forks a fresh subject blocked in read(2) on a pipe and times
 * the injection alone, from the seize to the detach's return; a subject
 * found anywhere but in that read is let go and tried again, untimed. It
 * then checks that the subject's getppid reaches the listener, and prints
 * the p50 and mean in microseconds. With two more arguments, the tracer
 * runs on the first CPU and the subjects on the second:
 *
 *	./inject 300 1 1	(one CPU)
 *	./inject 300 0 1	(two CPUs)
 *
 * cgsyscall's hold does more: a scratch page instead of the stack, a
 * helper thread so that the listener never enters a file table that the
 * tracee shares, a read-back of the loaded program, every thread stopped.
 * x86_64 only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#ifndef __x86_64__
int main(void)
{
	fprintf(stderr, "inject: x86_64 only\n");
	return 2;
}
#else

#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* subject: blocks in read(2) on in; on a byte it calls getppid and
 * writes the result (or -errno) to out as a long. */
static void subject(int in, int out)
{
	char c;
	long r;

	while (read(in, &c, 1) == 1) {
		r = syscall(SYS_getppid);
		if (r < 0)
			r = -errno;
		if (write(out, &r, sizeof r) != sizeof r)
			_exit(1);
	}
	_exit(0);
}

/* step runs the tracee's syscall instruction at r->rip once with the
 * registers r, and returns rax after it. */
static long step(pid_t pid, struct user_regs_struct *r)
{
	int st;

	if (ptrace(PTRACE_SETREGS, pid, 0, r) < 0)
		die("SETREGS");
	if (ptrace(PTRACE_SINGLESTEP, pid, 0, 0) < 0)
		die("SINGLESTEP");
	if (waitpid(pid, &st, __WALL) != pid || !WIFSTOPPED(st))
		die("waitpid step");
	if (ptrace(PTRACE_GETREGS, pid, 0, r) < 0)
		die("GETREGS");
	return (long)r->rax;
}

/* call makes system call nr with three arguments in pid, stopped in
 * read(2) with the registers saved: rip is just past its syscall
 * instruction, which runs the call. */
static long call(pid_t pid, const struct user_regs_struct *saved, long nr,
		 unsigned long a, unsigned long b, unsigned long c)
{
	struct user_regs_struct r = *saved;

	r.rip = saved->rip - 2;
	r.orig_rax = -1;
	r.rax = nr;
	r.rdi = a;
	r.rsi = b;
	r.rdx = c;
	return step(pid, &r);
}

/* inject puts the filter into pid and returns the listener, or -1 when
 * pid did not stop in its read(2): it is then let go unchanged. */
static int inject(pid_t pid, int pidfd)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct user_regs_struct saved;
	struct sock_fprog fp;
	struct iovec local[2], remote;
	unsigned long at;
	long fd;
	int st, mine;

	if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0)
		die("SEIZE");
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0)
		die("INTERRUPT");
	if (waitpid(pid, &st, __WALL) != pid || !WIFSTOPPED(st))
		die("waitpid interrupt");
	if (ptrace(PTRACE_GETREGS, pid, 0, &saved) < 0)
		die("GETREGS");
	if (saved.orig_rax != SYS_read) {
		if (ptrace(PTRACE_DETACH, pid, 0, 0) < 0)
			die("DETACH");
		return -1;
	}

	/* The program and its sock_fprog below the red zone. */
	at = (saved.rsp - 128 - sizeof code - sizeof fp) & ~15UL;
	fp.len = sizeof code / sizeof code[0];
	fp.filter = (struct sock_filter *)(at + sizeof fp);
	local[0] = (struct iovec){&fp, sizeof fp};
	local[1] = (struct iovec){code, sizeof code};
	remote = (struct iovec){(void *)at, sizeof fp + sizeof code};
	if (process_vm_writev(pid, local, 2, &remote, 1, 0) != sizeof fp + sizeof code)
		die("process_vm_writev");

	fd = call(pid, &saved, SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		  SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC |
			  SECCOMP_FILTER_FLAG_TSYNC_ESRCH, at);
	if (fd < 0) {
		errno = -fd;
		die("seccomp in the tracee");
	}
	mine = syscall(SYS_pidfd_getfd, pidfd, (int)fd, 0);
	if (mine < 0)
		die("pidfd_getfd");

	if (call(pid, &saved, SYS_close, fd, 0, 0) != 0)
		die("close in the tracee");

	if (ptrace(PTRACE_SETREGS, pid, 0, &saved) < 0)
		die("SETREGS restore");
	if (ptrace(PTRACE_DETACH, pid, 0, 0) < 0)
		die("DETACH");
	return mine;
}

/* answer fails the one notified call waiting on fd with ENOSYS. */
static void answer(int fd)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;

	memset(&req, 0, sizeof req);
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
		die("NOTIF_RECV");
	memset(&resp, 0, sizeof resp);
	resp.id = req.id;
	resp.error = -ENOSYS;
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0)
		die("NOTIF_SEND");
}

/* pin_to puts the calling process on cpu. */
static void pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) < 0)
		die("sched_setaffinity");
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 300;
	int pinned = argc > 3, child_cpu = pinned ? atoi(argv[3]) : 0;
	double *lat = calloc(n, sizeof *lat), sum = 0, t;

	if (pinned)
		pin_to(atoi(argv[2]));

	for (int i = 0; i < n; i++) {
		int in[2], out[2], pidfd, fd, st;
		long got;
		pid_t pid;

		if (pipe(in) < 0 || pipe(out) < 0)
			die("pipe");
		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			if (pinned)
				pin_to(child_cpu);
			close(in[1]);
			close(out[0]);
			subject(in[0], out[1]);
		}
		close(in[0]);
		close(out[1]);
		pidfd = syscall(SYS_pidfd_open, pid, 0);
		if (pidfd < 0)
			die("pidfd_open");
		do {
			usleep(2000); /* blocked in read by now, most likely */
			t = now_us();
			fd = inject(pid, pidfd);
			lat[i] = now_us() - t;
		} while (fd < 0);
		sum += lat[i];

		if (write(in[1], "x", 1) != 1)
			die("write");
		answer(fd);
		if (read(out[0], &got, sizeof got) != sizeof got)
			die("read");
		if (got != -ENOSYS) {
			fprintf(stderr, "inject: getppid after the hold gave %ld, want %d\n",
				got, -ENOSYS);
			return 1;
		}
		close(in[1]);
		close(out[0]);
		close(fd);
		close(pidfd);
		if (waitpid(pid, &st, 0) != pid)
			die("waitpid subject");
	}
	qsort(lat, n, sizeof *lat, cmp);
	printf("inject floor: %d holds, p50 %.1f us, mean %.1f us\n", n, lat[n / 2], sum / n);
	return 0;
}
#endif
