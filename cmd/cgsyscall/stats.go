package main

import (
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cgsyscall/cgsyscall/denials"
	"github.com/cgsyscall/cgsyscall/persist"
)

// statFlushEvery is how often changed denial counts are saved: a kill -9
// loses at most this much of them.
const statFlushEvery = time.Second

// restoreStats puts the counts that the last daemon saved back into book. A
// group whose saved counts cannot be read starts again from zero, and the
// log says so.
func restoreStats(book *denials.Book, saved map[string][]byte, log *logrus.Logger) {
	for group, val := range saved {
		err := book.Restore(group, val)
		if val == nil || err != nil {
			f := log.WithFields(logrus.Fields{"group": "/" + group, "attr": persist.StatAttr})
			if err != nil {
				f = f.WithError(err)
			}
			f.Warn("saved denial counts unreadable; the group's syscalls.stat starts again")
		}
	}
}

// flushStats saves changed counts every statFlushEvery until the returned
// function is called, which saves them a last time.
func flushStats(book *denials.Book, store *persist.Store, log *logrus.Logger) func() {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failing bool
	flush := func() {
		err := book.Flush(store.SaveStat)
		switch {
		case err != nil && !failing:
			log.WithError(err).Warn("denial counts not saved; trying again")
		case err == nil && failing:
			log.Info("denial counts saved again")
		}
		failing = err != nil
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(statFlushEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				flush()
			}
		}
	}()
	return func() {
		close(stop)
		wg.Wait()
		flush()
	}
}
