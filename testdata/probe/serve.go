package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// serve runs the probe as a long-lived subject: it reads lines of tokens
// from standard input and answers each token with one line, as main does
// (loop: and lat: tokens too; helper-49 found them taken for calls), until
// the input ends. A first line "ready" tells the reader it runs.
func serve(buf uintptr) {
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready", os.Getpid())
	out.Flush()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		for _, tok := range strings.Fields(in.Text()) {
			if strings.HasPrefix(tok, "loop:") || strings.HasPrefix(tok, "lat:") {
				line, err := loop(tok, buf)
				if err != nil {
					fmt.Fprintf(out, "%s error %v\n", tok, err)
				} else {
					fmt.Fprintln(out, line)
				}
				continue
			}
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
// "lat:COUNT:TOKEN" times each call on its own (one monotonic clock read
// after each, the time since the read before) and prints the median and
// the mean, then (after the result) the 90th and 99th percentiles.
func loop(tok string, buf uintptr) (string, error) {
	kind, rest, _ := strings.Cut(tok, ":")
	count, call1, ok := strings.Cut(rest, ":")
	n, err := strconv.Atoi(count)
	if !ok || err != nil || n <= 0 {
		return "", fmt.Errorf("%s: want %s:COUNT:TOKEN", tok, kind)
	}
	if _, err := call(call1, buf); err != nil {
		return "", err
	}
	var r int64
	if kind == "lat" {
		lat := make([]int64, n)
		start := time.Now()
		prev := time.Duration(0)
		for i := range lat {
			r, _ = call(call1, buf)
			now := time.Since(start) // the monotonic clock alone
			lat[i] = int64(now - prev)
			prev = now
		}
		mean := float64(prev.Nanoseconds()) / float64(n)
		slices.Sort(lat)
		return fmt.Sprintf("%s %d %.1f %d %d %d", tok, lat[n/2], mean, r, lat[n*9/10],
			lat[n*99/100]), nil
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		r, _ = call(call1, buf)
	}
	ns := float64(time.Since(start).Nanoseconds()) / float64(n)
	return fmt.Sprintf("%s %.1f %d", tok, ns, r), nil
}
