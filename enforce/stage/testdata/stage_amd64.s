# The stage of cgsyscall exec on x86_64 (package enforce/stage). Entered
# with the stack as execve leaves it: argc, argv[0..argc-1], NULL, envp.
# argv[1] is the number of a socket to the shim (decimal), argv[2] CMD's
# path, argv[3..] CMD's argv. The shim sends 1 to go ahead with execve (execveat if that fails with
# ENOSYS), or 2 with execveat only, for a group that denies execve, and
# adds 4 where the group denies fcntl. No
# other code runs in the process, and no signal handler is set.
	.intel_syntax noprefix
	.text
	.globl _start
_start:
	sub rsp, 16			# a byte's buffer at [rsp]; argc now at [rsp+16]
	mov rsi, [rsp+32]		# argv[1]: the socket's number, in r14
	xor r14d, r14d
digit:
	movzx eax, byte ptr [rsi]
	test eax, eax
	jz wait
	sub eax, 48			# '0'
	imul r14d, r14d, 10
	add r14d, eax
	inc rsi
	jmp digit
wait:
	# Wait for the shim's go-ahead: read(fd, rsp, 1). The daemon holds
	# the process while it waits here (a hold restarts the read).
	xor eax, eax			# read
	mov edi, r14d
	mov rsi, rsp
	mov edx, 1
	syscall
	cmp rax, 1
	jne quit			# EOF or an error: the shim gave up or died
	movzx r13d, byte ptr [rsp]	# the go-ahead
	mov r15d, r13d			# its 4: close the socket, no fcntl
	and r13d, 3			# how to exec CMD: 1 execve first, 2 execveat
	test r15d, -8
	jnz quit			# no other bit
	cmp r13d, 1
	je run
	cmp r13d, 2
	jne quit
run:
	# The socket closes at exec, so that the shim sees EOF once CMD
	# runs; if fcntl is denied (the go-ahead says so, or it fails),
	# close it now (an exec failure then goes unsaid), and if close is
	# denied too, CMD does not run: it would have the socket.
	test r15d, 4
	jnz shut
	mov eax, 72			# fcntl(fd, F_SETFD, FD_CLOEXEC)
	mov edi, r14d
	mov esi, 2
	mov edx, 1
	syscall
	test rax, rax
	jz exec
shut:
	mov eax, 3			# close(fd)
	mov edi, r14d
	syscall
	test rax, rax
	jnz quit
exec:
	mov rdi, [rsp+40]		# argv[2]: CMD's path
	lea rsi, [rsp+48]		# &argv[3]: CMD's argv
	mov rcx, [rsp+16]		# argc
	lea rdx, [rsp+rcx*8+32]		# envp
	cmp r13d, 2			# the group denies execve: not even tried
	je at
	mov eax, 59			# execve(path, argv, envp)
	syscall
	cmp rax, -38
	jne failed
at:
	mov r10, rdx			# execveat(AT_FDCWD, path, argv, envp, 0)
	mov rdx, rsi
	mov rsi, rdi
	mov rdi, -100
	xor r8d, r8d
	mov eax, 322
	syscall
failed:
	# Tell the shim the errno (one byte), then exit 126, or 127 for ENOENT.
	neg rax
	mov [rsp], al
	mov r12, rax
	mov eax, 1			# write(fd, rsp, 1)
	mov edi, r14d
	mov rsi, rsp
	mov edx, 1
	syscall
	mov edi, 126
	cmp r12, 2
	jne 1f
	mov edi, 127
1:	mov eax, 231			# exit_group
	syscall
quit:
	mov edi, 125
	mov eax, 231			# exit_group(125)
	syscall
