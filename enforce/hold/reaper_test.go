package hold

import (
	"testing"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/enforce/supervise"
)

// TestSubreaperCall: Decide marks a caller that makes itself a child
// subreaper: prctl(PR_SET_CHILD_SUBREAPER) with a value that is not zero,
// of either ABI. The option is an int (its low word counts), the native
// value an unsigned long (its high word counts), the compat one 32 bits.
func TestSubreaperCall(t *testing.T) {
	for _, a := range []*arch.Arch{arch.X86_64, arch.AArch64} {
		h := &Holder{a: a}
		prctl := nr(t, a, "prctl")
		cprctl, _ := a.Compat.SyscallNumber("prctl")
		nat, cmp := a.Native.AuditArch, a.Compat.AuditArch
		for _, c := range []struct {
			name string
			arch uint32
			nr   int
			args [6]uint64
			want bool
		}{
			{"set", nat, prctl, [6]uint64{36, 1}, true},
			{"set, option's high word", nat, prctl, [6]uint64{1<<32 | 36, 1}, true},
			{"set, value's high word", nat, prctl, [6]uint64{36, 1 << 32}, true},
			{"clear", nat, prctl, [6]uint64{36, 0}, false},
			{"get", nat, prctl, [6]uint64{37, 1}, false},
			{"another call", nat, nr(t, a, "getppid"), [6]uint64{36, 1}, false},
			{"compat set", cmp, cprctl, [6]uint64{36, 1}, true},
			{"compat, value's high word only", cmp, cprctl, [6]uint64{36, 1 << 32}, false},
			{"compat number in the native ABI", nat, cprctl, [6]uint64{36, 1}, cprctl == prctl},
			{"a foreign ABI", 0x1234, prctl, [6]uint64{36, 1}, false},
		} {
			n := &supervise.Notif{Arch: c.arch, Nr: c.nr, Args: c.args}
			if got := h.subreaperCall(n); got != c.want {
				t.Errorf("%s %s: %v, want %v", a.Name, c.name, got, c.want)
			}
		}
	}
}
