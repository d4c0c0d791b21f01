package policy

import (
	"errors"
	"math/big"
	"strings"
	"syscall"
	"testing"
)

// FuzzParse checks that Parse never panics, fails only with EINVAL, ERANGE
// or EPERM as a TokenError naming a token of the input, and that whatever
// it accepts is deniable and reads back through Format unchanged. The
// committed corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "59", "0x3b 073 -1", "read-close,all", "5--1"} {
		f.Add([]byte(s))
	}
	deniable := Deniable(x86)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(x86, data)
		if err != nil {
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("Parse(%q): %v is no TokenError", data, err)
			}
			switch te.Err {
			case syscall.EINVAL, syscall.ERANGE, syscall.EPERM:
			default:
				t.Fatalf("Parse(%q): errno %v", data, te.Err)
			}
			if !errors.Is(err, te.Err) || te.Token == "" ||
				!strings.Contains(string(data), te.Token) || !s.Empty() {
				t.Fatalf("Parse(%q) = %v, %#v", data, s, err)
			}
			return
		}
		if !deniable.Contains(s) {
			t.Fatalf("Parse(%q) = %v, beyond the deniable set", data, s)
		}
		text := Format(s)
		back, err := Parse(x86, text)
		if err != nil || back != s {
			t.Fatalf("Parse(%q) = %v; its Format %q reads back as %v, %v",
				data, s, text, back, err)
		}
	})
}

// FuzzCNumber compares cNumber with math/big's reading of base 0, which
// reads C's notation the same way once Go's own extensions (0b, 0o and
// underscores) are set aside. (strconv.ParseInt is no reference: it
// reports an overflow before it has seen a bad digit further on.)
func FuzzCNumber(f *testing.F) {
	for _, s := range []string{"59", "0x3b", "073", "-1", "+5", "08", "0x", "-0",
		"9223372036854775808", "0b1", "1_0", "20000000000000000000A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		got, ok := cNumber(tok)

		body := strings.TrimLeft(tok, "+-")
		if len(tok)-len(body) > 1 || strings.Contains(tok, "_") ||
			hasAnyPrefix(body, "0b", "0B", "0o", "0O") {
			// strtol stops at a second sign, an underscore, or at the
			// letter of a 0b or 0o prefix.
			if ok {
				t.Fatalf("cNumber(%q) = %d, want not a number", tok, got)
			}
			return
		}
		ref, refOK := new(big.Int).SetString(tok, 0)
		if !refOK {
			if ok {
				t.Fatalf("cNumber(%q) = %d, but it is no number", tok, got)
			}
			return
		}
		want := int64(bigNumber)
		switch {
		case ref.CmpAbs(big.NewInt(bigNumber)) < 0:
			want = ref.Int64()
		case ref.Sign() < 0:
			want = -bigNumber
		}
		if !ok || got != want {
			t.Fatalf("cNumber(%q) = %d, %v; want %d", tok, got, ok, want)
		}
	})
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
