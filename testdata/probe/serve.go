package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// serve runs the probe as a long-lived subject: it reads lines of tokens
// from standard input and answers each token with one line, as main does,
// until the input ends. A first line "ready" tells the reader it runs.
func serve(buf uintptr) {
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready", os.Getpid())
	out.Flush()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		for _, tok := range strings.Fields(in.Text()) {
			r, err := call(tok, buf)
			if err != nil {
				fmt.Fprintf(out, "%s error %v\n", tok, err)
				continue
			}
			fmt.Fprintf(out, "%s %d\n", tok, r)
		}
		out.Flush()
	}
}

// loop handles "loop:COUNT:TOKEN": it makes the call COUNT times and
// prints the mean time of one call in nanoseconds, with the last result.
func loop(tok string, buf uintptr) (string, error) {
	count, call1, ok := strings.Cut(strings.TrimPrefix(tok, "loop:"), ":")
	n, err := strconv.Atoi(count)
	if !ok || err != nil || n <= 0 {
		return "", fmt.Errorf("%s: want loop:COUNT:TOKEN", tok)
	}
	if _, err := call(call1, buf); err != nil {
		return "", err
	}
	var r int64
	start := time.Now()
	for i := 0; i < n; i++ {
		r, _ = call(call1, buf)
	}
	ns := float64(time.Since(start).Nanoseconds()) / float64(n)
	return fmt.Sprintf("%s %.1f %d", tok, ns, r), nil
}
