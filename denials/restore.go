package denials

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Restore sets group g's counts to those of stat, a saved syscalls.stat
// (what [Book.Stat] rendered). Counts noted since the start add to them.
// It fails, changing nothing, on a line it cannot read or a total that
// does not match the lines: a saved value is never half taken.
func (b *Book) Restore(g string, stat []byte) error {
	parsed := map[Key]uint64{}
	var sum uint64
	total, haveTotal := uint64(0), false
	for i, ln := range bytes.Split(bytes.TrimSuffix(stat, []byte("\n")), []byte("\n")) {
		f := strings.Fields(string(ln))
		if len(f) != 2 || haveTotal {
			return fmt.Errorf("line %d: %q is not NAME COUNT", i+1, ln)
		}
		n, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return fmt.Errorf("line %d: count %q: %w", i+1, f[1], err)
		}
		if f[0] == "total" {
			total, haveTotal = n, true
			continue
		}
		k, ok := b.parseKey(f[0])
		if !ok {
			return fmt.Errorf("line %d: unknown syscall %q", i+1, f[0])
		}
		if _, dup := parsed[k]; dup {
			return fmt.Errorf("line %d: %s counted twice", i+1, f[0])
		}
		parsed[k] = n
		sum += n
	}
	if !haveTotal || total != sum {
		return fmt.Errorf("the total does not match the lines (%d counted)", sum)
	}
	c := b.group(g)
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, n := range parsed {
		e := c.counter(k)
		e.n.Add(n)
		e.nLogged += n
	}
	return nil
}

// parseKey reads a key as [Key.Name] writes it.
func (b *Book) parseKey(s string) (Key, bool) {
	kind, rest := Native, s
	if r, ok := strings.CutPrefix(s, "x32:"); ok {
		kind, rest = X32, r
	} else if b.a.Compat != nil {
		if r, ok := strings.CutPrefix(s, b.a.Compat.Name+":"); ok {
			kind, rest = Compat, r
		}
	}
	if n, err := strconv.Atoi(rest); err == nil && n >= 0 && n <= math.MaxInt32 {
		return Key{kind, n}, true
	}
	switch kind {
	case Native:
		n, ok := b.a.Native.SyscallNumber(rest)
		return Key{Native, n}, ok
	case Compat:
		n, ok := b.a.Compat.SyscallNumber(rest)
		return Key{Compat, n}, ok
	}
	return Key{}, false
}
