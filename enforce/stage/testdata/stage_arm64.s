// The stage of cgsyscall exec on aarch64 (package enforce/stage). Entered
// with the stack as execve leaves it: argc, argv[0..argc-1], NULL, envp.
// argv[1] is the number of a socket to the shim (decimal), argv[2] CMD's
// path, argv[3..] CMD's argv. The shim sends 1 to go ahead with execve (execveat if that fails with
// ENOSYS), or 2 with execveat only, for a group that denies execve, and
// adds 4 where the group denies fcntl. No
// other code runs in the process, and no signal handler is set.
	.text
	.globl _start
_start:
	sub sp, sp, #16			// a byte's buffer at [sp]; argc now at [sp, #16]
	ldr x9, [sp, #32]		// argv[1]: the socket's number, in x24
	mov x24, #0
	mov x11, #10
digit:
	ldrb w10, [x9], #1
	cbz w10, wait
	sub x10, x10, #48		// '0'
	madd x24, x24, x11, x10
	b digit
wait:
	// Wait for the shim's go-ahead: read(fd, sp, 1). The daemon holds
	// the process while it waits here (a hold restarts the read).
	mov x0, x24
	mov x1, sp
	mov x2, #1
	mov x8, #63			// read
	svc #0
	cmp x0, #1
	b.ne quit			// EOF or an error: the shim gave up or died
	ldrb w25, [sp]			// the go-ahead; its 4: close the socket, no fcntl
	and x23, x25, #3		// how to exec CMD: 1 execve first, 2 execveat
	tst x25, #0xfffffffffffffff8
	b.ne quit			// no other bit
	cmp x23, #1
	b.eq run
	cmp x23, #2
	b.ne quit
run:
	// The socket closes at exec, so that the shim sees EOF once CMD
	// runs; if fcntl is denied (the go-ahead says so, or it fails),
	// close it now (an exec failure then goes unsaid), and if close is
	// denied too, CMD does not run: it would have the socket.
	tbnz x25, #2, shut
	mov x0, x24			// fcntl(fd, F_SETFD, FD_CLOEXEC)
	mov x1, #2
	mov x2, #1
	mov x8, #25
	svc #0
	cbz x0, exec
shut:
	mov x0, x24			// close(fd)
	mov x8, #57
	svc #0
	cbnz x0, quit
exec:
	ldr x0, [sp, #40]		// argv[2]: CMD's path
	add x1, sp, #48			// &argv[3]: CMD's argv
	ldr x3, [sp, #16]		// argc
	add x2, sp, x3, lsl #3
	add x2, x2, #32			// envp
	mov x19, x0
	mov x20, x1
	mov x21, x2
	cmp x23, #2			// the group denies execve: not even tried
	b.eq at
	mov x8, #221			// execve(path, argv, envp)
	svc #0
	cmn x0, #38
	b.ne failed
at:
	mov x0, #-100			// execveat(AT_FDCWD, path, argv, envp, 0)
	mov x1, x19
	mov x2, x20
	mov x3, x21
	mov x4, #0
	mov x8, #281
	svc #0
failed:
	// Tell the shim the errno (one byte), then exit 126, or 127 for ENOENT.
	neg x22, x0
	strb w22, [sp]
	mov x0, x24			// write(fd, sp, 1)
	mov x1, sp
	mov x2, #1
	mov x8, #64
	svc #0
	mov x0, #126
	cmp x22, #2
	b.ne 1f
	mov x0, #127
1:	mov x8, #94			// exit_group
	svc #0
quit:
	mov x0, #125
	mov x8, #94			// exit_group(125)
	svc #0
