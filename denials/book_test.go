package denials

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cgsyscall/cgsyscall/arch"
)

func nr(t *testing.T, abi *arch.ABI, name string) int {
	t.Helper()
	n, ok := abi.SyscallNumber(name)
	if !ok {
		t.Fatalf("%s has no %s", abi.Name, name)
	}
	return n
}

func TestKeyOf(t *testing.T) {
	a := arch.X86_64
	var none [6]uint64
	sock := [6]uint64{1} // SYS_SOCKET
	cases := []struct {
		what  string
		audit uint32
		nr    int
		args  [6]uint64
		want  string
	}{
		{"native", a.Native.AuditArch, 59, none, "execve"},
		{"native hole", a.Native.AuditArch, 337, none, "337"},
		{"i386 twin", a.Compat.AuditArch, nr(t, a.Compat, "setuid32"), none, "setuid"},
		{"i386 socketcall", a.Compat.AuditArch, nr(t, a.Compat, "socketcall"), sock, "socket"},
		{"i386 only", a.Compat.AuditArch, nr(t, a.Compat, "vm86"), none, "i386:vm86"},
		{"x32", a.Native.AuditArch, 0x40000000 | 520, none, "x32:520"},
	}
	for _, c := range cases {
		if got := KeyOf(a, c.audit, c.nr, c.args).Name(a); got != c.want {
			t.Errorf("%s: %q, want %q", c.what, got, c.want)
		}
	}
	b := arch.AArch64
	if got := KeyOf(b, b.Compat.AuditArch, nr(t, b.Compat, "getppid"), none).Name(b); got !=
		"getppid" {
		t.Errorf("AArch32 getppid: %q", got)
	}
	if got := ABI(a, a.Compat.AuditArch, 20); got != "i386" {
		t.Errorf("ABI of an i386 call: %q", got)
	}
	if got := ABI(a, a.Native.AuditArch, 0x40000000); got != "x32" {
		t.Errorf("ABI of an x32 call: %q", got)
	}
}

func TestStatAndRateLimit(t *testing.T) {
	a := arch.X86_64
	b := New(a)
	clock := time.Unix(1000, 0)
	b.now = func() time.Time { return clock }
	ppid := Key{Native, 110}
	if got := string(b.Stat("g")); got != "total 0\n" {
		t.Fatalf("empty stat: %q", got)
	}
	if log, sup := b.Note("g", ppid); !log || sup != 0 {
		t.Fatalf("first denial: log %v, suppressed %d", log, sup)
	}
	for i := 0; i < 5; i++ {
		if log, _ := b.Note("g", ppid); log {
			t.Fatalf("denial %d within LogEvery was logged", i+2)
		}
	}
	if log, _ := b.Note("g", Key{Native, 59}); !log {
		t.Fatal("the first denial of another syscall was not logged")
	}
	if log, _ := b.Note("g/c", ppid); !log {
		t.Fatal("the first denial in another group was not logged")
	}
	clock = clock.Add(LogEvery)
	if log, sup := b.Note("g", ppid); !log || sup != 5 {
		t.Fatalf("after LogEvery: log %v, suppressed %d, want true, 5", log, sup)
	}
	want := "execve 1\ngetppid 7\ntotal 8\n"
	if got := string(b.Stat("g")); got != want {
		t.Fatalf("stat %q, want %q", got, want)
	}
	if got := string(b.Stat("g/c")); got != "getppid 1\ntotal 1\n" {
		t.Fatalf("child's stat %q", got)
	}
	b.Forget("g/c")
	if got := string(b.Stat("g/c")); got != "total 0\n" {
		t.Fatalf("stat after Forget %q", got)
	}
}

func TestFlushAndRestore(t *testing.T) {
	a := arch.X86_64
	b := New(a)
	b.Note("g", Key{Native, 110})
	b.Note("g", Key{Compat, nr(t, a.Compat, "vm86")})
	b.Note("g", Key{X32, 520})
	b.Note("h", Key{Native, 337})
	saved := map[string]string{}
	save := func(g string, v []byte) error { saved[g] = string(v); return nil }
	if err := b.Flush(save); err != nil {
		t.Fatal(err)
	}
	want := "getppid 1\ni386:vm86 1\nx32:520 1\ntotal 3\n"
	if saved["g"] != want || saved["h"] != "337 1\ntotal 1\n" || len(saved) != 2 {
		t.Fatalf("flushed %q", saved)
	}
	clear(saved)
	if err := b.Flush(save); err != nil || len(saved) != 0 {
		t.Fatalf("a second Flush saved %q (%v); nothing changed", saved, err)
	}
	b.Note("h", Key{Native, 337})
	fail := errors.New("no space")
	if err := b.Flush(func(string, []byte) error { return fail }); err != fail {
		t.Fatalf("Flush error %v", err)
	}
	if err := b.Flush(save); err != nil || saved["h"] != "337 2\ntotal 2\n" {
		t.Fatalf("a failed save was not tried again: %q", saved)
	}

	r := New(a)
	if err := r.Restore("g", []byte(want)); err != nil {
		t.Fatal(err)
	}
	r.Note("g", Key{Native, 110})
	if got := string(r.Stat("g")); got != "getppid 2\ni386:vm86 1\nx32:520 1\ntotal 4\n" {
		t.Fatalf("restored and counted on: %q", got)
	}
	for _, bad := range []string{"getppid 1\n", "getppid 1\ntotal 2\n", "nosuch 1\ntotal 1\n",
		"getppid x\ntotal 1\n", "total 0\ngetppid 1\n", "getppid 1\ngetppid 1\ntotal 2\n",
		"getppid 1 2\ntotal 1\n"} {
		if err := r.Restore("k", []byte(bad)); err == nil {
			t.Errorf("Restore took %q", bad)
		}
		if got := string(r.Stat("k")); got != "total 0\n" {
			t.Errorf("a refused Restore of %q changed the counts: %q", bad, got)
		}
	}
}

// TestLogRate: however many groups, no more than LogRate lines a second go
// out; one held back is reported by its syscall's next line.
func TestLogRate(t *testing.T) {
	b := New(arch.X86_64)
	clock := time.Unix(1000, 0)
	b.now = func() time.Time { return clock }
	logged := 0
	for i := 0; i < 100; i++ {
		if log, _ := b.Note(fmt.Sprintf("g%d", i), Key{Native, 110}); log {
			logged++
		}
	}
	if logged != LogRate {
		t.Fatalf("%d lines of 100 groups at once, want %d", logged, LogRate)
	}
	clock = clock.Add(time.Second / 2)
	if log, sup := b.Note("g99", Key{Native, 110}); !log || sup != 1 {
		t.Fatalf("half a second later, g99: log %v, suppressed %d; want true, 1", log, sup)
	}
}
