# The stage of cgsyscall exec on x86_64 (package enforce/stage). Entered
# with the stack as execve leaves it: argc, argv[0..argc-1], NULL, envp.
# argv[1] is CMD's path, argv[2..] CMD's argv; fd 3 is a socket to the
# shim, which sends 1 to go ahead with execve (execveat if that fails with
# ENOSYS), or 2 with execveat only, for a group that denies execve. No
# other code runs in the process, and no signal handler is set.
	.intel_syntax noprefix
	.text
	.globl _start
_start:
	sub rsp, 16			# a byte's buffer at [rsp]; argc now at [rsp+16]
	# Wait for the shim's go-ahead: read(3, rsp, 1). The daemon holds
	# the process while it waits here (a hold restarts the read).
	xor eax, eax			# read
	mov edi, 3
	mov rsi, rsp
	mov edx, 1
	syscall
	cmp rax, 1
	jne quit			# EOF or an error: the shim gave up or died
	movzx r13d, byte ptr [rsp]	# the go-ahead, how to exec CMD: 1 execve
					# first, 2 execveat
	cmp r13d, 1
	je run
	cmp r13d, 2
	jne quit
run:
	# fd 3 closes at exec, so that the shim sees EOF once CMD runs;
	# if fcntl is denied, close it now (an exec failure then goes unsaid),
	# and if close is denied too, CMD does not run: it would have fd 3.
	mov eax, 72			# fcntl(3, F_SETFD, FD_CLOEXEC)
	mov edi, 3
	mov esi, 2
	mov edx, 1
	syscall
	test rax, rax
	jz exec
	mov eax, 3			# close(3)
	mov edi, 3
	syscall
	test rax, rax
	jnz quit
exec:
	mov rdi, [rsp+32]		# argv[1]: CMD's path
	lea rsi, [rsp+40]		# &argv[2]: CMD's argv
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
	mov eax, 1			# write(3, rsp, 1)
	mov edi, 3
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
