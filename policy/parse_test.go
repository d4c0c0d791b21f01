package policy

import (
	"errors"
	"syscall"
	"testing"

	"github.com/cgsyscall/cgsyscall/arch"
)

var x86 = arch.X86_64

// x86 facts the tables below rely on: NRMax 469, never-deniable 15
// (rt_sigreturn), 60 (exit), 219 (restart_syscall), 231 (exit_group),
// and a hole at 335..423.

// except returns s without the numbers nrs.
func except(s Set, nrs ...int) Set { return s.Minus(NewSet(nrs...)) }

func TestParse(t *testing.T) {
	all := except(span(0, 469), 15, 60, 219, 231)
	tests := []struct {
		name, in string
		want     Set
		errno    syscall.Errno // 0: success
		tok      string        // the bad token, on error
	}{
		// Empty writes.
		{name: "empty", in: "", want: Set{}},
		{name: "blanks", in: " \t\n\r\n,,  \v\f", want: Set{}},
		{name: "lone newline", in: "\n", want: Set{}},

		// C integers, strtol base 0.
		{name: "decimal", in: "59", want: NewSet(59)},
		{name: "hex", in: "0x3b", want: NewSet(59)},
		{name: "hex upper", in: "0X3B", want: NewSet(59)},
		{name: "octal", in: "073", want: NewSet(59)},
		{name: "plus", in: "+59", want: NewSet(59)},
		{name: "plus hex", in: "+0x3b", want: NewSet(59)},
		{name: "zero", in: "0", want: NewSet(0)},
		{name: "octal zero", in: "00", want: NewSet(0)},
		{name: "minus zero", in: "-0", want: NewSet(0)},
		{name: "leading zeros hex", in: "0x0000003b", want: NewSet(59)},
		{name: "NRMax", in: "469", want: NewSet(469)},
		{name: "NRMax hex", in: "0x1d5", want: NewSet(469)},
		{name: "hole", in: "400", want: NewSet(400)},
		{name: "same four ways", in: "59 0x3b 073 execve", want: NewSet(59)},

		// Names.
		{name: "name", in: "execve", want: NewSet(59)},
		{name: "names", in: "read write\topenat", want: NewSet(0, 1, 257)},
		{name: "last name", in: "file_setattr", want: NewSet(469)},

		// Separators and the read format.
		{name: "commas", in: "1,2,3", want: NewSet(1, 2, 3)},
		{name: "empty fields", in: ",1,,2,", want: NewSet(1, 2)},
		{name: "mixed", in: "1, 2\t3\n4\r\n5 \n", want: span(1, 5)},
		{name: "read format", in: "0 1 2 59 \n", want: NewSet(0, 1, 2, 59)},
		{name: "read format empty", in: "\n", want: Set{}},

		// Ranges.
		{name: "range", in: "0-3", want: span(0, 3)},
		{name: "range one", in: "3-3", want: NewSet(3)},
		{name: "range names", in: "read-close", want: span(0, 3)},
		{name: "range mixed", in: "read-0x3", want: span(0, 3)},
		{name: "range plus", in: "+1-+3", want: span(1, 3)},
		{name: "range skips never", in: "10-20", want: except(span(10, 20), 15)},
		{name: "range of never", in: "15-15", want: Set{}},
		{name: "range never name", in: "exit-exit", want: Set{}},
		{name: "range to NRMax", in: "460-469", want: span(460, 469)},
		{name: "range over hole", in: "334-424", want: span(334, 424)},
		{name: "range minus zero", in: "-0-2", want: span(0, 2)},

		// all.
		{name: "all", in: "all", want: all},
		{name: "all twice", in: "all all 0-5", want: all},

		// ERANGE.
		{name: "above NRMax", in: "470", errno: syscall.ERANGE, tok: "470"},
		{name: "above NRMax hex", in: "0x1d6", errno: syscall.ERANGE, tok: "0x1d6"},
		{name: "minus one", in: "-1", errno: syscall.ERANGE, tok: "-1"},
		{name: "minus hex", in: "-0x1", errno: syscall.ERANGE, tok: "-0x1"},
		{name: "int64 max", in: "9223372036854775807", errno: syscall.ERANGE,
			tok: "9223372036854775807"},
		{name: "beyond int64", in: "9223372036854775808", errno: syscall.ERANGE,
			tok: "9223372036854775808"},
		{name: "long decimal", in: "99999999999999999999999999", errno: syscall.ERANGE,
			tok: "99999999999999999999999999"},
		{name: "long negative", in: "-99999999999999999999999999", errno: syscall.ERANGE,
			tok: "-99999999999999999999999999"},
		{name: "long hex", in: "0xffffffffffffffffffffffff", errno: syscall.ERANGE,
			tok: "0xffffffffffffffffffffffff"},
		{name: "wrapping hex", in: "0x10000000000000000", errno: syscall.ERANGE,
			tok: "0x10000000000000000"},
		{name: "range from minus", in: "-1-5", errno: syscall.ERANGE, tok: "-1-5"},
		{name: "range to minus", in: "5--1", errno: syscall.ERANGE, tok: "5--1"},
		{name: "range above", in: "460-470", errno: syscall.ERANGE, tok: "460-470"},
		{name: "range both above", in: "600-500", errno: syscall.ERANGE, tok: "600-500"},

		// EINVAL.
		{name: "invalid octal", in: "08", errno: syscall.EINVAL, tok: "08"},
		{name: "invalid octal 09", in: "0779", errno: syscall.EINVAL, tok: "0779"},
		{name: "bare 0x", in: "0x", errno: syscall.EINVAL, tok: "0x"},
		{name: "bad hex", in: "0x1g", errno: syscall.EINVAL, tok: "0x1g"},
		{name: "trailing garbage", in: "59abc", errno: syscall.EINVAL, tok: "59abc"},
		{name: "overflow then garbage", in: "20000000000000000000A", errno: syscall.EINVAL,
			tok: "20000000000000000000A"},
		{name: "exponent", in: "1e3", errno: syscall.EINVAL, tok: "1e3"},
		{name: "go binary", in: "0b1", errno: syscall.EINVAL, tok: "0b1"},
		{name: "go octal", in: "0o7", errno: syscall.EINVAL, tok: "0o7"},
		{name: "underscore", in: "1_0", errno: syscall.EINVAL, tok: "1_0"},
		{name: "bare plus", in: "+", errno: syscall.EINVAL, tok: "+"},
		{name: "bare minus", in: "-", errno: syscall.EINVAL, tok: "-"},
		{name: "double sign", in: "+-1", errno: syscall.EINVAL, tok: "+-1"},
		{name: "double minus", in: "--1", errno: syscall.EINVAL, tok: "--1"},
		{name: "unknown name", in: "opnat", errno: syscall.EINVAL, tok: "opnat"},
		{name: "case matters", in: "Execve", errno: syscall.EINVAL, tok: "Execve"},
		{name: "ALL", in: "ALL", errno: syscall.EINVAL, tok: "ALL"},
		{name: "compat only name", in: "socketcall", errno: syscall.EINVAL, tok: "socketcall"},
		{name: "range reversed", in: "5-3", errno: syscall.EINVAL, tok: "5-3"},
		{name: "range names reversed", in: "close-read", errno: syscall.EINVAL,
			tok: "close-read"},
		{name: "range open end", in: "5-", errno: syscall.EINVAL, tok: "5-"},
		{name: "range open start", in: "-5-", errno: syscall.EINVAL, tok: "-5-"},
		{name: "range of three", in: "1-2-3", errno: syscall.EINVAL, tok: "1-2-3"},
		{name: "range bad end", in: "1-opnat", errno: syscall.EINVAL, tok: "1-opnat"},
		{name: "range minus and bad", in: "-1-opnat", errno: syscall.EINVAL, tok: "-1-opnat"},
		{name: "range with all", in: "all-5", errno: syscall.EINVAL, tok: "all-5"},
		{name: "NUL", in: "5\x00", errno: syscall.EINVAL, tok: "5\x00"},
		{name: "semicolon", in: "1;2", errno: syscall.EINVAL, tok: "1;2"},

		// EPERM: never-deniable syscalls named singly.
		{name: "rt_sigreturn", in: "rt_sigreturn", errno: syscall.EPERM, tok: "rt_sigreturn"},
		{name: "restart_syscall", in: "restart_syscall", errno: syscall.EPERM,
			tok: "restart_syscall"},
		{name: "exit", in: "exit", errno: syscall.EPERM, tok: "exit"},
		{name: "exit_group", in: "exit_group", errno: syscall.EPERM, tok: "exit_group"},
		{name: "never by number", in: "15", errno: syscall.EPERM, tok: "15"},
		{name: "never by hex", in: "0xe7", errno: syscall.EPERM, tok: "0xe7"},
		{name: "never by octal", in: "074", errno: syscall.EPERM, tok: "074"},
		{name: "never after all", in: "all 219", errno: syscall.EPERM, tok: "219"},

		// The first bad token decides.
		{name: "first EINVAL", in: "59 opnat 470 15", errno: syscall.EINVAL, tok: "opnat"},
		{name: "first ERANGE", in: "59 470 opnat 15", errno: syscall.ERANGE, tok: "470"},
		{name: "first EPERM", in: "59,15,470,opnat", errno: syscall.EPERM, tok: "15"},
		{name: "bad last", in: "all\n0-9\nexecve\n08\n", errno: syscall.EINVAL, tok: "08"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(x86, []byte(tc.in))
			if tc.errno == 0 {
				if err != nil {
					t.Fatalf("Parse(%q): %v", tc.in, err)
				}
				if got != tc.want {
					t.Fatalf("Parse(%q) = %v, want %v", tc.in, got, tc.want)
				}
				return
			}
			if !errors.Is(err, tc.errno) {
				t.Fatalf("Parse(%q) = %v, %v; want errno %v", tc.in, got, err, tc.errno)
			}
			var te *TokenError
			if !errors.As(err, &te) || te.Token != tc.tok || te.Err != tc.errno {
				t.Fatalf("Parse(%q): error %#v, want a TokenError for %q", tc.in, err, tc.tok)
			}
			if !got.Empty() {
				t.Fatalf("Parse(%q) failed but returned %v", tc.in, got)
			}
		})
	}
}

func TestParseAArch64(t *testing.T) {
	a := arch.AArch64
	got, err := Parse(a, []byte("execve 0xdd 335 read-write")) // 335: a hole
	if err != nil || got != NewSet(221, 335, 63, 64) {
		t.Fatalf("Parse = %v, %v; want {63 64 221 335}", got, err)
	}
	// rt_sigreturn is 139 on aarch64; 15 (lremovexattr) may be denied.
	if _, err := Parse(a, []byte("139")); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("Parse(139) on aarch64: %v, want EPERM", err)
	}
	if got, err := Parse(a, []byte("15")); err != nil || got != NewSet(15) {
		t.Fatalf("Parse(15) on aarch64 = %v, %v; want {15}", got, err)
	}
	if _, err := Parse(a, []byte("open")); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Parse(open) on aarch64: %v, want EINVAL (no open(2) there)", err)
	}
}

func TestTokenErrorMessage(t *testing.T) {
	_, err := Parse(x86, []byte("read\n\nwrite opnat"))
	want := `line 3: "opnat": not a number, syscall name, range or "all"`
	if err == nil || err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	_, err = Parse(x86, []byte("1\r\n470"))
	if want := `line 2: "470": number outside 0..469`; err == nil || err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		in   Set
		want string
	}{
		{Set{}, "\n"},
		{NewSet(0), "0 \n"},
		{NewSet(469, 1, 59), "1 59 469 \n"},
		{span(62, 66), "62 63 64 65 66 \n"},
	}
	for _, tc := range tests {
		if got := string(Format(tc.in)); got != tc.want {
			t.Errorf("Format(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFormatParsesBack(t *testing.T) {
	for _, s := range []Set{{}, NewSet(0), NewSet(469), Deniable(x86), span(100, 200)} {
		got, err := Parse(x86, Format(s))
		if err != nil || got != s {
			t.Errorf("Parse(Format(%v)) = %v, %v", s, got, err)
		}
	}
}

func TestTables(t *testing.T) {
	if got := Full(x86); got != span(0, 469) {
		t.Errorf("Full = %v", got)
	}
	if got := NeverDeny(x86); got != NewSet(15, 60, 219, 231) {
		t.Errorf("NeverDeny = %v, want {15 60 219 231}", got)
	}
	if got := Deniable(x86); got.Len() != 466 || got.Has(15) || !got.Has(469) {
		t.Errorf("Deniable = %v", got)
	}
}
