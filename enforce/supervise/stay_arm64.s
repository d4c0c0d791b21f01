#include "textflag.h"

// The handler of the stay's tick signal: it does nothing. What matters is
// that it is installed without SA_RESTART, so that the tick interrupts a
// blocked SECCOMP_IOCTL_NOTIF_RECV with EINTR.
TEXT ·tickHandler(SB),NOSPLIT|NOFRAME,$0-0
	RET

// The handler returns here (sa_restorer, taken since SA_RESTORER is set):
// rt_sigreturn(2).
TEXT ·tickRestorer(SB),NOSPLIT|NOFRAME,$0-0
	MOVD	$139, R8
	SVC
	UNDEF

// func tickAddrs() (handler, restorer uintptr)
TEXT ·tickAddrs(SB),NOSPLIT,$0-16
	MOVD	$·tickHandler(SB), R0
	MOVD	R0, handler+0(FP)
	MOVD	$·tickRestorer(SB), R0
	MOVD	R0, restorer+8(FP)
	RET
