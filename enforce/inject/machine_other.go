//go:build !amd64 && !arm64

package inject

import (
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
)

// Only x86_64 and aarch64 are supported; elsewhere every Install fails
// with ENOSYS at its first register access. The x86 layout stands in so
// that the package builds.
type regs = x86Regs

var (
	nums        = x86Nums
	auditArch   = arch.AuditArchX86_64
	syscallInsn = x86Syscall
)

const redZone = x86RedZone

type state struct {
	regs regs
}

func getState(tid int) (state, error) { return state{}, unix.ENOSYS }

func setState(tid int, st *state) error { return unix.ENOSYS }

func setCall(tid int, base *state, pc uint64, nr int, args [6]uint64) error {
	return unix.ENOSYS
}

func checkEntry(tid int, base *state, nr int, first bool) error { return unix.ENOSYS }

func getResult(tid int) (int64, error) { return 0, unix.ENOSYS }

func archStub(flags uint32, fprog, dumpSlot uint64) (stubImage, bool) {
	return stubImage{}, haveStub
}

const haveStub = false

func (t *tracer) callAgain(th *thread) error { return unix.ENOSYS }
