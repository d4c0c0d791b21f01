package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// helpWidth is the width of the help text, for an 80-column terminal.
const helpWidth = 79

// helpCmd is "cgsyscall help [--man] [COMMAND]".
func helpCmd(args []string) error {
	man := false
	var topics []string
	for _, a := range args {
		switch a {
		case "--man", "-man":
			man = true
		default:
			if !isHelpFlag(a) { // "help -h" is help
				topics = append(topics, a)
			}
		}
	}
	switch {
	case man && len(topics) == 0:
		_, err := io.WriteString(os.Stdout, manPage(&doc))
		return err
	case man || len(topics) > 1:
		return usagef("help: expected --man or at most one COMMAND")
	case len(topics) == 0:
		writeOverview(os.Stdout, &doc)
		return nil
	}
	c := doc.command(topics[0])
	if c == nil {
		return usagef("help: no command %q", topics[0])
	}
	writeCommandHelp(os.Stdout, &doc, c)
	return nil
}

// asksHelp reports whether a command's arguments ask for its help: -h,
// -help or --help before any "--".
func asksHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if isHelpFlag(a) {
			return true
		}
	}
	return false
}

// isHelpFlag reports whether a asks for help, after any command.
func isHelpFlag(a string) bool {
	return a == "-h" || a == "-help" || a == "--help"
}

// writeUsage prints the synopsis of c, or of every command when c is nil.
func writeUsage(w io.Writer, m *manual, c *command) {
	if c == nil {
		fmt.Fprintln(w, "usage: cgsyscall COMMAND [ARG...]")
		for _, c := range m.commands {
			for _, l := range wrap(plainWords(synopsis(c)), "  ", "        ", helpWidth) {
				fmt.Fprintln(w, l)
			}
		}
		return
	}
	for _, l := range wrap(plainWords(synopsis(*c)), "usage: ", "         ", helpWidth) {
		fmt.Fprintln(w, l)
	}
}

// writeOverview is "cgsyscall help": every command with its options, and
// the mount options.
func writeOverview(w io.Writer, m *manual) {
	para(w, m.name+": "+m.purpose, "", "  ")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage: cgsyscall COMMAND [ARG...]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range m.commands {
		for _, l := range wrap(plainWords(synopsis(c)), "  ", "        ", helpWidth) {
			fmt.Fprintln(w, l)
		}
		summary := c.summary
		if c.pending != "" {
			summary += " (not in this build yet)"
		}
		para(w, summary, "      ", "      ")
	}
	fmt.Fprintln(w, "\nmount options (-o, or the fourth field of an fstab line):")
	var names []string
	for _, o := range m.mountOptions {
		names = append(names, plainText(optionTerm(o, false))+",")
	}
	names[len(names)-1] = strings.TrimSuffix(names[len(names)-1], ",") + ";"
	names = append(names, strings.Fields("and mount(8)'s generic ones, accepted and ignored.")...)
	for _, l := range wrap(names, "  ", "  ", helpWidth) {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintf(w, "\nexec, show, export and import take the mount point with -m; it\n"+
		"defaults to %s.\n", defaultMount)
	fmt.Fprintln(w, `"cgsyscall help COMMAND" tells all about one command; "man cgsyscall" has`)
	fmt.Fprintln(w, `the files, the errors and the rest ("cgsyscall help --man | man -l -"`)
	fmt.Fprintln(w, "where it is not installed).")
}

// writeCommandHelp is "cgsyscall help COMMAND".
func writeCommandHelp(w io.Writer, m *manual, c *command) {
	writeUsage(w, m, c)
	if c.pending != "" {
		fmt.Fprintln(w, "\nNot in this build yet.")
	}
	for _, p := range c.text {
		fmt.Fprintln(w)
		para(w, p, "", "")
	}
	if len(c.flags) > 0 {
		fmt.Fprintln(w, "\noptions:")
		for _, f := range c.flags {
			fmt.Fprintln(w, "  "+plainText(optionTerm(f, true)))
			para(w, f.text, "        ", "        ")
		}
	}
	if c.name == "mount" {
		fmt.Fprintln(w, "\nmount options (-o, or the fourth field of an fstab line):")
		for _, o := range m.mountOptions {
			fmt.Fprintln(w, "  "+plainText(optionTerm(o, false)))
			para(w, o.text, "        ", "        ")
		}
		para(w, "accepted and ignored: "+strings.Join(m.ignoredOpts, ", "), "  ", "        ")
	}
	fmt.Fprintln(w, "\nexit status:")
	for _, e := range c.exits {
		term := plainText(e.term)
		first := fmt.Sprintf("  %-8s", term)
		if len(term) > 6 {
			fmt.Fprintln(w, "  "+term)
			first = "          "
		}
		para(w, e.text, first, "          ")
	}
}

// para prints one paragraph of marked-up text, wrapped.
func para(w io.Writer, text, first, indent string) {
	for _, l := range wrap(strings.Fields(plainText(text)), first, indent, helpWidth) {
		fmt.Fprintln(w, l)
	}
}

// plainWords drops the marks of each word.
func plainWords(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = plainText(w)
	}
	return out
}
