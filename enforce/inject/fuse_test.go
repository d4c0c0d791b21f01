package inject_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/enforce/inject/injecttest"
)

// writeRoot is a FUSE root holding one file, "tasks", whose writes call
// onWrite inside the request, as the daemon's tasks file does.
type writeRoot struct {
	fs.Inode
	onWrite func()
}

func (r *writeRoot) OnAdd(ctx context.Context) {
	f := &writeFile{onWrite: r.onWrite}
	r.AddChild("tasks", r.NewPersistentInode(ctx, f, fs.StableAttr{}), false)
}

type writeFile struct {
	fs.Inode
	onWrite func()
}

func (f *writeFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return nil, fuse.FOPEN_DIRECT_IO, 0
}

func (f *writeFile) Write(ctx context.Context, fh fs.FileHandle, data []byte,
	off int64) (uint32, syscall.Errno) {
	f.onWrite()
	return uint32(len(data)), 0
}

func (f *writeFile) Getattr(ctx context.Context, fh fs.FileHandle,
	out *fuse.AttrOut) syscall.Errno {

	out.Mode = 0o666 | syscall.S_IFREG
	return 0
}

// mountTasks mounts a writeRoot and returns the path of its tasks file.
func mountTasks(t *testing.T, onWrite func()) string {
	t.Helper()
	dir := t.TempDir()
	opts := &fs.Options{MountOptions: fuse.MountOptions{DirectMountStrict: true}}
	srv, err := fs.Mount(dir, &writeRoot{onWrite: onWrite}, opts)
	if err != nil {
		t.Skipf("cannot mount FUSE: %v", err)
	}
	t.Cleanup(func() { srv.Unmount() })
	return filepath.Join(dir, "tasks")
}

// TestSeizeDuringOwnFuseWrite: a process writes to a file that the caller
// itself serves. Seize inside the request, answer, Install afterwards: the
// write returns its count, and the process's very next call is held.
func TestSeizeDuringOwnFuseWrite(t *testing.T) {
	injecttest.RequireRoot(t)
	var allow atomic.Bool
	s := supervised(t, &allow)
	var victim atomic.Pointer[injecttest.Victim]
	held := make(chan error, 1)
	path := mountTasks(t, func() {
		v := victim.Load()
		sess, err := inject.Seize(v.Pid)
		if err != nil {
			held <- err
			return
		}
		// Install only after this request is answered: until then
		// the writer cannot reach its ptrace stop.
		go func() {
			fd, err := sess.Install(injecttest.Filter(unix.SYS_GETPPID))
			if err == nil {
				err = s.Add(fd, v.Pid)
			}
			held <- err
		}()
	})
	v := injecttest.Start(t, injecttest.C, 0)
	victim.Store(v)
	if got := v.Do(t, "writefile "+path+" 0"); got != "1" {
		t.Fatalf("write to tasks = %s, want 1", got)
	}
	// The victim answers as soon as it runs again, which may be before
	// the installing goroutine has reported back: wait for it. That the
	// hold came first is shown by the very next call being held.
	select {
	case err := <-held:
		if err != nil {
			t.Fatalf("hold from inside the write: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the hold did not finish")
	}
	if got := v.Do(t, "getppid"); got != "-38" {
		t.Errorf("next call after the write = %s, want -38", got)
	}
}

// TestInstallInsideOwnFuseWriteTimesOut: installing before answering the
// request cannot work (the writer waits for the answer, uninterruptibly);
// Install gives up with ETIMEDOUT and the process runs on, unheld.
func TestInstallInsideOwnFuseWriteTimesOut(t *testing.T) {
	injecttest.RequireRoot(t)
	var victim atomic.Pointer[injecttest.Victim]
	res := make(chan error, 1)
	path := mountTasks(t, func() {
		sess, err := inject.Seize(victim.Load().Pid)
		if err != nil {
			res <- err
			return
		}
		sess.Timeout = 200 * time.Millisecond
		fd, err := sess.Install(injecttest.Filter(unix.SYS_GETPPID))
		if err == nil {
			unix.Close(fd)
		}
		res <- err
	})
	v := injecttest.Start(t, injecttest.C, 0)
	victim.Store(v)
	if got := v.Do(t, "writefile "+path+" 0"); got != "1" {
		t.Fatalf("write to tasks = %s, want 1", got)
	}
	if err := <-res; !errors.Is(err, unix.ETIMEDOUT) {
		t.Errorf("Install inside the request = %v, want ETIMEDOUT", err)
	}
	if got := v.Do(t, "getppid"); got != strconv.Itoa(os.Getpid()) {
		t.Errorf("getppid after the failed hold = %s, want %d", got, os.Getpid())
	}
}
