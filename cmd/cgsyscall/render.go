package main

import (
	"strings"
)

// spanKind tells plain text from the two marks of doc.go.
type spanKind int

const (
	plain   spanKind = iota
	literal          // `...`
	meta             // {...}
)

type span struct {
	kind spanKind
	text string
}

// spans splits marked-up text into its runs, white space collapsed.
func spans(s string) []span {
	s = strings.Join(strings.Fields(s), " ")
	var out []span
	var cur strings.Builder
	kind := plain
	flush := func(next spanKind) {
		if cur.Len() > 0 {
			out = append(out, span{kind, cur.String()})
			cur.Reset()
		}
		kind = next
	}
	for _, r := range s {
		switch {
		case r == '`' && kind == literal:
			flush(plain)
		case r == '`' && kind == plain:
			flush(literal)
		case r == '{' && kind == plain:
			flush(meta)
		case r == '}' && kind == meta:
			flush(plain)
		default:
			cur.WriteRune(r)
		}
	}
	flush(plain)
	return out
}

// plainText drops the marks.
func plainText(s string) string {
	var b strings.Builder
	for _, sp := range spans(s) {
		b.WriteString(sp.text)
	}
	return b.String()
}

// flagName is a flag as typed: one dash for a letter, two for a word.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// optionTerm is an option with its value: `--mirror` {DIR}, `mirror=`{DIR}.
func optionTerm(o option, isFlag bool) string {
	if isFlag {
		t := "`" + flagName(o.name) + "`"
		if o.arg != "" {
			t += " " + o.arg
		}
		return t
	}
	if o.arg != "" {
		return "`" + o.name + "=`" + o.arg
	}
	return "`" + o.name + "`"
}

// synopsis is a command's usage as words that a line may break between.
func synopsis(c command) []string {
	words := []string{"`cgsyscall " + c.name + "`"}
	for _, f := range c.flags {
		words = append(words, "["+optionTerm(f, true)+"]")
	}
	return append(words, topWords(c.args)...)
}

// topWords splits s at the spaces outside brackets.
func topWords(s string) []string {
	var words []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '[':
			depth++
		case ']':
			depth--
		case ' ':
			if depth == 0 {
				if i > start {
					words = append(words, s[start:i])
				}
				start = i + 1
			}
		}
	}
	if start < len(s) {
		words = append(words, s[start:])
	}
	return words
}

// wrap fills words into lines of at most width columns, the first
// starting with first, the others with indent.
func wrap(words []string, first, indent string, width int) []string {
	var lines []string
	line := first
	empty := true
	for _, w := range words {
		if !empty && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line, empty = indent, true
		}
		if !empty {
			line += " "
		}
		line += w
		empty = false
	}
	return append(lines, line)
}

// command returns the documented command called name, or nil.
func (m *manual) command(name string) *command {
	for i := range m.commands {
		if m.commands[i].name == name {
			return &m.commands[i]
		}
	}
	return nil
}
