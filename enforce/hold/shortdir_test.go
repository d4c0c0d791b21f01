package hold

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// deepDirs makes levels nested directories of 200-byte names below root,
// each step through a descriptor (their path outgrows PATH_MAX), with a
// file "f" holding "bottom" in the last, and returns the last's path.
func deepDirs(t *testing.T, root string, levels int) string {
	t.Helper()
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("d", 200)
	path := root
	for range levels {
		if err := unix.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd, path = next, path+"/"+name
	}
	defer unix.Close(fd)
	f, err := unix.Openat(fd, "f", unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(f, []byte("bottom"))
	unix.Close(f)
	return path
}

// TestShortDir: a directory whose path is longer than PATH_MAX is reached
// through /proc/self/fd (helper-25's group 286 levels deep, behind the
// mount's back), a short one as it is, and a symbolic link on the way of a
// long one is not followed.
func TestShortDir(t *testing.T) {
	root := t.TempDir()
	deep := deepDirs(t, root, 40) // 8,040 bytes below root
	if _, err := os.ReadFile(filepath.Join(deep, "f")); err == nil {
		t.Fatal("the deep file opened by its path: the test needs a longer one")
	}
	path, done, err := shortDir(deep)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(path, "f"))
	done()
	if err != nil || string(b) != "bottom" {
		t.Fatalf("read %q, %v through %s; want bottom", b, err, path)
	}
	if path, _, err := shortDir(root); err != nil || path != root {
		t.Errorf("shortDir(%s) = %s, %v; want it unchanged", root, path, err)
	}
	// A symbolic link to the deep directory, deep itself: refused.
	link := filepath.Join(root, "link")
	if err := os.Symlink(filepath.Join(root, strings.Repeat("d", 200)), link); err != nil {
		t.Fatal(err)
	}
	viaLink := link + strings.TrimPrefix(deep, filepath.Join(root, strings.Repeat("d", 200)))
	if _, _, err := shortDir(strings.Repeat("/.", 1600) + viaLink); err == nil {
		t.Errorf("shortDir went through the symbolic link %s", link)
	}
}
