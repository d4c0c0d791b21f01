package fs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// listModes runs f on a fresh mount without OPENDIR (where the kernel
// allows it) and on one with OPENDIR, as on a kernel before Linux 5.1.
func listModes(t *testing.T, f func(t *testing.T, e *env)) {
	for _, opendir := range []bool{false, true} {
		t.Run(map[bool]string{false: "no-opendir", true: "opendir"}[opendir],
			func(t *testing.T) {
				e := newGroup(t)
				e.knobs = &testKnobs{opendir: opendir}
				e.mount(t.TempDir(), e.group, nil)
				can := e.srv.KernelSettings().Flags64()&fuse.CAP_NO_OPENDIR_SUPPORT != 0
				if !opendir && !can {
					t.Skip("the kernel needs OPENDIR (before Linux 5.1)")
				}
				if got := e.knobs.d.on.Load(); got != !opendir {
					t.Fatalf("OPENDIR answered with ENOSYS: %v, want %v", got, !opendir)
				}
				f(t, e)
			})
	}
}

// realNames returns what the mount should list for real directory dir:
// its entries and the control files, sorted.
func (e *env) realNames(dir string) []string {
	e.t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		e.t.Fatal(err)
	}
	want := []string{allowName, denyName, tasksName, statName}
	for _, d := range ents {
		want = append(want, d.Name())
	}
	slices.Sort(want)
	return want
}

// TestListingFresh: a listing shows the real directory as it is now after
// groups were made and removed behind the mount's back, through a new
// descriptor and through one kept open and rewound. Without OPENDIR the
// kernel would otherwise answer the second listing from its cache of the
// first.
func TestListingFresh(t *testing.T) {
	listModes(t, func(t *testing.T, e *env) {
		g := filepath.Join(e.group, "g")
		for _, d := range []string{g, g + "/a", g + "/b"} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		check := func(how string, got []string) {
			t.Helper()
			slices.Sort(got)
			if want := e.realNames(g); !slices.Equal(got, want) {
				t.Fatalf("%s: %q, want %q", how, got, want)
			}
		}
		check("first listing", e.names("g"))
		dir, err := os.Open(filepath.Join(e.mnt, "g"))
		if err != nil {
			t.Fatal(err)
		}
		defer dir.Close()
		names, err := dir.Readdirnames(-1)
		if err != nil {
			t.Fatal(err)
		}
		check("listing of an open directory", names)

		if err := os.Mkdir(g+"/c", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(g + "/a"); err != nil {
			t.Fatal(err)
		}
		got := e.names("g")
		if !slices.Contains(got, "c") || slices.Contains(got, "a") {
			t.Fatalf("listing after mkdir c and rmdir a behind the back: %q", got)
		}
		check("listing after mkdir c and rmdir a behind the back", got)
		if e.knobs.opendir {
			// go-fuse's handle keeps its first listing across a rewind.
			return
		}
		if _, err := dir.Seek(0, 0); err != nil {
			t.Fatal(err)
		}
		if names, err = dir.Readdirnames(-1); err != nil {
			t.Fatal(err)
		}
		check("open directory rewound after the changes", names)
		check("one more listing", e.names("g"))
	})
}

// TestListingPiecewise: a listing read a few entries at a time, one
// READDIR each, while groups come and go lists every entry that stays
// exactly once and no name twice.
func TestListingPiecewise(t *testing.T) {
	listModes(t, func(t *testing.T, e *env) {
		mk := func(prefix string, n int) []string {
			var names []string
			for i := range n {
				name := fmt.Sprintf("%s%d", prefix, i)
				if err := os.Mkdir(filepath.Join(e.group, name), 0o755); err != nil {
					t.Fatal(err)
				}
				names = append(names, name)
			}
			return names
		}
		before := e.realNames(e.group)
		stay := mk("k", 40)
		gone := mk("t", 20)
		stay = append(stay, before...)

		fd := e.openMnt("", unix.O_RDONLY|unix.O_DIRECTORY)
		seen := map[string]int{}
		buf := make([]byte, 200) // a few entries a call
		for calls := 0; ; calls++ {
			n, err := unix.Getdents(fd, buf)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				if calls < 10 {
					t.Fatalf("the listing took %d calls; the test wants many", calls)
				}
				break
			}
			for _, d := range parseDirents(buf[:n], nil) {
				seen[d.name]++
			}
			if calls == 3 {
				for _, name := range gone {
					if err := os.Remove(filepath.Join(e.group, name)); err != nil {
						t.Fatal(err)
					}
				}
				mk("n", 20)
			}
		}
		for name, k := range seen {
			if k != 1 {
				t.Errorf("%s listed %d times", name, k)
			}
		}
		for _, name := range stay {
			if seen[name] != 1 {
				t.Errorf("%s listed %d times, want once", name, seen[name])
			}
		}
	})
}

// TestNumberedCollisions: names whose keys collide get offsets of their
// own, in name order, so that a listing continued after any of them goes
// on with the next (the adversary made two group names of one hash, and
// the second was lost whenever a getdents call ended after the first).
func TestNumberedCollisions(t *testing.T) {
	const k = 5 << cookieRunBits
	key := func(name string) uint64 {
		if name == "z" {
			return k + 1<<cookieRunBits
		}
		return k
	}
	list := []fuse.DirEntry{{Name: "z"}, {Name: "c"}, {Name: "a"}, {Name: "b"}}
	numbered(list, key)
	var got []string
	for _, e := range list {
		got = append(got, fmt.Sprintf("%s:%d", e.Name, e.Off))
	}
	want := []string{fmt.Sprintf("a:%d", k), fmt.Sprintf("b:%d", k+1),
		fmt.Sprintf("c:%d", k+2), fmt.Sprintf("z:%d", k+1<<cookieRunBits)}
	if !slices.Equal(got, want) {
		t.Errorf("numbered = %v, want %v", got, want)
	}
}
