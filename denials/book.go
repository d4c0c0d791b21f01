// Package denials counts and logs the system calls that the daemon denies,
// by group: the counts are what each group's syscalls.stat file reads, and
// the log has one line for the first denial of a syscall in a group and at
// most one more per [LogEvery] after that, which says how many it left out.
//
// Only calls that reach the daemon are seen here: those a held process
// makes with a number its notifying layer hands over, which covers every
// number its group denies. A denied seccomp(2), which a fixed layer answers
// in the kernel, is neither counted nor logged.
package denials

import (
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/cgsyscall/cgsyscall/arch"
)

// LogEvery is the shortest time between two log lines for the same
// syscall in the same group.
const LogEvery = 10 * time.Second

// LogRate is the most denial lines a second that a Book lets through for
// all groups together, in bursts of at most LogRate: a process that makes
// groups to multiply its limits gets no further. A line held back counts
// as left out for its syscall, whose next line says so.
const LogRate = 20

// Kind tells which table a counted number belongs to.
type Kind uint8

const (
	// Native is the native table: compat calls that have a native
	// counterpart are counted as that counterpart, since that is how the
	// policy judges them.
	Native Kind = iota
	// Compat is the compat table (i386, AArch32), for the calls that have
	// no native counterpart.
	Compat
	// X32 is the x32 ABI of x86_64, every call of which a group that
	// denies anything refuses.
	X32
)

// Key names one counted syscall.
type Key struct {
	Kind Kind
	Nr   int
}

// KeyOf is the key that a call with seccomp_data fields auditArch, nr
// and args (which hold the sub-call of socketcall and ipc) is counted
// under.
func KeyOf(a *arch.Arch, auditArch uint32, nr int, args [6]uint64) Key {
	switch {
	case auditArch == a.Native.AuditArch && a.X32Bit != 0 && uint32(nr)&a.X32Bit != 0:
		return Key{X32, int(uint32(nr) &^ a.X32Bit)}
	case auditArch == a.Native.AuditArch:
		return Key{Native, nr}
	case a.Compat != nil && auditArch == a.Compat.AuditArch:
		for _, m := range a.Mux {
			if m.Nr == nr && m.Arg >= 0 && m.Arg < len(args) {
				if n, ok := m.Sub[uint32(args[m.Arg])&m.Mask]; ok && n >= 0 {
					return Key{Native, n}
				}
				return Key{Compat, nr}
			}
		}
		if n := a.CompatToNative(nr); n >= 0 {
			return Key{Native, n}
		}
		return Key{Compat, nr}
	}
	return Key{Compat, nr}
}

// Name is how syscalls.stat and the log write k: the syscall's name, or
// its number where the table has no name; compat and x32 keys carry their
// ABI's name in front ("i386:vm86", "x32:520").
func (k Key) Name(a *arch.Arch) string {
	switch k.Kind {
	case Native:
		if name, ok := a.Native.SyscallName(k.Nr); ok {
			return name
		}
		return strconv.Itoa(k.Nr)
	case Compat:
		prefix := "compat:"
		if a.Compat != nil {
			prefix = a.Compat.Name + ":"
			if name, ok := a.Compat.SyscallName(k.Nr); ok {
				return prefix + name
			}
		}
		return prefix + strconv.Itoa(k.Nr)
	}
	return "x32:" + strconv.Itoa(k.Nr)
}

// ABI names the ABI of a call with seccomp_data fields auditArch and nr,
// for the log.
func ABI(a *arch.Arch, auditArch uint32, nr int) string {
	switch {
	case auditArch == a.Native.AuditArch && a.X32Bit != 0 && uint32(nr)&a.X32Bit != 0:
		return "x32"
	case auditArch == a.Native.AuditArch:
		return a.Native.Name
	case a.Compat != nil && auditArch == a.Compat.AuditArch:
		return a.Compat.Name
	}
	return "0x" + strconv.FormatUint(uint64(auditArch), 16)
}

// Book holds the counts of every group. Its methods may be called from
// many goroutines at once.
type Book struct {
	a      *arch.Arch
	now    func() time.Time
	groups sync.Map // group -> *counts

	lmu    sync.Mutex
	tokens float64   // log lines that may go out now, up to LogRate
	filled time.Time // when tokens was last topped up
}

// New makes an empty Book that names syscalls with a's tables.
func New(a *arch.Arch) *Book {
	return &Book{a: a, now: monotonicNow(), tokens: LogRate}
}

// monotonicNow returns a clock of time.Now's readings without the wall
// clock, which nothing here compares: it reads one clock instead of two
// (about 30 ns a reading on this VM). Note reads it, and Quiet only when
// the counter's quiet flag is down.
func monotonicNow() func() time.Time {
	epoch := time.Now()
	return func() time.Time { return epoch.Add(time.Since(epoch)) }
}

// take takes one log line from the shared budget, if there is one left.
func (b *Book) take(now time.Time) bool {
	b.lmu.Lock()
	defer b.lmu.Unlock()
	b.tokens = b.tokensAt(now)
	b.filled = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// left tells whether the shared budget has a log line left now, taking
// none.
func (b *Book) left(now time.Time) bool {
	b.lmu.Lock()
	defer b.lmu.Unlock()
	return b.tokensAt(now) >= 1
}

// tokensAt is the shared budget topped up for the time from its last
// filling to now; b.lmu is held.
func (b *Book) tokensAt(now time.Time) float64 {
	if b.filled.IsZero() {
		return b.tokens
	}
	return min(LogRate, b.tokens+now.Sub(b.filled).Seconds()*LogRate)
}

// line is one counted syscall of a group.
type line struct {
	k Key
	n uint64
}

// lines returns group g's counts sorted by kind, then number.
func (b *Book) lines(g string) []line {
	v, ok := b.groups.Load(g)
	if !ok {
		return nil
	}
	c := v.(*counts)
	c.mu.Lock() // a Restore is seen whole or not at all
	by := *c.by.Load()
	out := make([]line, 0, len(by))
	for _, e := range by {
		out = append(out, line{e.k, e.n.Load()})
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].k.Kind != out[j].k.Kind {
			return out[i].k.Kind < out[j].k.Kind
		}
		return out[i].k.Nr < out[j].k.Nr
	})
	return out
}

// Stat renders what group g's syscalls.stat reads: one "NAME COUNT" line
// for each syscall denied to its members at least once, in the order of
// the native table (then compat, then x32 numbers), and a last line
// "total COUNT".
func (b *Book) Stat(g string) []byte {
	var out []byte
	var total uint64
	for _, l := range b.lines(g) {
		out = append(out, l.k.Name(b.a)...)
		out = append(out, ' ')
		out = strconv.AppendUint(out, l.n, 10)
		out = append(out, '\n')
		total += l.n
	}
	out = append(out, "total "...)
	out = strconv.AppendUint(out, total, 10)
	return append(out, '\n')
}

// Forget drops group g's counts: the group was removed.
func (b *Book) Forget(g string) {
	b.groups.Delete(g)
}

// Flush hands save the rendered counts of every group that changed since
// the last Flush. A group whose save fails stays changed, to be tried
// again; the first error is returned.
func (b *Book) Flush(save func(g string, stat []byte) error) error {
	var first error
	b.groups.Range(func(key, v any) bool {
		g, c := key.(string), v.(*counts)
		if !c.dirty.Swap(false) {
			return true
		}
		if err := save(g, b.Stat(g)); err != nil {
			c.dirty.Store(true)
			if first == nil {
				first = err
			}
		}
		return true
	})
	return first
}
