package main

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The tests of this file hold the manual of doc.go against the code: the
// commands run dispatches, the flags each command defines (read from the
// package's source, so that a flag added anywhere shows up), the options
// parseOptions takes, and the committed man page.

// source parses the package's non-test files.
func source(t *testing.T) []*ast.File {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// funcDecl finds the function or method called name.
func funcDecl(t *testing.T, files []*ast.File, name string) *ast.FuncDecl {
	t.Helper()
	for _, f := range files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == name {
				return fd
			}
		}
	}
	t.Fatalf("no function %s in the package", name)
	return nil
}

// stringLit returns the value of a string literal expression.
func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// dispatched returns the commands run's switch dispatches, each with the
// function it calls ("mount" -> "mountCmd"). Names starting with a dash
// (help's aliases) are left out.
func dispatched(t *testing.T, files []*ast.File) map[string]string {
	t.Helper()
	out := map[string]string{}
	ast.Inspect(funcDecl(t, files, "run"), func(n ast.Node) bool {
		cc, ok := n.(*ast.CaseClause)
		if !ok {
			return true
		}
		fn := ""
		for _, st := range cc.Body {
			ast.Inspect(st, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok && fn == "" {
					if id, ok := call.Fun.(*ast.Ident); ok && strings.HasSuffix(id.Name, "Cmd") {
						fn = id.Name
					}
				}
				return fn == ""
			})
		}
		for _, e := range cc.List {
			if s, ok := stringLit(e); ok && fn != "" && !strings.HasPrefix(s, "-") {
				out[s] = fn
			}
		}
		return false
	})
	if len(out) == 0 {
		t.Fatal("found no command in run's switch")
	}
	return out
}

// flagDefiners are the methods of flag.FlagSet that define a flag, with
// the index of the argument that names it.
var flagDefiners = map[string]int{
	"Bool": 0, "BoolFunc": 0, "Duration": 0, "Float64": 0, "Func": 0, "Int": 0,
	"Int64": 0, "String": 0, "Uint": 0, "Uint64": 0,
	"BoolVar": 1, "DurationVar": 1, "Float64Var": 1, "IntVar": 1, "Int64Var": 1,
	"StringVar": 1, "TextVar": 1, "UintVar": 1, "Uint64Var": 1, "Var": 1,
}

// handFlag is a string literal that a hand-written parser compares an
// argument with: "-arch", "--arch", "--arch=".
var handFlag = regexp.MustCompile(`^--?([a-z][a-z0-9-]*)=?$`)

// definedFlags returns the flags function name defines: those of every
// flag.NewFlagSet in it, and those it parses by hand.
func definedFlags(t *testing.T, files []*ast.File, name string) []string {
	t.Helper()
	fd := funcDecl(t, files, name)
	sets := map[string]bool{}
	ast.Inspect(fd, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
			return true
		}
		call, ok := as.Rhs[0].(*ast.CallExpr)
		if !ok {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "NewFlagSet" {
			if id, ok := as.Lhs[0].(*ast.Ident); ok {
				sets[id.Name] = true
			}
		}
		return true
	})
	var flags []string
	ast.Inspect(fd, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			recv, ok := sel.X.(*ast.Ident)
			idx, defines := flagDefiners[sel.Sel.Name]
			if !ok || !sets[recv.Name] || !defines {
				return true
			}
			if idx >= len(n.Args) {
				t.Errorf("%s: %s.%s without a name", name, recv.Name, sel.Sel.Name)
				return true
			}
			s, ok := stringLit(n.Args[idx])
			if !ok {
				t.Errorf("%s: a flag whose name is not a literal; the test cannot read it",
					name)
				return true
			}
			flags = append(flags, s)
		case *ast.BasicLit:
			if s, ok := stringLit(n); ok {
				if m := handFlag.FindStringSubmatch(s); m != nil {
					flags = append(flags, m[1])
				}
			}
		}
		return true
	})
	slices.Sort(flags)
	return slices.Compact(flags)
}

func documentedFlags(c *command) []string {
	var names []string
	for _, f := range c.flags {
		names = append(names, f.name)
	}
	slices.Sort(names)
	return names
}

// difference returns what a holds and b lacks.
func difference(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func TestDocCommandsAreDispatched(t *testing.T) {
	run := dispatched(t, source(t))
	for _, c := range doc.commands {
		_, ok := run[c.name]
		switch {
		case ok && c.pending != "":
			t.Errorf("command %s is built now: check its text in doc.go against the "+
				"code, then drop its pending mark", c.name)
		case !ok && c.pending == "":
			t.Errorf("command %s is documented but run does not dispatch it", c.name)
		case !ok:
			t.Logf("command %s is documented ahead of its code (%s)", c.name, c.pending)
		}
	}
	for name := range run {
		if doc.command(name) == nil && !slices.Contains(internalCommands, name) {
			t.Errorf("command %s is dispatched but not documented in doc.go", name)
		}
	}
}

func TestDocFlagsMatchTheCode(t *testing.T) {
	files := source(t)
	for name, fn := range dispatched(t, files) {
		c := doc.command(name)
		if c == nil {
			continue // TestDocCommandsAreDispatched says so
		}
		got, want := definedFlags(t, files, fn), documentedFlags(c)
		if !slices.Equal(got, want) {
			t.Errorf("%s (%s) defines flags %q, doc.go documents %q", name, fn, got, want)
		}
	}
}

func TestDocFlagsReader(t *testing.T) {
	// The reader of the source must see every way of defining a flag;
	// were it blind, the comparison above would prove nothing.
	const src = `package main
func fooCmd(args []string) error {
	fl := flag.NewFlagSet("foo", flag.ContinueOnError)
	fl.StringVar(&x, "mirror", "", "")
	n := fl.Int("count", 0, "")
	fl.Func("o", "", nil)
	other.String("not-a-flag", "", "")
	for _, a := range args {
		if a == "--arch" || strings.HasPrefix(a, "--level=") || a == "--" {
		}
	}
	return usagef("foo: --quiet is wrong")
}`
	f, err := parser.ParseFile(token.NewFileSet(), "foo.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := definedFlags(t, []*ast.File{f}, "fooCmd")
	if want := []string{"arch", "count", "level", "mirror", "o"}; !slices.Equal(got, want) {
		t.Errorf("read flags %q, want %q", got, want)
	}
}

func TestDocMountOptionsMatchParseOptions(t *testing.T) {
	var got []string
	ast.Inspect(funcDecl(t, source(t), "parseOptions"), func(n ast.Node) bool {
		if cc, ok := n.(*ast.CaseClause); ok {
			for _, e := range cc.List {
				if s, ok := stringLit(e); ok && s != "" {
					got = append(got, s)
				}
			}
		}
		return true
	})
	var want []string
	for _, o := range doc.ignoredOpts {
		if o != "x-*" { // a prefix, taken by parseOptions's default branch
			want = append(want, o)
		}
	}
	for _, o := range doc.mountOptions {
		want = append(want, o.name)
	}
	undocumented, gone := difference(got, want), difference(want, got)
	if len(undocumented) > 0 || len(gone) > 0 {
		t.Errorf("parseOptions takes %q that doc.go lacks; doc.go has %q that it does not "+
			"take", undocumented, gone)
	}
}

func TestDocPendingFiles(t *testing.T) {
	// syscalls.stat comes with the fs package; once it is there its text
	// must be checked against it.
	const term = "{MOUNTPOINT}/{GROUP}/`syscalls.stat`"
	if doc.pending[term] == "" {
		return
	}
	srcs, _ := filepath.Glob("../../fs/*.go")
	for _, f := range srcs {
		b, err := os.ReadFile(f)
		if err == nil && !strings.HasSuffix(f, "_test.go") &&
			bytes.Contains(b, []byte(`"syscalls.stat"`)) {
			t.Errorf("%s serves syscalls.stat now: check its text in doc.go, then "+
				"drop it from doc.pending", f)
		}
	}
}

func TestManPageIsCurrent(t *testing.T) {
	committed, err := os.ReadFile("../../docs/cgsyscall.8")
	if err != nil {
		t.Fatal(err)
	}
	if string(committed) != manPage(&doc) {
		t.Fatal("docs/cgsyscall.8 is stale: go run ./cmd/cgsyscall help --man " +
			"> docs/cgsyscall.8")
	}
}

// renderMan formats the man page as plain text and returns it and the
// formatter's warnings, with groff or else man-db.
func renderMan(t *testing.T, page string) (text, warnings string) {
	t.Helper()
	var cmd, lint *exec.Cmd
	if _, err := exec.LookPath("groff"); err == nil {
		lint = exec.Command("groff", "-man", "-Tutf8", "-ww", "-z", page)
		cmd = exec.Command("groff", "-man", "-Tascii", "-P-cbou", page)
	} else if _, err := exec.LookPath("man"); err == nil {
		lint = exec.Command("man", "--warnings=w", "-l", page)
		cmd = exec.Command("man", "-l", page)
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_FORMATTING=", "PAGER=cat")
	} else {
		t.Skip("neither groff nor man is installed (apt-get install groff-base)")
	}
	var stderr bytes.Buffer
	lint.Stdout, lint.Stderr = nil, &stderr
	if err := lint.Run(); err != nil {
		t.Fatalf("%v: %v\n%s", lint.Args, err, stderr.String())
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return string(out), stderr.String()
}

func TestManPageRenders(t *testing.T) {
	page := filepath.Join(t.TempDir(), "cgsyscall.8")
	if err := os.WriteFile(page, []byte(manPage(&doc)), 0o644); err != nil {
		t.Fatal(err)
	}
	text, warnings := renderMan(t, page)
	if warnings != "" {
		t.Errorf("the formatter warns:\n%s", warnings)
	}
	// The same formatter does warn about a broken page.
	bad := filepath.Join(t.TempDir(), "bad.8")
	if err := os.WriteFile(bad, []byte(".TH BAD 8\n.SH NAME\n.XYZZY\nx\\q\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, w := renderMan(t, bad); w == "" {
		t.Error("the formatter found nothing wrong with a broken page")
	}
	text = strings.Join(strings.Fields(text), " ")
	want := []string{"NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "FILES",
		"EXIT STATUS", "ENVIRONMENT", "EXAMPLES", "SEE ALSO"}
	for _, c := range doc.commands {
		want = append(want, "cgsyscall "+c.name)
		for _, f := range c.flags {
			want = append(want, plainText(optionTerm(f, true)))
		}
		for _, e := range c.exits {
			want = append(want, plainText(e.term)+" "+strings.Fields(plainText(e.text))[0])
		}
	}
	for _, o := range doc.mountOptions {
		want = append(want, plainText(optionTerm(o, false)))
	}
	for _, f := range doc.files {
		want = append(want, plainText(f.term))
	}
	for _, e := range doc.environment {
		want = append(want, plainText(e.term))
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("the rendered page lacks %q", w)
		}
	}
}

func TestRoffEscapes(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"`-o` {DIR} a\\b", `\fB\-o\fR \fIDIR\fR a\eb`},
		{"read-only `--log-format`", `read-only \fB\-\-log\-format\fR`},
		{"no   marks\n\there", "no marks here"},
	} {
		if got := roffText(c.in); got != c.want {
			t.Errorf("roffText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// A sentence that starts with a period must not become a request.
	if got, want := roffPara("One. .hidden is a file. 'quoted'"),
		"One.\n\\&.hidden is a file.\n\\&'quoted'\n"; got != want {
		t.Errorf("roffPara = %q, want %q", got, want)
	}
}
