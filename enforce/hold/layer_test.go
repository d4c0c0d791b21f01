package hold

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/enforce"
	"github.com/cgsyscall/cgsyscall/policy"
)

func testCovers(t *testing.T, a *arch.Arch) *covers {
	t.Helper()
	c, err := newCovers(a)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func nr(t *testing.T, a *arch.Arch, name string) int {
	t.Helper()
	n, ok := a.Native.SyscallNumber(name)
	if !ok {
		t.Fatalf("%s: no %s", a.Name, name)
	}
	return n
}

// TestChainNotified: what a compiled layer notifies is read back from its
// program, for both architectures, with clone3, which every layer fails
// (decided in full); a fixed layer notifies nothing, and a program the VM
// cannot run counts as notifying everything.
func TestChainNotified(t *testing.T) {
	for _, a := range []*arch.Arch{arch.X86_64, arch.AArch64} {
		t.Run(a.Name, func(t *testing.T) {
			c := testCovers(t, a)
			cover := policy.NewSet(nr(t, a, "getppid"), nr(t, a, "uname"), nr(t, a, "read"))
			prog, err := c.program(cover, policy.Set{})
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, chain [][]unix.SockFilter, want, wantPartly policy.Set) {
				t.Helper()
				got, partly := c.chainNotified(chain)
				if !got.Equal(want) || !partly.Equal(wantPartly) {
					t.Errorf("%s: notified %d numbers, %d partly; want %v, partly %v", what,
						got.Len(), partly.Len(), want, wantPartly)
				}
			}
			decided := cover.Union(policy.NewSet(nr(t, a, "clone3")))
			check("one layer", [][]unix.SockFilter{prog}, decided, policy.Set{})
			check("with the fixed layer", [][]unix.SockFilter{c.fixed, prog}, decided,
				policy.Set{})
			full, _ := c.program(c.full, policy.Set{})
			check("with the full layer", [][]unix.SockFilter{prog, full}, c.full, policy.Set{})
			bad := []unix.SockFilter{{Code: 0xffff}}
			check("an unreadable program", [][]unix.SockFilter{bad}, c.full, policy.Set{})
			allow, err := enforce.Compile(a, nil, enforce.ModeNotify)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := enforce.Raw(allow)
			check("a layer that notifies nothing", [][]unix.SockFilter{raw}, policy.Set{},
				policy.Set{})

			// A layer that lets tgkill and tkill run with SIGURG and
			// prlimit64 with pid 0 notifies them partly; an older filter
			// that notifies tgkill in full makes it notified in full.
			passCover := cover.Union(c.passable)
			pass, err := c.program(passCover, c.passable)
			if err != nil {
				t.Fatal(err)
			}
			passDecided := decided.Union(c.passable)
			check("a layer with the pass", [][]unix.SockFilter{pass}, passDecided, c.passable)
			tg := policy.NewSet(nr(t, a, "tgkill"))
			old, _ := c.program(tg, policy.Set{})
			check("the pass after a full tgkill", [][]unix.SockFilter{old, pass}, passDecided,
				c.passable.Minus(tg))
			check("the pass before the full layer", [][]unix.SockFilter{pass, full}, c.full,
				policy.Set{})
		})
	}
}

// TestCovers: a first layer covers what it needs and what other groups
// deny that is not frequent; a grown one is generous; neither notifies
// seccomp.
func TestCovers(t *testing.T) {
	a := arch.X86_64
	c := testCovers(t, a)
	getppid, read, acct, seccomp := nr(t, a, "getppid"), nr(t, a, "read"), nr(t, a, "acct"),
		nr(t, a, "seccomp")
	c.setUnion(policy.NewSet(read, acct, seccomp, getppid))
	base := c.base(policy.NewSet(getppid, seccomp))
	if want := policy.NewSet(getppid, acct).Union(c.guard); !base.Equal(want) {
		t.Errorf("base = %v, want %v (read is frequent, seccomp never notified, the "+
			"guard's calls always)", base, want)
	}
	for _, name := range []string{"kill", "tgkill", "ptrace", "pidfd_getfd", "setxattr"} {
		if !base.Has(nr(t, a, name)) || !c.generous.Has(nr(t, a, name)) {
			t.Errorf("%s, which the guard judges, is not in every cover", name)
		}
	}
	if base := c.base(policy.NewSet(read)); !base.Has(read) {
		t.Errorf("base of a need with read = %v, lacks it", base)
	}
	grown := c.grown(policy.NewSet(getppid), policy.NewSet(read))
	if !grown.Has(read) || !grown.Has(getppid) || grown.Has(seccomp) ||
		!grown.Contains(c.generous) || grown.Has(nr(t, a, "write")) {
		t.Errorf("grown = %v: want the generous set, read and getppid; not seccomp, write", grown)
	}
	if c.full.Has(seccomp) || c.full.Len() != policy.Deniable(a).Len()-1 {
		t.Errorf("full cover has %d numbers", c.full.Len())
	}
}

// TestUnreachedCut: a last instruction is cut only where no run reaches
// it, and a marked layer program notifies what the program did.
func TestUnreachedCut(t *testing.T) {
	ret := func(k uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k}
	}
	ld := unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS}
	jeqTo := func(jt uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: 39, Jt: jt}
	}
	for _, c := range []struct {
		name string
		prog []unix.SockFilter
		cut  bool
	}{
		{"unreached", []unix.SockFilter{ld, jeqTo(0), ret(1), ret(7)}, true},
		{"jumped to", []unix.SockFilter{ld, jeqTo(1), ret(1), ret(7)}, false},
		{"falls through", []unix.SockFilter{ld, ret(7)}, false},
	} {
		if got := len(unreachedCut(c.prog)) < len(c.prog); got != c.cut {
			t.Errorf("%s: cut %v, want %v", c.name, got, c.cut)
		}
	}
	cov, base := generousBase(t)
	key := testLayerKey(t)
	marked := key.mark(base)
	if a, b := cov.notifiedBy(base), cov.notifiedBy(marked); !a.zero.Equal(b.zero) ||
		!a.urg.Equal(b.urg) {
		t.Errorf("the marked program notifies %v, the program %v", b.zero, a.zero)
	}
	if cut := unreachedCut(marked); !slices.Equal(cut, base) {
		t.Errorf("the marked program cut has %d instructions, want the program's %d",
			len(cut), len(base))
	}
}

// TestMark: a marked program bears the tag of its key and no other; two
// marks of one program differ; a copy with any word changed, or the tag
// of another key, or no tag, is not authentic.
func TestMark(t *testing.T) {
	_, base := generousBase(t)
	k1, k2 := testLayerKey(t), testLayerKey(t)
	a, b := k1.mark(base), k1.mark(base)
	if len(a) != len(base)+markLen || !slices.Equal(a[:len(base)], base) {
		t.Fatalf("mark: %d instructions, want the program's %d and %d more", len(a), len(base),
			markLen)
	}
	if !k1.authentic(a) || !k1.authentic(b) {
		t.Fatal("a program marked with k1 is not authentic under k1")
	}
	if slices.Equal(a, b) {
		t.Error("two marks of one program are the same bytes")
	}
	if k2.authentic(a) {
		t.Error("a program marked with k1 is authentic under k2")
	}
	if k1.authentic(base) || k1.authentic(nil) || k1.authentic(a[:len(a)-1]) {
		t.Error("an unmarked or cut program is authentic")
	}
	for i := range a {
		forged := slices.Clone(a)
		forged[i].K ^= 1
		if k1.authentic(forged) {
			t.Errorf("a marked program with word %d changed is authentic", i)
		}
	}
	// The key goes through the placement log as text.
	if k, err := parseLayerKey(k1.String()); err != nil || k != k1 {
		t.Errorf("parseLayerKey(String()) = %v, %v", k, err)
	}
	if _, err := parseLayerKey("00"); err == nil {
		t.Error("a short key parsed")
	}
}

// generousBase returns the covers of x86_64 and the program of a layer
// with the generous cover.
func generousBase(t *testing.T) (*covers, []unix.SockFilter) {
	t.Helper()
	cov := testCovers(t, arch.X86_64)
	base, err := cov.program(cov.generous, policy.Set{})
	if err != nil {
		t.Fatal(err)
	}
	return cov, base
}

// testLayerKey returns a new key.
func testLayerKey(t *testing.T) layerKey {
	t.Helper()
	k, err := newLayerKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
