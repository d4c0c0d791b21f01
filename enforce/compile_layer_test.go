package enforce

import (
	"slices"
	"testing"

	"github.com/cgsyscall/cgsyscall/arch"
)

// layerVM is passVM for CompileLayer.
func layerVM(t *testing.T, a *arch.Arch, deny []int, mode Mode, pass []int) *vm {
	t.Helper()
	prog, err := CompileLayer(a, deny, mode, pass)
	if err != nil {
		t.Fatalf("CompileLayer(%s, %d numbers, %v, %v): %v", a.Name, len(deny), mode, pass, err)
	}
	return vmOf(t, prog)
}

const epermV = 0x00050001 // SECCOMP_RET_ERRNO | EPERM

// Flags of real clone calls: fork(3) of glibc, a thread of glibc and of
// Go's runtime, vfork of posix_spawn, and the sibling that runc's nsexec
// makes.
const (
	forkFlags    = 0x01200011 // CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD
	glibcThread  = 0x003d0f00 // pthread_create's: CLONE_VM, FS, FILES, SIGHAND, THREAD, ...
	goThread     = 0x00050f00 // CLONE_VM|FS|FILES|SIGHAND|SYSVSEM|THREAD
	vforkFlags   = 0x00004111 // CLONE_VM|CLONE_VFORK|SIGCHLD
	siblingFlags = 0x00008011 // CLONE_PARENT|SIGCHLD
)

// TestCompileLayerRefusals: a layer fails a clone that makes a sibling
// (CLONE_PARENT without CLONE_THREAD, whatever else its flags hold, and
// whatever the high word) with EPERM, and clone3 with ENOSYS, in the native
// and the compat ABI, whether or not the deny set names them; other clones
// get the number's verdict.
func TestCompileLayerRefusals(t *testing.T) {
	for _, a := range []*arch.Arch{arch.X86_64, arch.AArch64} {
		clone, clone3 := nr(t, a, "clone"), nr(t, a, "clone3")
		cclone, ok1 := a.Compat.SyscallNumber("clone")
		cclone3, ok2 := a.Compat.SyscallNumber("clone3")
		if !ok1 || !ok2 {
			t.Fatalf("%s: the compat table lacks clone or clone3", a.Name)
		}
		getppid := nr(t, a, "getppid")
		cgetppid, _ := a.Compat.SyscallNumber("getppid")
		for _, mode := range []Mode{ModeErrno, ModeNotify} {
			for _, deny := range [][]int{{getppid}, {getppid, clone, clone3}} {
				denied := slices.Contains(deny, clone)
				cloneV := uint32(allowV)
				if denied {
					cloneV = deniedValue(mode)
				}
				label := a.Name + " " + mode.String()
				if denied {
					label += " clone denied"
				}
				m := layerVM(t, a, deny, mode, nil)
				var cases []passCase
				for _, abi := range []struct {
					name                   string
					audit                  uint32
					clone, clone3, getppid int
				}{
					{"native", a.Native.AuditArch, clone, clone3, getppid},
					{"compat", a.Compat.AuditArch, cclone, cclone3, cgetppid},
				} {
					cases = append(cases,
						passCase{abi.name + " sibling", abi.audit, abi.clone,
							arg0(siblingFlags), epermV},
						passCase{abi.name + " sibling, high word", abi.audit, abi.clone,
							arg0(1<<40 | siblingFlags), epermV},
						passCase{abi.name + " sibling vfork", abi.audit, abi.clone,
							arg0(vforkFlags | siblingFlags), epermV},
						passCase{abi.name + " fork", abi.audit, abi.clone, arg0(forkFlags),
							cloneV},
						passCase{abi.name + " vfork", abi.audit, abi.clone, arg0(vforkFlags),
							cloneV},
						passCase{abi.name + " glibc thread", abi.audit, abi.clone,
							arg0(glibcThread), cloneV},
						passCase{abi.name + " Go thread", abi.audit, abi.clone,
							arg0(goThread), cloneV},
						passCase{abi.name + " thread with CLONE_PARENT", abi.audit, abi.clone,
							arg0(goThread | 0x8000), cloneV},
						passCase{abi.name + " clone3", abi.audit, abi.clone3, arg0(0),
							enosysV},
						passCase{abi.name + " getppid", abi.audit, abi.getppid, arg0(0),
							deniedValue(mode)},
					)
				}
				m.check(t, label, cases)
			}
		}
	}
}

// TestCompileLayerElsewhereUnchanged: but for clone, clone3 and prctl's
// PR_SET_CHILD_SUBREAPER (no argument tried here is 36), a layer
// answers every number of every arch value as CompilePass does, with the
// same passes.
func TestCompileLayerElsewhereUnchanged(t *testing.T) {
	for _, a := range []*arch.Arch{arch.X86_64, arch.AArch64} {
		tgkill, tkill := nr(t, a, "tgkill"), nr(t, a, "tkill")
		skip := map[uint32][]int{a.Native.AuditArch: {nr(t, a, "clone"), nr(t, a, "clone3")}}
		for _, name := range []string{"clone", "clone3"} {
			n, _ := a.Compat.SyscallNumber(name)
			skip[a.Compat.AuditArch] = append(skip[a.Compat.AuditArch], n)
		}
		audits := []uint32{a.Native.AuditArch, a.Compat.AuditArch, 0, arch.AuditArchI386}
		for name, deny := range denySets(a) {
			deny = append(slices.Clone(deny), tgkill, tkill)
			for _, mode := range []Mode{ModeErrno, ModeNotify} {
				layer := layerVM(t, a, deny, mode, []int{tgkill, tkill})
				plain := passVM(t, a, deny, mode, []int{tgkill, tkill})
				bad := 0
				for _, audit := range audits {
					for _, n := range numbersToTry(a) {
						if slices.Contains(skip[audit], int(n)) {
							continue
						}
						for _, args := range [][6]uint64{arg0(0), arg0(siblingFlags),
							sigArgs(true, 23), sigArgs(false, 9)} {
							got, want := layer.run(audit, n, args), plain.run(audit, n, args)
							if got != want && bad < 5 {
								bad++
								t.Errorf("%s %s %v: arch %#x nr %d args %v: %#x, want %#x",
									a.Name, name, mode, audit, n, args[:3], got, want)
							}
						}
					}
				}
			}
		}
	}
}

// TestCompileLayerPaths: the native path of a layer (ModeNotify) loads an
// argument for clone, prctl (whether or not denied: PR_SET_CHILD_SUBREAPER
// is handed over) and the passes, no other; it stays within the bounds of
// TestCompilePassPaths.
func TestCompileLayerPaths(t *testing.T) {
	for _, a := range []*arch.Arch{arch.X86_64, arch.AArch64} {
		tgkill, tkill, clone := nr(t, a, "tgkill"), nr(t, a, "tkill"), nr(t, a, "clone")
		for name, deny := range denySets(a) {
			deny := append(slices.Clone(deny), tgkill, tkill)
			prog, err := CompileLayer(a, deny, ModeNotify, []int{tgkill, tkill})
			if err != nil {
				t.Fatal(err)
			}
			prctl := nr(t, a, "prctl")
			for nr := uint32(0); nr <= uint32(a.Native.NRMax)+2; nr++ {
				n := int(nr)
				want := n == clone || n == tgkill || n == tkill || n == prctl
				if got := loadsArg(t, prog, a.Native.AuditArch, nr); got != want {
					t.Errorf("%s %s: the path of %d loads an argument: %v, want %v",
						a.Name, name, nr, got, want)
				}
			}
			limit := 400 + 20
			if name == "alternate" {
				limit = 600 + 20
			}
			if len(prog) > limit || longestPath(prog) > 24 {
				t.Errorf("%s %s: %d instructions, longest path %d", a.Name, name,
					len(prog), longestPath(prog))
			}
		}
	}
}

// TestCompileLayerSubreaper: in ModeNotify a layer hands prctl over with
// the option PR_SET_CHILD_SUBREAPER (36) where the deny set allows prctl,
// and lets every other option run; where it denies prctl, every option but
// PR_SET_NO_NEW_PRIVS, PR_GET_CHILD_SUBREAPER (37, which the daemon
// asks at each hold) and PR_GET_DUMPABLE and PR_SET_DUMPABLE (3 and 4,
// which it makes before a stub goes in) is handed over, 36 among them. The compat prctl
// likewise, without the exception. In ModeErrno nothing changes: the option
// is allowed where prctl is.
func TestCompileLayerSubreaper(t *testing.T) {
	const sub, get, nnp, setName = 36, 37, 38, 15
	for _, a := range []*arch.Arch{arch.X86_64, arch.AArch64} {
		prctl, getppid := nr(t, a, "prctl"), nr(t, a, "getppid")
		cprctl, _ := a.Compat.SyscallNumber("prctl")
		nat, cmp := a.Native.AuditArch, a.Compat.AuditArch
		m := layerVM(t, a, []int{getppid}, ModeNotify, nil)
		m.check(t, a.Name+" prctl allowed", []passCase{
			{"set subreaper", nat, prctl, [6]uint64{sub, 1}, notifyV},
			{"clear subreaper", nat, prctl, [6]uint64{sub, 0}, notifyV},
			{"set subreaper, high word", nat, prctl, [6]uint64{1<<32 | sub, 1}, notifyV},
			{"no new privs", nat, prctl, [6]uint64{nnp, 1}, allowV},
			{"set name", nat, prctl, [6]uint64{setName, 0}, allowV},
			{"compat set subreaper", cmp, cprctl, [6]uint64{sub, 1}, notifyV},
			{"compat set name", cmp, cprctl, [6]uint64{setName, 0}, allowV},
		})
		m = layerVM(t, a, []int{getppid, prctl}, ModeNotify, nil)
		m.check(t, a.Name+" prctl denied", []passCase{
			{"set subreaper", nat, prctl, [6]uint64{sub, 1}, notifyV},
			{"no new privs", nat, prctl, [6]uint64{nnp, 1}, allowV},
			{"get subreaper", nat, prctl, [6]uint64{get, 0x1000}, allowV},
			{"get subreaper, option's high word", nat, prctl, [6]uint64{get + 1<<32, 0}, allowV},
			{"get dumpable", nat, prctl, [6]uint64{3}, allowV},
			{"clear dumpable", nat, prctl, [6]uint64{4, 0}, allowV},
			{"set keepcaps", nat, prctl, [6]uint64{8, 1}, notifyV},
			{"compat get dumpable", cmp, cprctl, [6]uint64{3}, notifyV},
			{"set name", nat, prctl, [6]uint64{setName, 0}, notifyV},
			{"compat set subreaper", cmp, cprctl, [6]uint64{sub, 1}, notifyV},
			{"compat no new privs", cmp, cprctl, [6]uint64{nnp, 1}, notifyV},
		})
		m = layerVM(t, a, []int{getppid}, ModeErrno, nil)
		m.check(t, a.Name+" errno", []passCase{
			{"set subreaper", nat, prctl, [6]uint64{sub, 1}, allowV},
			{"compat set subreaper", cmp, cprctl, [6]uint64{sub, 1}, allowV},
		})
	}
}
