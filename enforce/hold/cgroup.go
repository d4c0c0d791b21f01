package hold

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// where says how /proc/PID/cgroup names the mirrored directory: the line
// of the hierarchy it lies in, and its path in that hierarchy.
type where struct {
	// line is how the hierarchy's line begins: "0::" on cgroup2,
	// "ID:CONTROLLERS:" on a cgroup v1 hierarchy ("12:name=x:" for a
	// named one, "4:cpu,cpuacct:" for one of controllers).
	line []byte
	// prefix is the directory's path in the hierarchy; "" for its root.
	prefix string
	// mount is the mount point the directory lies under, and root the
	// path in the hierarchy that the mount shows there ("/" for all).
	mount, root string
}

// dir returns the directory of the hierarchy's path p under the mount;
// false for a path the mount does not show (above its root).
func (w where) dir(p string) (string, bool) {
	rel := p
	if w.root != "/" {
		var ok bool
		if rel, ok = strings.CutPrefix(p, w.root); !ok || (rel != "" && rel[0] != '/') {
			return "", false
		}
	}
	return filepath.Join(w.mount, rel), true
}

// v1 reports whether the directory lies in a cgroup v1 hierarchy.
func (w where) v1() bool {
	return string(w.line) != "0::"
}

// locate finds the cgroup mount that dir lies in (cgroup2, or cgroup for
// a v1 hierarchy; the deepest mount point wins) and the /proc/PID/cgroup
// line of its hierarchy. A v1 hierarchy's line is the one whose
// controller field names only options of the mount: every controller
// and a "name=X" belong to one hierarchy alone.
func locate(dir string) (where, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return where{}, err
	}
	best, v1 := -1, false
	var w where
	var opts string
	for _, line := range strings.Split(string(data), "\n") {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - TYPE SOURCE SUPEROPTS
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if sep < 5 || sep+3 >= len(f) || (f[sep+1] != "cgroup2" && f[sep+1] != "cgroup") {
			continue
		}
		root, mp := f[3], f[4]
		rest, ok := strings.CutPrefix(dir, mp)
		if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) || len(mp) <= best {
			continue
		}
		best = len(mp)
		w.prefix = strings.TrimSuffix(filepath.Join(root, rest), "/")
		w.mount, w.root = mp, root
		v1, opts = f[sep+1] == "cgroup", f[sep+3]
	}
	if best < 0 {
		return where{}, fmt.Errorf("%s is not below a cgroup mount", dir)
	}
	if !v1 {
		w.line = []byte("0::")
		return w, nil
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return where{}, err
	}
	if w.line = v1Line(own, strings.Split(opts, ",")); w.line == nil {
		return where{}, fmt.Errorf("%s: no line of its cgroup v1 hierarchy (options %s) "+
			"in /proc/self/cgroup", dir, opts)
	}
	return w, nil
}

// v1Line returns the beginning ("ID:CONTROLLERS:") of the line of
// /proc/PID/cgroup text b whose controllers are all among opts, the
// super options of a v1 mount; nil when there is none.
func v1Line(b []byte, opts []string) []byte {
	for line := range bytes.Lines(b) {
		id, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		ctl, _, ok := bytes.Cut(rest, []byte(":"))
		if !ok || len(ctl) == 0 {
			continue
		}
		all := true
		for c := range bytes.SplitSeq(ctl, []byte(",")) {
			all = all && slices.Contains(opts, string(c))
		}
		if all {
			return fmt.Appendf(nil, "%s:%s:", id, ctl)
		}
	}
	return nil
}

// pathOf finds the line of /proc/PID/cgroup text b that begins with line
// and returns its path.
func pathOf(b, line []byte) (string, bool) {
	for len(b) > 0 {
		l := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			l, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if p, ok := bytes.CutPrefix(l, line); ok {
			return string(p), true
		}
	}
	return "", false
}

// readWhole reads the whole of f from its start, for a /proc/TID/cgroup
// that outgrew the first read's buffer.
func readWhole(f *os.File, size int) ([]byte, error) {
	for {
		size *= 2
		buf := make([]byte, size)
		n, err := f.ReadAt(buf, 0)
		if n < size {
			if n == 0 && err != nil {
				return nil, err
			}
			return buf[:n], nil
		}
	}
}
