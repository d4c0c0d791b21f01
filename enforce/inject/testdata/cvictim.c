/*
 * cvictim: a test process for enforce/inject. It reads one command a line
 * on stdin and answers one line on stdout, giving raw system call results
 * (a negated errno on failure), never libc's -1.
 *
 *   ping            pong
 *   getppid|getpid  the call's result
 *   sleep MS        nanosleep(MS): "RET ELAPSED_MS"
 *   read            read(3, 64 bytes): "RET DATA"
 *   close           open /dev/null, then close(2) it: the close's result
 *   subreaper       prctl(PR_SET_CHILD_SUBREAPER, 1): its result
 *   thread          getppid in a new thread: "RET"
 *   loop N          N getppid calls: "LAST_RET TOTAL_NS"
 *   t I CMD         worker I (argv[1] workers started at launch) runs
 *                   getppid or getpid: "TID RET"
 *   writefile P D   open P for writing, write D: the write's result
 *   tracedcall A B  fork a child that traces itself to us (PTRACE_TRACEME)
 *                   and calls syscall A; at A's syscall-entry stop we change
 *                   the number to B: "CHILD_PID RET" (x86_64 only, else
 *                   "unsupported")
 *   share           start a sharer: a process (not a thread) that shares
 *                   our file table (clone with CLONE_FILES) and looks at
 *                   every descriptor 0..63 of that table in a loop for a
 *                   seccomp listener: "SHARER_PID"
 *   seen            the sharer's passes and the passes that found a
 *                   listener: "PASSES SEEN"
 *   vmshare [zero|leaderless]
 *                   start a rewriter: a process (not a thread) that shares
 *                   our memory (clone with CLONE_VM) and, whenever a page
 *                   appears at the address our next one-page mapping gets,
 *                   rewrites any seccomp sock_fprog found there into one
 *                   instruction that allows everything, or with "zero"
 *                   into an empty program, which the kernel refuses; with
 *                   "leaderless", the rewriting is done by a second thread
 *                   of the rewriter, whose first thread exits:
 *                   "REWRITER_PID"
 *   rewrites        how many programs the rewriter rewrote: "N"
 *   vmhop NS        start a hopper: a process that shares our memory
 *                   (clone with CLONE_VM) and, every NS nanoseconds,
 *                   makes the next such process (a child of ours, with
 *                   CLONE_PARENT) and exits, so that one always shares our
 *                   memory and none for long; SIGCHLD is ignored from then
 *                   on, so that they go without a wait: "HOPPER_PID"
 *   hops            how many hoppers were made: "N"
 *   hopstop         end the hopping: "N", the hoppers made
 *   threadfilter    start a thread that loads a filter of its own (allow
 *                   everything, without TSYNC) and sleeps: the result of
 *                   its load, "0"
 *   execloop        "execing", then a thread other than the main one execs
 *                   this program, which does the same, forever
 *   sigflood N      a child sends the main thread N SIGRTMIN (values 1..N,
 *                   in order): "RECEIVED OUT_OF_ORDER"
 *   cloneloop       "cloning", then clone processes (no CLONE_THREAD, no
 *                   exit signal) that exit at once, and reap them, forever
 *   exitonfilter    "spinning", then spin until a seccomp filter is in,
 *                   and end the process (exit_group) at once
 *   nobody          become user and group 65534, dumpable as a program
 *                   started so is: "0"
 *   grabber         fork a grabber: a process of our user that copies the
 *                   descriptors 3..15 of each of our threads with
 *                   pidfd_getfd, again and again; a seccomp listener it
 *                   gets is counted and answered with CONTINUE from then
 *                   on: "GRABBER_PID"
 *   grabber rewrite the same, and the grabber also patches the x86_64 stub
 *                   of a hold (its jne over the clearing of the dumpable
 *                   flag into a jmp, byte 36 of an anonymous mapping of
 *                   ours that is executable) with process_vm_writev and through
 *                   a /proc/PID/mem it opened before, again and again
 *   grabbed         how many listeners the grabber got: "N"
 *   patched         how many of the grabber's patches the kernel took: "N"
 *   dumpable        prctl(PR_GET_DUMPABLE): "0", "1" or "2"
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long raw(long nr, long a, long b, long c)
{
	long r = syscall(nr, a, b, c);
	return r == -1 ? -errno : r;
}

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

/* The grabber's counts, in memory shared with it: listeners got, patches
 * written. */
static volatile long *grabs;

/* patch_stub finds the anonymous executable mappings of parent's in its
 * maps (the stub's, shared or not) and writes the patch at byte 36 of each,
 * both ways; it counts each write the kernel took. */
static void patch_stub(pid_t parent, int mem)
{
	char path[64], line[512];
	snprintf(path, sizeof path, "/proc/%d/maps", (int)parent);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[2] != 'x' ||
		    ((strchr(line, '/') || strchr(line, '[')) && !strstr(line, "/dev/zero")))
			continue;
		unsigned char jmp = 0xeb;
		struct iovec local = {&jmp, 1}, remote = {(void *)(lo + 36), 1};
		if (syscall(SYS_process_vm_writev, parent, &local, 1, &remote, 1, 0) == 1)
			__atomic_add_fetch(&grabs[1], 1, __ATOMIC_RELAXED);
		if (mem >= 0 && pwrite(mem, &jmp, 1, (off_t)(lo + 36)) == 1)
			__atomic_add_fetch(&grabs[1], 1, __ATOMIC_RELAXED);
	}
	fclose(f);
}

/* is_listener tells whether descriptor fd is a seccomp listener. */
static int is_listener(int fd)
{
	char path[64], target[128];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, target, sizeof target - 1);
	if (n <= 0)
		return 0;
	target[n] = 0;
	return strstr(target, "seccomp") != NULL;
}

/* grab_loop looks at the threads of parent again and again, the leader
 * too (where no helper thread is made, the listener passes through the
 * process's own table); from each it tries to copy descriptors 3..15. The
 * first listener it gets it answers, letting every call run, until the
 * parent is gone. */
static void grab_loop(pid_t parent, int patch)
{
	char dir[64];
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	snprintf(dir, sizeof dir, "/proc/%d/task", (int)parent);
	int mem = -1;
	if (patch) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/mem", (int)parent);
		mem = open(path, O_RDWR | O_CLOEXEC);
	}
	int listener = -1;
	while (listener < 0) {
		if (patch)
			patch_stub(parent, mem);
		DIR *d = opendir(dir);
		if (!d)
			_exit(0);
		struct dirent *e;
		while (listener < 0 && (e = readdir(d))) {
			int tid = atoi(e->d_name);
			if (tid <= 0)
				continue;
			int pfd = syscall(SYS_pidfd_open, tid, tid == parent ? 0 : PIDFD_THREAD);
			if (pfd < 0)
				continue;
			for (int fd = 3; fd < 16 && listener < 0; fd++) {
				int got = syscall(SYS_pidfd_getfd, pfd, fd, 0);
				if (got < 0)
					continue;
				if (is_listener(got))
					listener = got;
				else
					close(got);
			}
			close(pfd);
		}
		closedir(d);
	}
	__atomic_add_fetch(grabs, 1, __ATOMIC_RELAXED);
	for (;;) {
		struct seccomp_notif req;
		struct seccomp_notif_resp resp;
		memset(&req, 0, sizeof req);
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
			if (errno == EINTR || errno == ENOENT)
				continue;
			_exit(0);
		}
		memset(&resp, 0, sizeof resp);
		resp.id = req.id;
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
}

static long nrof(const char *name)
{
	return strcmp(name, "getpid") == 0 ? SYS_getpid : SYS_getppid;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct worker {
	int cmd[2];
	pthread_t th;
};

static pthread_mutex_t out = PTHREAD_MUTEX_INITIALIZER;

static void reply(const char *fmt, long a, long b, int two)
{
	pthread_mutex_lock(&out);
	if (two)
		printf(fmt, a, b);
	else
		printf(fmt, a);
	fflush(stdout);
	pthread_mutex_unlock(&out);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	char name[16];
	for (;;) {
		memset(name, 0, sizeof name);
		if (read(w->cmd[0], name, sizeof name - 1) <= 0)
			return NULL;
		long r = raw(nrof(name), 0, 0, 0);
		reply("%ld %ld\n", syscall(SYS_gettid), r, 1);
	}
}

static void *once(void *arg)
{
	*(long *)arg = raw(SYS_getppid, 0, 0, 0);
	return NULL;
}

/* tracedcall runs syscall from in a traced child and rewrites it to to. */
static void tracedcall(long from, long to)
{
#ifdef __x86_64__
	int res[2];
	if (pipe(res))
		exit(1);
	pid_t c = fork();
	if (c == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		long r = raw(from, 0, 0, 0);
		if (write(res[1], &r, sizeof r) != sizeof r)
			_exit(1);
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0); /* its SIGSTOP */
	ptrace(PTRACE_SETOPTIONS, c, 0, PTRACE_O_TRACESYSGOOD);
	int entry = 1;
	for (;;) {
		ptrace(PTRACE_SYSCALL, c, 0, 0);
		if (waitpid(c, &st, 0) < 0 || !WIFSTOPPED(st))
			break;
		if (WSTOPSIG(st) != (SIGTRAP | 0x80))
			continue;
		struct user_regs_struct r;
		ptrace(PTRACE_GETREGS, c, 0, &r);
		if (entry && (long)r.orig_rax == from) {
			r.orig_rax = to;
			ptrace(PTRACE_SETREGS, c, 0, &r);
		}
		entry = !entry;
	}
	long r = 0;
	if (read(res[0], &r, sizeof r) != sizeof r)
		r = -9999;
	close(res[0]);
	close(res[1]);
	reply("%ld %ld\n", c, r, 1);
#else
	(void)from;
	(void)to;
	reply("unsupported\n", 0, 0, 0);
#endif
}

/* The rewriter's target page and count; it shares our memory. */
static void *next_page;
static volatile long rewrites;
static int rewrite_zero, rewrite_leaderless;
static char rewriter_stack[64 * 1024], rewriter_thread_stack[64 * 1024];

static void unprotect(unsigned char *p);

/* rewrite looks for a struct sock_fprog in the page at p (a length, then
 * a pointer to the instructions right after it) and makes it one
 * SECCOMP_RET_ALLOW, or empty with rewrite_zero; 1 when it did. It makes
 * the page writable first, once it found one (the hold's stub is made
 * read-only before it runs). */
static int rewrite(unsigned char *p)
{
	for (size_t off = 0; off + 24 <= 4096; off += 8) {
		unsigned long *w = (unsigned long *)(p + off);
		if (w[1] == (unsigned long)(p + off + 16) && (w[0] & 0xffff) > 1) {
			unprotect(p);
			if (rewrite_zero) {
				*(unsigned short *)w = 0;
				return 1;
			}
			/* BPF_RET|BPF_K, SECCOMP_RET_ALLOW; then the length. */
			w[2] = 0x06UL | (0x7fff0000UL << 32);
			*(unsigned short *)w = 1;
			return 1;
		}
	}
	return 0;
}

/* mapped asks mincore whether the page at p is mapped, with a raw system call:
 * the rewriter shares our memory, errno and the rest of libc's state
 * included, and must not touch them. */
static int mapped(unsigned char *p)
{
	unsigned char vec;
	long r;
#if defined(__x86_64__)
	register long a0 __asm__("rdi") = (long)p;
	register long a1 __asm__("rsi") = 4096;
	register long a2 __asm__("rdx") = (long)&vec;
	__asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_mincore), "r"(a0), "r"(a1), "r"(a2)
			 : "rcx", "r11", "memory");
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = SYS_mincore;
	register long x0 __asm__("x0") = (long)p;
	register long x1 __asm__("x1") = 4096;
	register long x2 __asm__("x2") = (long)&vec;
	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
	r = x0;
#else
	r = -1;
#endif
	return r == 0;
}

/* unprotect makes the page at p writable again, with a raw system call (see
 * mapped): the hold makes its stub read-only before it runs, and a
 * process that shares the memory can undo that. */
static void unprotect(unsigned char *p)
{
#if defined(__x86_64__)
	register long a0 __asm__("rdi") = (long)p;
	register long a1 __asm__("rsi") = 4096;
	register long a2 __asm__("rdx") = PROT_READ | PROT_WRITE | PROT_EXEC;
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_mprotect), "r"(a0), "r"(a1), "r"(a2)
			 : "rcx", "r11", "memory");
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = SYS_mprotect;
	register long x0 __asm__("x0") = (long)p;
	register long x1 __asm__("x1") = 4096;
	register long x2 __asm__("x2") = PROT_READ | PROT_WRITE | PROT_EXEC;
	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
#endif
}

/* rewrite_loop rewrites programs in the hole at next_page, forever. */
static int rewrite_loop(void *arg)
{
	(void)arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		/* The stub's code page, or a one-page mapping (no stub), which
		 * takes the top of the hole. */
		unsigned char *p = next_page;
		if (!mapped(p) && !mapped(p += 4096))
			continue;
		for (int i = 0; i < 100000; i++) {
			if (rewrite(p)) {
				__atomic_add_fetch(&rewrites, 1, __ATOMIC_RELAXED);
				break;
			}
		}
		while (mapped(p))
			;
	}
	return 0;
}

/* rewriter is the rewriter process; with rewrite_leaderless its first
 * thread starts a second one to rewrite and exits (SYS_exit, not
 * exit_group), which leaves a zombie leader whose memory kcmp cannot
 * compare, and a live thread that shares ours. */
static int rewriter(void *arg)
{
	if (rewrite_leaderless &&
	    clone(rewrite_loop, rewriter_thread_stack + sizeof rewriter_thread_stack,
		  CLONE_VM | CLONE_THREAD | CLONE_SIGHAND, NULL) > 0)
		syscall(SYS_exit, 0);
	return rewrite_loop(arg);
}

/* The hoppers' state, in our memory. A hopper runs on one of two stacks,
 * the other one's once the hopper before it, which ran there, is gone: the
 * kernel clears hop_tid[stack] when it exits (CLONE_CHILD_CLEARTID). The
 * hopping ends with us: a hopper whose parent is no longer us (it was
 * given to init, which no PR_SET_PDEATHSIG would tell it) makes no more. */
static volatile int hop_stop, hop_tid[2];
static volatile long hops;
static long hop_ns, hop_parent;
static char hop_stack[2][64 * 1024];

static int hop(void *arg)
{
	long gen = (long)arg;
	int next = (gen + 1) & 1;
	struct timespec ts = {0, hop_ns};
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (hop_ns)
		syscall(SYS_nanosleep, &ts, NULL);
	while (!hop_stop && __atomic_load_n(&hop_tid[next], __ATOMIC_ACQUIRE))
		syscall(SYS_sched_yield);
	if (!hop_stop && syscall(SYS_getppid) == hop_parent) {
		hop_tid[next] = 1;
		__atomic_add_fetch(&hops, 1, __ATOMIC_RELAXED);
		if (clone(hop, hop_stack[next] + sizeof hop_stack[next],
			  CLONE_VM | CLONE_PARENT | CLONE_CHILD_CLEARTID | SIGCHLD,
			  (void *)(gen + 1), NULL, NULL, &hop_tid[next]) < 0)
			hop_tid[next] = 0;
	}
	syscall(SYS_exit, 0);
	return 0;
}

/* own_filter loads, on the calling thread only, a filter that allows
 * everything, then sleeps; *arg gets the load's result. */
static volatile long own_result = 1;

static void *own_filter(void *arg)
{
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = {1, &allow};
	(void)arg;
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	__atomic_store_n(&own_result, raw(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&prog),
			 __ATOMIC_RELEASE);
	for (;;)
		pause();
	return NULL;
}

/* The sharer's counts, in memory shared with it (MAP_SHARED): it has its
 * own memory otherwise, errno included. */
/* sigflood: the values of SIGRTMIN received, and how many came out of
 * order. */
static volatile long flood_next = 1, flood_got, flood_bad;

static void flooded(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	flood_got++;
	if (si->si_value.sival_int != flood_next)
		flood_bad++;
	flood_next = si->si_value.sival_int + 1;
}

/* sigflood: a child sends our main thread n SIGRTMIN signals
 * (rt_tgsigqueueinfo, values 1 to n, in order) while it waits for the
 * child: "GOT OUT_OF_ORDER". */
static void sigflood(long n)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = flooded;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGRTMIN, &sa, NULL);
	pid_t me = getpid(), c = fork();
	if (c == 0) {
		for (long i = 1; i <= n; i++) {
			siginfo_t si = {0};
			si.si_signo = SIGRTMIN;
			si.si_code = SI_QUEUE;
			si.si_pid = getpid();
			si.si_uid = getuid();
			si.si_value.sival_int = (int)i;
			while (syscall(SYS_rt_tgsigqueueinfo, me, me, SIGRTMIN, &si) < 0 &&
			       errno == EAGAIN)
				sched_yield();
		}
		_exit(0);
	}
	while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
		;
	/* The last signals may still be pending: take them. */
	long long t0 = now_ns();
	while (flood_got < n && now_ns() - t0 < 1000000000LL)
		sched_yield();
	reply("%ld %ld\n", flood_got, flood_bad, 1);
}

static volatile long *counts;
static char sharer_stack[64 * 1024];

static int sharer(void *arg)
{
	(void)arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	char path[32], link[64];
	for (;;) {
		long found = 0;
		for (int fd = 0; fd < 64; fd++) {
			snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
			ssize_t n = readlink(path, link, sizeof link - 1);
			if (n > 0) {
				link[n] = 0;
				found |= strstr(link, "seccomp") != NULL;
			}
		}
		counts[1] += found;
		counts[0]++;
	}
	return 0;
}

/* execloop: a thread other than the main one runs this program again,
 * in execloop mode, after 20 ms: the process execs from a non-leader
 * thread, over and over. */
static char *self_argv[] = {"cvictim", "0", "execloop", NULL};

static void *execer(void *arg)
{
	(void)arg;
	struct timespec ts = {0, 20000000};
	nanosleep(&ts, NULL);
	execv("/proc/self/exe", self_argv);
	return NULL;
}

static void execloop(void)
{
	pthread_t th;
	pthread_create(&th, NULL, execer, NULL);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[2], "execloop") == 0)
		execloop();
	int n = argc > 1 ? atoi(argv[1]) : 0;
	struct worker *ws = calloc(n ? n : 1, sizeof *ws);
	for (int i = 0; i < n; i++) {
		if (pipe(ws[i].cmd) || pthread_create(&ws[i].th, NULL, work, &ws[i]))
			return 1;
	}
	char line[256];
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = 0;
		char *arg = strchr(line, ' ');
		if (arg)
			*arg++ = 0;
		if (strcmp(line, "ping") == 0) {
			reply("pong\n", 0, 0, 0);
		} else if (!strcmp(line, "getppid") || !strcmp(line, "getpid")) {
			reply("%ld\n", raw(nrof(line), 0, 0, 0), 0, 0);
		} else if (strcmp(line, "sleep") == 0) {
			long ms = atol(arg);
			struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
			long long t0 = now_ns();
			long r = raw(SYS_nanosleep, (long)&ts, 0, 0);
			reply("%ld %ld\n", r, (long)((now_ns() - t0) / 1000000), 1);
		} else if (strcmp(line, "read") == 0) {
			char buf[65] = {0};
			long r = raw(SYS_read, 3, (long)buf, 64);
			pthread_mutex_lock(&out);
			printf("%ld %s\n", r, buf);
			fflush(stdout);
			pthread_mutex_unlock(&out);
		} else if (strcmp(line, "close") == 0) {
			int fd = open("/dev/null", O_RDONLY);
			reply("%ld\n", raw(SYS_close, fd, 0, 0), 0, 0);
		} else if (strcmp(line, "thread") == 0) {
			pthread_t th;
			long r = 0;
			pthread_create(&th, NULL, once, &r);
			pthread_join(th, NULL);
			reply("%ld\n", r, 0, 0);
		} else if (strcmp(line, "loop") == 0) {
			long k = atol(arg), r = 0;
			long long t0 = now_ns();
			for (long i = 0; i < k; i++)
				r = syscall(SYS_getppid);
			reply("%ld %ld\n", r == -1 ? -errno : r, (long)(now_ns() - t0), 1);
		} else if (strcmp(line, "writefile") == 0) {
			char *data = strchr(arg, ' ');
			if (!data) {
				reply("bad\n", 0, 0, 0);
				continue;
			}
			*data++ = 0;
			int fd = open(arg, O_WRONLY);
			long r = fd < 0 ? -errno : raw(SYS_write, fd, (long)data, strlen(data));
			if (fd >= 0)
				close(fd);
			reply("%ld\n", r, 0, 0);
		} else if (strcmp(line, "share") == 0) {
			if (!counts)
				counts = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
					      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
			int c = clone(sharer, sharer_stack + sizeof sharer_stack,
				      CLONE_FILES | SIGCHLD, NULL);
			reply("%ld\n", c < 0 ? -errno : c, 0, 0);
		} else if (strcmp(line, "nobody") == 0) {
			long r = 0;
			if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
			    setresuid(65534, 65534, 65534) || prctl(PR_SET_DUMPABLE, 1))
				r = -errno;
			reply("%ld\n", r, 0, 0);
		} else if (strcmp(line, "grabber") == 0) {
			if (!grabs)
				grabs = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
					     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
			pid_t parent = getpid();
			pid_t c = fork();
			if (c == 0)
				grab_loop(parent, arg && strcmp(arg, "rewrite") == 0);
			reply("%ld\n", c < 0 ? -errno : c, 0, 0);
		} else if (strcmp(line, "subreaper") == 0) {
			reply("%ld\n", raw(SYS_prctl, PR_SET_CHILD_SUBREAPER, 1, 0), 0, 0);
		} else if (strcmp(line, "dumpable") == 0) {
			reply("%ld\n", raw(SYS_prctl, PR_GET_DUMPABLE, 0, 0), 0, 0);
		} else if (strcmp(line, "grabbed") == 0) {
			reply("%ld\n", grabs ? *grabs : 0, 0, 0);
		} else if (strcmp(line, "patched") == 0) {
			reply("%ld\n", grabs ? grabs[1] : 0, 0, 0);
		} else if (strcmp(line, "vmshare") == 0) {
			/* The kernel gives the next two-page mapping (the hold's
			 * stub and its data page) the address the last one freed. */
			rewrite_zero = arg && strcmp(arg, "zero") == 0;
			rewrite_leaderless = arg && strcmp(arg, "leaderless") == 0;
			next_page = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			munmap(next_page, 8192);
			int c = clone(rewriter, rewriter_stack + sizeof rewriter_stack,
				      CLONE_VM | SIGCHLD, NULL);
			reply("%ld\n", c < 0 ? -errno : c, 0, 0);
		} else if (strcmp(line, "vmhop") == 0) {
			signal(SIGCHLD, SIG_IGN);
			hop_ns = arg ? atol(arg) : 0;
			hop_parent = getpid();
			hop_tid[0] = 1;
			int c = clone(hop, hop_stack[0] + sizeof hop_stack[0],
				      CLONE_VM | CLONE_CHILD_CLEARTID | SIGCHLD, NULL, NULL, NULL,
				      &hop_tid[0]);
			if (c < 0)
				hop_tid[0] = 0;
			reply("%ld\n", c < 0 ? -errno : c, 0, 0);
		} else if (strcmp(line, "hops") == 0) {
			reply("%ld\n", hops, 0, 0);
		} else if (strcmp(line, "hopstop") == 0) {
			hop_stop = 1;
			while (hop_tid[0] || hop_tid[1])
				usleep(100);
			reply("%ld\n", hops, 0, 0);
		} else if (strcmp(line, "threadfilter") == 0) {
			pthread_t th;
			pthread_create(&th, NULL, own_filter, NULL);
			while (__atomic_load_n(&own_result, __ATOMIC_ACQUIRE) == 1)
				usleep(100);
			reply("%ld\n", own_result, 0, 0);
		} else if (strcmp(line, "execloop") == 0) {
			reply("execing\n", 0, 0, 0);
			execloop();
		} else if (strcmp(line, "sigflood") == 0) {
			sigflood(atol(arg));
		} else if (strcmp(line, "cloneloop") == 0) {
			reply("cloning\n", 0, 0, 0);
			for (;;) {
				/* A process, not a thread, whose exit signal is
				 * none: a traced parent's clone event, and a child
				 * attached to the tracer. */
				long c = syscall(SYS_clone, 0L, 0L, 0L, 0L, 0L);
				if (c == 0)
					syscall(SYS_exit, 0);
				if (c > 0)
					waitpid(c, NULL, __WALL);
			}
		} else if (strcmp(line, "exitonfilter") == 0) {
			reply("spinning\n", 0, 0, 0);
			while (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 2)
				;
			syscall(SYS_exit_group, 0);
		} else if (strcmp(line, "rewrites") == 0) {
			reply("%ld\n", rewrites, 0, 0);
		} else if (strcmp(line, "seen") == 0) {
			reply("%ld %ld\n", counts ? counts[0] : 0, counts ? counts[1] : 0, 1);
		} else if (strcmp(line, "tracedcall") == 0) {
			long a = 0, b = 0;
			sscanf(arg, "%ld %ld", &a, &b);
			tracedcall(a, b);
		} else if (strcmp(line, "t") == 0) {
			int i = atoi(arg);
			char *name = strchr(arg, ' ');
			if (i < 0 || i >= n || !name) {
				reply("bad\n", 0, 0, 0);
				continue;
			}
			name++;
			if (write(ws[i].cmd[1], name, strlen(name)) < 0)
				return 1;
		} else {
			reply("unknown\n", 0, 0, 0);
		}
	}
	return 0;
}
