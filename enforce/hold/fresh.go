package hold

// holdFresh is Move's way for process pid, not known yet, to a group that
// denies something: it holds the process as one with no filter
// (inject.HoldFresh, which checks that while the process is stopped),
// which spares a read of /proc/PID/status. handled is false when the
// process turns out to have a filter, or is gone: holdNew takes it then,
// nothing done here. A process with a filter pays for that with a second
// seize and stop (about 0.1 ms).
func (h *Holder) holdFresh(pid int, group string) (handled bool, err error) {
	start, serr := startTime(pid)
	if serr != nil {
		return false, nil
	}
	m := &member{pid: pid, start: start, group: group, need: h.withUring(h.deniedSet(group))}
	h.quick(m, true)
	if opIs(m.err, "filtered") {
		return false, nil
	}
	return true, h.recordNew(&job{members: []*member{m}})
}
