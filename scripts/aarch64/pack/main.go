// Command pack is the host side helper of scripts/aarch64/run.sh:
//
//	pack cpio OUT DIR   write DIR as a gzip-compressed cpio (newc) archive,
//	                    the initramfs, every entry owned by root, plus the
//	                    device nodes /dev/console and /dev/null
//	pack depends FILE   print the modules that the kernel module FILE
//	                    (an uncompressed .ko) depends on, one a line
//	pack report LOG N   read the VM's console log of a plan of N test
//	                    binaries and print a report; exit 1 when a
//	                    package failed or a marker is missing
//
// It exists so that the script needs neither cpio nor kmod on the host,
// and reads go test's verbose output with go tool test2json.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	var err error
	switch {
	case len(os.Args) == 4 && os.Args[1] == "cpio":
		err = writeArchive(os.Args[2], os.Args[3])
	case len(os.Args) == 3 && os.Args[1] == "depends":
		err = printDepends(os.Args[2])
	case len(os.Args) == 4 && os.Args[1] == "report":
		var n int
		if n, err = strconv.Atoi(os.Args[3]); err == nil {
			err = report(os.Args[2], n, os.Stdout)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: pack cpio OUT DIR | pack depends FILE.ko | pack report LOG N")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pack:", err)
		os.Exit(1)
	}
}

// printDepends reads the "depends=" entry of the module's .modinfo
// section.
func printDepends(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return fmt.Errorf("%s: no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return err
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		deps, ok := strings.CutPrefix(string(kv), "depends=")
		if !ok {
			continue
		}
		for _, d := range strings.Split(deps, ",") {
			if d != "" {
				fmt.Println(d)
			}
		}
	}
	return nil
}

// Mode bits of cpio entries (those of stat(2)).
const (
	modeDir     = 0o040000
	modeFile    = 0o100000
	modeSymlink = 0o120000
	modeChar    = 0o020000
)

// archive writes newc entries with increasing inode numbers.
type archive struct {
	w   *bufio.Writer
	ino int
	n   int64 // bytes written, for the padding
}

func (a *archive) write(p []byte) {
	a.w.Write(p)
	a.n += int64(len(p))
}

func (a *archive) pad() {
	if r := a.n % 4; r != 0 {
		a.write(make([]byte, 4-r))
	}
}

// entry writes one header, its name and its data.
func (a *archive) entry(name string, mode, major, minor int, data []byte) {
	a.ino++
	nlink := 1
	if mode&0o170000 == modeDir {
		nlink = 2
	}
	fmt.Fprintf(a.w, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		a.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, major, minor, len(name)+1, 0)
	a.n += 110
	a.write(append([]byte(name), 0))
	a.pad()
	a.write(data)
	a.pad()
}

func writeArchive(out, dir string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	zw, err := gzip.NewWriterLevel(f, gzip.BestSpeed)
	if err != nil {
		return err
	}
	a := &archive{w: bufio.NewWriterSize(zw, 1<<20)}
	sawDev := false
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		perm := int(info.Mode().Perm())
		switch {
		case d.IsDir():
			a.entry(rel, modeDir|perm, 0, 0, nil)
			sawDev = sawDev || rel == "dev"
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			a.entry(rel, modeSymlink|0o777, 0, 0, []byte(target))
		case d.Type().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			a.entry(rel, modeFile|perm, 0, 0, data)
		default:
			return fmt.Errorf("%s: unsupported file type", path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !sawDev {
		a.entry("dev", modeDir|0o755, 0, 0, nil)
	}
	a.entry("dev/console", modeChar|0o600, 5, 1, nil)
	a.entry("dev/null", modeChar|0o666, 1, 3, nil)
	a.entry("TRAILER!!!", 0, 0, 0, nil)
	if err := a.w.Flush(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}
