/*
 * racer: two threads of one process write to the mount at once. It prints
 * "ready PID", then answers each line of standard input:
 *
 *   write PATH TEXT      writes TEXT ("self": its PID) and a newline to
 *                        PATH in one write(2), prints "write RESULT"
 *   race SELF PATH TEXT  a second thread writes TEXT to PATH again and
 *                        again (one descriptor, one write(2) a try) until
 *                        a try succeeds, 20,000 tries, or 300 tries after
 *                        the first thread is done; the first thread waits
 *                        3 ms and writes its PID to SELF; prints "race R1
 *                        R2 TRIES", R1 the first thread's result, R2 the
 *                        second's last
 *
 * RESULT is 0 or the negative errno; a write that fails with EINTR is
 * made again. It makes only calls that no layer
 * hands to the daemon (open, write, close, nanosleep, clone, futex, mmap),
 * so the daemon does not meet it before its writes. It exits at the end
 * of its input.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * writeAgain writes buf to fd, again after EINTR: the daemon answers so a
 * write that waited for its turn while it stopped this process for a hold
 * (the scan, say), and nothing changed.
 */
static ssize_t writeAgain(int fd, const char *buf)
{
	ssize_t n;
	int tries = 0;

	do
		n = write(fd, buf, strlen(buf));
	while (n < 0 && errno == EINTR && ++tries < 100);
	return n;
}

static long put(const char *path, const char *text)
{
	char buf[4096];
	long r = 0;
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	snprintf(buf, sizeof buf, "%s\n", text);
	if (fd < 0 || writeAgain(fd, buf) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	return r;
}

struct race {
	const char *path, *text;
	atomic_int done;
	long result, tries;
};

static void *hammer(void *arg)
{
	struct race *r = arg;
	char buf[4096];
	int fd = open(r->path, O_WRONLY | O_CLOEXEC), after = 0;

	snprintf(buf, sizeof buf, "%s\n", r->text);
	r->result = fd < 0 ? -errno : -EAGAIN;
	while (fd >= 0 && r->tries < 20000 && after < 300) {
		r->tries++;
		if (writeAgain(fd, buf) >= 0) {
			r->result = 0;
			break;
		}
		r->result = -errno;
		if (atomic_load(&r->done))
			after++;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

int main(void)
{
	char line[4096], self[32];
	pthread_t t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(self, sizeof self, "%d", (int)getpid());
	printf("ready %s\n", self);
	while (fgets(line, sizeof line, stdin) != NULL) {
		char *f[4] = {0};
		int n = 0;

		line[strcspn(line, "\n")] = '\0';
		for (char *s = strtok(line, " "); s != NULL && n < 4; s = strtok(NULL, " "))
			f[n++] = s;
		if (n == 3 && strcmp(f[0], "write") == 0) {
			printf("write %ld\n", put(f[1], strcmp(f[2], "self") == 0 ? self : f[2]));
		} else if (n == 4 && strcmp(f[0], "race") == 0) {
			struct race r = {.path = f[2], .text = f[3]};
			struct timespec wait = {0, 3000000};
			long r1;

			if (pthread_create(&t, NULL, hammer, &r) != 0) {
				printf("race ?\n");
				continue;
			}
			nanosleep(&wait, NULL);
			r1 = put(f[1], self);
			atomic_store(&r.done, 1);
			pthread_join(t, NULL);
			printf("race %ld %ld %ld\n", r1, r.result, r.tries);
		} else {
			printf("%s ?\n", line);
		}
	}
	return 0;
}
