package inject

// Debugf, when set (before the first hold), receives one line of detail
// for each hold and session: the process, the tracing thread, and what was
// left attached at the end. It runs on the tracing thread.
var Debugf func(format string, args ...any)

func debugf(format string, args ...any) {
	if Debugf != nil {
		Debugf(format, args...)
	}
}
