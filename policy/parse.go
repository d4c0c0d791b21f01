package policy

import (
	"strconv"
	"syscall"

	"github.com/cgsyscall/cgsyscall/arch"
)

// Parse reads one write to syscalls.deny or syscalls.allow and returns the
// numbers it names. Tokens are separated by spaces, tabs, commas, newlines
// and carriage returns (vertical tabs and form feeds too, the rest of C's
// white space). A token is one of:
//
//   - an integer as strtol(3) with base 0 reads it, with an optional sign
//     ("59", "+59", "0x3b", "073"); the whole token must be the number;
//   - a syscall name of a's native table ("execve");
//   - an inclusive range A-B of two such numbers or names ("0-9",
//     "read-close", "0x10-20"); a leading sign belongs to the number, so
//     "-1-5" starts at -1 and "5--1" ends at -1;
//   - "all".
//
// A range and "all" cover only the numbers that may be denied: they skip
// [NeverDeny] silently. Naming a never-deniable syscall as a single token,
// by number or by name, fails with EPERM. A number outside 0..NRMax fails
// with ERANGE, a range whose start lies above its end and every other
// token with EINVAL. The first bad token decides: Parse returns a
// [*TokenError] for it, which unwraps to the errno, and an empty set.
// An empty write, or one of separators only, gives the empty set.
func Parse(a *arch.Arch, data []byte) (Set, error) {
	p := parser{arch: a, max: nrMax(a), never: NeverDeny(a)}
	var s Set
	line := 1
	for i := 0; i < len(data); {
		if isSep(data[i]) {
			if data[i] == '\n' {
				line++
			}
			i++
			continue
		}
		j := i
		for j < len(data) && !isSep(data[j]) {
			j++
		}
		tok := string(data[i:j])
		t, reason, errno := p.token(tok)
		if errno != 0 {
			return Set{}, &TokenError{Token: tok, Line: line, Reason: reason, Err: errno}
		}
		s = s.Union(t)
		i = j
	}
	return s, nil
}

// Format writes s as the control files read: each number in ascending
// order followed by one space, then a newline. The empty set is a lone
// newline. Parse reads the result back to s whenever s holds no
// never-deniable number (every deny set).
func Format(s Set) []byte {
	b := make([]byte, 0, s.Len()*4+1)
	for _, n := range s.Numbers() {
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, ' ')
	}
	return append(b, '\n')
}

func isSep(c byte) bool {
	switch c {
	case ' ', '\t', ',', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

// parser holds what every token of one write is judged against.
type parser struct {
	arch  *arch.Arch
	max   int // NRMax of the native table
	never Set // numbers that can never be denied
}

// Reasons given in a TokenError.
const (
	reasonSyntax = "not a number, syscall name, range or \"all\""
	reasonOrder  = "range starts above its end"
	reasonNever  = "syscall can never be denied"
)

func (p *parser) reasonRange() string {
	return "number outside 0.." + strconv.Itoa(p.max)
}

// token returns the numbers tok stands for, or why it is bad.
func (p *parser) token(tok string) (Set, string, syscall.Errno) {
	if tok == "all" {
		return Full(p.arch).Minus(p.never), "", 0
	}

	n, errno := p.single(tok)
	switch errno {
	case 0:
		if p.never.Has(n) {
			return Set{}, reasonNever, syscall.EPERM
		}
		return NewSet(n), "", 0
	case syscall.ERANGE:
		return Set{}, p.reasonRange(), errno
	}

	// Not a number or name: maybe a range. Its dash is the first one after
	// the first byte, which may be the start's own sign.
	k := -1
	for i := 1; i < len(tok); i++ {
		if tok[i] == '-' {
			k = i
			break
		}
	}
	if k < 0 {
		return Set{}, reasonSyntax, syscall.EINVAL
	}
	lo, elo := p.single(tok[:k])
	hi, ehi := p.single(tok[k+1:])
	switch {
	case elo == syscall.EINVAL || ehi == syscall.EINVAL:
		return Set{}, reasonSyntax, syscall.EINVAL
	case elo != 0 || ehi != 0:
		return Set{}, p.reasonRange(), syscall.ERANGE
	case lo > hi:
		return Set{}, reasonOrder, syscall.EINVAL
	}
	return span(lo, hi).Minus(p.never), "", 0
}

// single reads tok as one number or one syscall name: EINVAL when it is
// neither, ERANGE for a number outside 0..max.
func (p *parser) single(tok string) (int, syscall.Errno) {
	if n, ok := p.arch.Native.SyscallNumber(tok); ok {
		if n < 0 || n > p.max {
			return 0, syscall.ERANGE
		}
		return n, 0
	}
	v, ok := cNumber(tok)
	switch {
	case !ok:
		return 0, syscall.EINVAL
	case v < 0 || v > int64(p.max):
		return 0, syscall.ERANGE
	}
	return int(v), 0
}

// bigNumber stands for every magnitude too large to matter: cNumber stops
// counting there, so values beyond int64 still read as out of range
// instead of wrapping around.
const bigNumber = 1 << 40

// cNumber reads tok as strtol(tok, &end, 0) does when *end must be the
// end of tok: an optional sign, then "0x" or "0X" and hex digits, "0" and
// octal digits, or decimal digits. ok is false when tok is not such a
// number ("", "+", "0x", "08", "1e3"). A magnitude of bigNumber or more
// comes back as ±bigNumber.
func cNumber(tok string) (v int64, ok bool) {
	neg := false
	if tok != "" && (tok[0] == '+' || tok[0] == '-') {
		neg = tok[0] == '-'
		tok = tok[1:]
	}
	base := int64(10)
	switch {
	case len(tok) >= 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X'):
		base, tok = 16, tok[2:]
	case len(tok) >= 1 && tok[0] == '0':
		base = 8
	}
	if tok == "" {
		return 0, false
	}
	for i := 0; i < len(tok); i++ {
		d := digit(tok[i])
		if d >= base {
			return 0, false
		}
		if v < bigNumber {
			v = v*base + d
		}
	}
	v = min(v, bigNumber)
	if neg {
		v = -v
	}
	return v, true
}

// digit returns the value of hex digit c, or 99 for any other byte.
func digit(c byte) int64 {
	switch {
	case '0' <= c && c <= '9':
		return int64(c - '0')
	case 'a' <= c && c <= 'f':
		return int64(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int64(c-'A') + 10
	}
	return 99
}
