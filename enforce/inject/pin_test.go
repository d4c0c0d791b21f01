package inject_test

import (
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/enforce/inject/injecttest"
)

// TestHoldKeepsAffinity: a hold puts the tracing thread and the injecting
// thread of the tracee on one CPU while it runs, and every CPU mask is as
// it was afterwards: each thread of the held process, each thread of the
// holder. The masks tried are every CPU (the pin then always narrows it)
// and each CPU alone (the pin applies only when the holder runs there).
func TestHoldKeepsAffinity(t *testing.T) {
	injecttest.RequireRoot(t)
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		t.Fatal(err)
	}
	if all.Count() < 2 {
		t.Skip("needs two CPUs: on one, a pin changes no mask")
	}
	masks := map[string]unix.CPUSet{"all": all}
	for cpu := 0; cpu < 1024 && len(masks) < 3; cpu++ {
		if all.IsSet(cpu) {
			var one unix.CPUSet
			one.Set(cpu)
			masks["cpu"+strconv.Itoa(cpu)] = one
		}
	}
	mine := threadMasks(t, os.Getpid())
	for _, kind := range kinds {
		for _, workers := range []int{0, 2} {
			for name, mask := range masks {
				t.Run(kind+"/"+strconv.Itoa(workers)+"/"+name, func(t *testing.T) {
					v := injecttest.Start(t, kind, workers)
					for tid := range threadMasks(t, v.Pid) {
						if err := unix.SchedSetaffinity(tid, &mask); err != nil {
							t.Fatalf("setting the mask of thread %d: %v", tid, err)
						}
					}
					fd, err := inject.Hold(v.Pid, injecttest.Filter(unix.SYS_GETPPID))
					if err != nil {
						t.Fatalf("Hold: %v", err)
					}
					unix.Close(fd)
					if got := v.Do(t, "getppid"); got != "-38" {
						t.Errorf("getppid with the listener closed = %s, want -38", got)
					}
					for tid, got := range threadMasks(t, v.Pid) {
						if got != mask {
							t.Errorf("thread %d of the held process: CPU mask %v after "+
								"the hold, want %v", tid, cpus(got), cpus(mask))
						}
					}
					for tid, got := range threadMasks(t, os.Getpid()) {
						if want, ok := mine[tid]; ok && got != want {
							t.Errorf("thread %d of the holder: CPU mask %v after the "+
								"hold, want %v", tid, cpus(got), cpus(want))
						}
					}
				})
			}
		}
	}
}

// threadMasks returns the CPU mask of every thread of process pid.
func threadMasks(t *testing.T, pid int) map[int]unix.CPUSet {
	t.Helper()
	names, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]unix.CPUSet{}
	for _, n := range names {
		tid, err := strconv.Atoi(n.Name())
		if err != nil {
			continue
		}
		var set unix.CPUSet
		if unix.SchedGetaffinity(tid, &set) == nil {
			out[tid] = set
		}
	}
	return out
}

// cpus lists the CPUs of set.
func cpus(set unix.CPUSet) []int {
	var out []int
	for cpu := 0; cpu < 1024; cpu++ {
		if set.IsSet(cpu) {
			out = append(out, cpu)
		}
	}
	return out
}
