#include "textflag.h"

// The handler of the stay's tick signal: it does nothing. What matters is
// that it is installed without SA_RESTART, so that the tick interrupts a
// blocked SECCOMP_IOCTL_NOTIF_RECV with EINTR.
TEXT ·tickHandler(SB),NOSPLIT|NOFRAME,$0-0
	RET

// The handler returns here (sa_restorer): rt_sigreturn(2).
TEXT ·tickRestorer(SB),NOSPLIT|NOFRAME,$0-0
	MOVQ	$15, AX
	SYSCALL
	INT	$3

// func tickAddrs() (handler, restorer uintptr)
TEXT ·tickAddrs(SB),NOSPLIT,$0-16
	MOVQ	$·tickHandler(SB), AX
	MOVQ	AX, handler+0(FP)
	MOVQ	$·tickRestorer(SB), AX
	MOVQ	AX, restorer+8(FP)
	RET
