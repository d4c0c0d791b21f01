#include "textflag.h"

// func int80(nr, arg uintptr) uintptr
// The i386 ABI: number in EAX, arguments in EBX, ECX, EDX, ESI, EDI, EBP.
// Only the first argument is used; the others are zero. EBP is left alone,
// so the sixth argument is whatever BP holds (no probed call reads it).
TEXT ·int80(SB), NOSPLIT, $0-24
	MOVQ nr+0(FP), AX
	MOVQ arg+8(FP), BX
	XORQ CX, CX
	XORQ DX, DX
	XORQ SI, SI
	XORQ DI, DI
	INT  $0x80
	MOVQ AX, ret+16(FP)
	RET
