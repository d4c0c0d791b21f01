package persist

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/policy"
)

var subtree = []string{"a", "a/b", "a/b/c", "a/d", "e"}

// fmtSet is what an attribute holds for the syscalls named.
func (e *testEnv) fmtSet(names ...string) string {
	return string(policy.Format(e.nrs(names...)))
}

// TestSaveAndLoad: denies and allows saved as they happen come back
// exactly, and the attributes hold the control files' format.
func TestSaveAndLoad(t *testing.T) {
	e := newEnv(t, subtree...)
	tr := e.tree(subtree...)
	steps := []struct {
		group string
		deny  bool
		names []string
	}{
		{"a", true, []string{"getppid", "uname"}},
		{"", true, []string{"ptrace"}},
		{"a", false, []string{"uname"}},
		{"a/b/c", true, []string{"getuid"}},
	}
	for _, st := range steps {
		var err error
		if st.deny {
			err = tr.Deny(st.group, e.nrs(st.names...))
		} else {
			err = tr.Allow(st.group, e.nrs(st.names...))
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := e.s.Save(tr, st.group, st.deny); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{
		"":      e.fmtSet("ptrace"),
		"a":     e.fmtSet("ptrace", "getppid"),
		"a/b":   e.fmtSet("ptrace", "getppid", "uname"),
		"a/b/c": e.fmtSet("ptrace", "getppid", "uname", "getuid"),
		"a/d":   e.fmtSet("ptrace", "getppid", "uname"),
		"e":     e.fmtSet("ptrace"),
	}
	for g, w := range want {
		if got := e.attr(g); got != w {
			t.Errorf("attribute of /%s = %q, want %q", g, got, w)
		}
	}
	got, sum := e.load()
	if sets(got) != sets(tr) {
		t.Errorf("loaded:\n%swant:\n%s", sets(got), sets(tr))
	}
	if sum.Groups != 6 || sum.Saved != 6 || len(sum.Repaired) != 0 {
		t.Errorf("summary %+v, want 6 groups, 6 saved, none repaired", sum)
	}
}

// TestLoadWithoutSavedPolicy: a mirror that never had a daemon loads as
// every group with D = {}.
func TestLoadWithoutSavedPolicy(t *testing.T) {
	e := newEnv(t, subtree...)
	got, sum := e.load()
	if want := sets(e.tree(subtree...)); sets(got) != want {
		t.Errorf("loaded:\n%swant:\n%s", sets(got), want)
	}
	if sum.Groups != 6 || sum.Saved != 0 || sum.String() != "6 groups, 0 with a saved policy" {
		t.Errorf("summary %+v (%q)", sum, sum)
	}
}

// TestLoadInherits: a group without an attribute (made while no daemon
// ran) starts with its parent's set, as a new group does.
func TestLoadInherits(t *testing.T) {
	e := newEnv(t, subtree...)
	e.setAttr("", e.fmtSet("ptrace"))
	e.setAttr("a", e.fmtSet("ptrace", "getppid"))
	got, _ := e.load()
	want := e.tree(subtree...)
	want.Deny("", e.nrs("ptrace"))
	want.Deny("a", e.nrs("getppid"))
	if sets(got) != sets(want) {
		t.Errorf("loaded:\n%swant:\n%s", sets(got), sets(want))
	}
}

// TestAllowSavesUnsavedDescendants: a group that was never written
// inherits at the next start, so an allow in its parent writes it first;
// otherwise it would come back with the parent's narrower set.
func TestAllowSavesUnsavedDescendants(t *testing.T) {
	e := newEnv(t, "a")
	tr := e.tree("a")
	tr.Deny("a", e.nrs("getppid"))
	if err := e.s.Save(tr, "a", true); err != nil {
		t.Fatal(err)
	}
	e.mkdir("a/new") // made through the mount: a copy of a's set, not saved
	tr.Ensure("a/new")
	if got := e.attr("a/new"); got != "-" {
		t.Fatalf("a/new has %q before the allow", got)
	}
	tr.Allow("a", e.nrs("getppid"))
	if err := e.s.Save(tr, "a", false); err != nil {
		t.Fatal(err)
	}
	if got, want := e.attr("a/new"), e.fmtSet("getppid"); got != want {
		t.Errorf("a/new after the allow in a: %q, want %q", got, want)
	}
	got, _ := e.load()
	if sets(got) != sets(tr) {
		t.Errorf("loaded:\n%swant:\n%s", sets(got), sets(tr))
	}
}

// TestInterruptedSave stops a save after each number of attribute writes,
// as a kill -9 of the daemon would, and loads what is left: the policy is
// the state before the write or the state after it, whole, and exactly
// which is known. A deny writes its group first, so it is complete as soon
// as one write got through; an allow writes its group last.
func TestInterruptedSave(t *testing.T) {
	for _, deny := range []bool{true, false} {
		for k := 0; ; k++ {
			name := fmt.Sprintf("allow/%d", k)
			if deny {
				name = fmt.Sprintf("deny/%d", k)
			}
			var done bool
			t.Run(name, func(t *testing.T) { done = interrupted(t, deny, k) })
			if done || t.Failed() {
				break
			}
		}
	}
}

// interrupted runs one case of TestInterruptedSave: a change in a whose
// save stops before write k. It reports whether the save had no write k.
func interrupted(t *testing.T, deny bool, k int) bool {
	e := newEnv(t, subtree...)
	tr := e.tree(subtree...)
	// Start: getppid denied in a (saved), a/d made later and never saved,
	// uname denied in a/b/c (saved).
	tr.Deny("a", e.nrs("getppid"))
	e.s.Save(tr, "a", true)
	tr.Deny("a/b/c", e.nrs("uname"))
	e.s.Save(tr, "a/b/c", true)
	unix.Removexattr(e.dir("a/d"), Attr)
	before := sets(tr)

	if deny {
		tr.Deny("a", e.nrs("ptrace"))
	} else {
		tr.Allow("a", e.nrs("getppid"))
	}
	after := sets(tr)
	var writes []string
	withBeforeSet(t, func(g string) error {
		if len(writes) == k {
			return errors.New("killed")
		}
		writes = append(writes, g)
		return nil
	})
	err := e.s.Save(tr, "a", deny)
	beforeSet = nil
	complete := err == nil

	got, sum := e.load()
	want, which := before, "before"
	if (deny && len(writes) > 0) || (!deny && complete) {
		want, which = after, "after"
	}
	if sets(got) != want {
		t.Errorf("after %d writes (%v) the load is\n%swant the state %s the change:\n%s",
			len(writes), writes, sets(got), which, want)
	}
	if deny && len(writes) > 0 && !complete {
		// The saved descendants not written yet are repaired, and the
		// repair is written back: a second load has nothing to repair.
		var stale []string
		for _, g := range []string{"a/b", "a/b/c"} {
			if !slices.Contains(writes, g) {
				stale = append(stale, g)
			}
		}
		if !slices.Equal(sum.Repaired, stale) {
			t.Errorf("after writes %v: repaired %v, want %v", writes, sum.Repaired, stale)
		}
		if _, sum2 := e.load(); len(sum2.Repaired) != 0 {
			t.Errorf("second load repaired %v again", sum2.Repaired)
		}
	}
	if len(writes) > 0 && writes[0] != "a" && deny {
		t.Errorf("a deny wrote %s first, want a", writes[0])
	}
	if !deny && complete && writes[len(writes)-1] != "a" {
		t.Errorf("an allow wrote %v, want a last", writes)
	}
	return complete
}

// TestRepairSurvivesAllow: a deny of ptrace in a interrupted after a
// itself was written is completed at load; an allow of ptrace in a
// afterwards must not take it from a/b, which never had it written.
func TestRepairSurvivesAllow(t *testing.T) {
	e := newEnv(t, "a", "a/b")
	e.setAttr("", "\n")
	e.setAttr("a", e.fmtSet("ptrace"))
	e.setAttr("a/b", "\n")
	tr, sum := e.load()
	if strings.Join(sum.Repaired, ",") != "a/b" {
		t.Fatalf("repaired %v, want [a/b]", sum.Repaired)
	}
	want := "3 groups, 3 with a saved policy; completed an interrupted deny in /a/b"
	if sum.String() != want {
		t.Errorf("summary %q, want %q", sum, want)
	}
	tr.Allow("a", e.nrs("ptrace"))
	if err := e.s.Save(tr, "a", false); err != nil {
		t.Fatal(err)
	}
	got, _ := e.load()
	if d, _ := got.Denied("a/b"); d != e.nrs("ptrace") {
		t.Errorf("a/b after the allow in a and a restart: %v, want ptrace only", d)
	}
}

// TestCorrupt: an attribute that holds anything but a valid saved set
// fails the load with a message naming the group, the attribute and the
// way out, and leaves the tree as it was.
func TestCorrupt(t *testing.T) {
	e := newEnv(t, "a", "a/b")
	neverNr, _ := e.a.Native.SyscallNumber("rt_sigreturn")
	cases := []struct{ name, val, why string }{
		{"garbage", "garbage", `line 1: "garbage": not a number`},
		{"no newline", strings.TrimSpace(e.fmtSet("getppid")), "not in the saved form"},
		{"empty", "", "not in the saved form"},
		{"by name", "getppid \n", "not in the saved form"},
		{"never deniable", fmt.Sprintf("%d \n", neverNr), "can never be denied"},
		{"out of range", "99999 \n", "number outside 0.."},
		{"binary", "\x00\xff\x01", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.setAttr("a/b", c.val)
			tr := e.tree("a", "a/b")
			tr.Deny("a", e.nrs("uname"))
			before := sets(tr)
			_, err := e.s.Load(tr)
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Load: %v, want a *CorruptError", err)
			}
			if ce.Group != "/a/b" || ce.Dir != e.dir("a/b") || string(ce.Value) != c.val {
				t.Errorf("error %+v", ce)
			}
			msg := err.Error()
			for _, w := range []string{"saved policy of group /a/b is corrupt: ",
				Attr + " of " + e.dir("a/b"), c.why, "not mounting without it"} {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q: %s", w, msg)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("message is not one line: %q", msg)
			}
			if sets(tr) != before {
				t.Errorf("tree changed by a failed load:\n%s", sets(tr))
			}
		})
	}
}

// TestCorruptMessage pins the whole message, with and without setfattr.
func TestCorruptMessage(t *testing.T) {
	e := newEnv(t, "g")
	e.setAttr("g", "garbage")
	dir := e.dir("g")
	old := lookPath
	defer func() { lookPath = old }()
	for _, have := range []bool{true, false} {
		lookPath = func(string) (string, error) {
			if have {
				return "/usr/bin/setfattr", nil
			}
			return "", errors.New("not found")
		}
		_, err := e.s.Load(policy.NewTree(e.a))
		want := `saved policy of group /g is corrupt: trusted.cgsyscall.deny of ` + dir +
			` holds "garbage" (line 1: "garbage": not a number, syscall name, range or ` +
			`"all"); not mounting without ` +
			`it. To give the group its parent's policy instead, `
		if have {
			want += "run: setfattr -x trusted.cgsyscall.deny " + dir
		} else {
			want += "remove the extended attribute trusted.cgsyscall.deny of " + dir
		}
		if err == nil || err.Error() != want {
			t.Errorf("setfattr %v:\n got %v\nwant %s", have, err, want)
		}
	}
}

// TestLoadSkipsMountPoints: the daemon's mount point inside the mirror is
// no group, and the walk never crosses into any mount (here a tmpfs
// mounted on a group of the test's own): it reads the group under it,
// whose saved policy is its own whatever is mounted there (helper-60: a
// group under another mirror's mount could not be saved, and every deny
// of its ancestors failed with EIO).
func TestLoadSkipsMountPoints(t *testing.T) {
	e := newEnv(t, "mnt", "x", "y")
	e.setAttr("mnt", "garbage") // never read: it is the mount point
	e.setAttr("x", e.fmtSet("ptrace"))
	if err := unix.Mount("tmpfs", e.dir("x"), "tmpfs", 0, "size=64k"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(e.dir("x"), unix.MNT_DETACH)
	if err := os.Mkdir(filepath.Join(e.dir("x"), "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Open(e.base, e.dir("mnt"), e.a)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr := policy.NewTree(e.a)
	if _, err := s.Load(tr); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tr.Paths(), ","); got != ",x,y" {
		t.Errorf("groups loaded: %q, want the root, x and y", got)
	}
	if d, _ := tr.Denied("x"); string(policy.Format(d)) != e.fmtSet("ptrace") {
		t.Errorf("x's set: %q, want %q (its saved policy)", policy.Format(d),
			e.fmtSet("ptrace"))
	}
}

// TestRmdirForgets checks the kernel's side of forgetting: the attribute
// goes with the directory, and a group made again under the same name has
// none.
func TestRmdirForgets(t *testing.T) {
	e := newEnv(t, "g")
	e.setAttr("g", e.fmtSet("getppid"))
	if err := os.Remove(e.dir("g")); err != nil {
		t.Fatal(err)
	}
	e.mkdir("g")
	if got := e.attr("g"); got != "-" {
		t.Errorf("a group made again under the old name has %q", got)
	}
}

// TestSaveSkipsRemovedGroups: a group whose directory went while the tree
// still knew it is skipped; its policy went with it.
func TestSaveSkipsRemovedGroups(t *testing.T) {
	e := newEnv(t, "a", "a/b")
	tr := e.tree("a", "a/b")
	os.Remove(e.dir("a/b"))
	tr.Deny("a", e.nrs("getppid"))
	if err := e.s.Save(tr, "a", true); err != nil {
		t.Errorf("Save with a removed descendant: %v", err)
	}
	if got, want := e.attr("a"), e.fmtSet("getppid"); got != want {
		t.Errorf("a: %q, want %q", got, want)
	}
}

// TestSaveErrorNamesGroup: a failed write says which group and attribute,
// and keeps the errno.
func TestSaveErrorNamesGroup(t *testing.T) {
	e := newEnv(t, "a")
	tr := e.tree("a")
	tr.Deny("a", e.nrs("getppid"))
	withBeforeSet(t, func(string) error { return syscall.ENOSPC })
	err := e.s.Save(tr, "a", true)
	want := "saving the policy of group /a in " + Attr + " of " + e.dir("a") +
		": no space left on device"
	if err == nil || err.Error() != want || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Save: %v, want %s", err, want)
	}
}
