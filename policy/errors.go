package policy

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// TokenError reports the first bad token of a control-file write. It
// unwraps to its errno: EINVAL for a token that is neither a number, a
// known name, a range nor "all" (or a range whose start lies above its
// end), ERANGE for a number outside 0..NRMax, EPERM for a syscall that can
// never be denied.
type TokenError struct {
	Token  string        // the token as written
	Line   int           // 1-based line of the write that holds it
	Reason string        // a few words, such as "unknown syscall"
	Err    syscall.Errno // EINVAL, ERANGE or EPERM
}

func (e *TokenError) Error() string {
	return fmt.Sprintf("line %d: %q: %s", e.Line, e.Token, e.Reason)
}

// Unwrap returns the errno, so errors.Is(err, syscall.EINVAL) holds.
func (e *TokenError) Unwrap() error { return e.Err }

// InheritanceError reports an allow that would make a group wider than
// its parent. It unwraps to EPERM.
type InheritanceError struct {
	Group   string // the group written to
	Parent  string // its parent, which denies the numbers
	Numbers []int  // the numbers of the write that the parent denies
}

func (e *InheritanceError) Error() string {
	nrs := make([]string, len(e.Numbers))
	for i, n := range e.Numbers {
		nrs[i] = strconv.Itoa(n)
	}
	return fmt.Sprintf("group %q: allow %s: denied by parent %q",
		e.Group, strings.Join(nrs, " "), e.Parent)
}

// Unwrap returns EPERM.
func (e *InheritanceError) Unwrap() error { return syscall.EPERM }

// groupError wraps errno with the group path it concerns.
func groupError(path string, errno syscall.Errno, what string) error {
	return fmt.Errorf("group %q: %s: %w", path, what, errno)
}
