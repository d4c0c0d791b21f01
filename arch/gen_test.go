package arch

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedUpToDate runs scripts/gen-syscalls into a temporary
// directory and compares its output with the committed tables.
func TestGeneratedUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator with go run; skipped in -short mode")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command in PATH to run scripts/gen-syscalls")
	}

	dir := t.TempDir()
	cmd := exec.Command("go", "run", "../scripts/gen-syscalls", "-dir", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen-syscalls: %v\n%s", err, out)
	}

	files, err := filepath.Glob(filepath.Join(dir, "zsyscalls_*.go"))
	if err != nil || len(files) != 4 {
		t.Fatalf("generator wrote %v (%v), want 4 tables", files, err)
	}
	for _, f := range files {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Base(f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go run ./scripts/gen-syscalls", filepath.Base(f))
		}
	}
}
