package supervise

// HotStays is how many workers are in a hot stay now.
func HotStays(s *Supervisor) int32 { return s.hot.Load() }

// HotWindow is how close to the last notification a call must come for a
// stay to begin.
const HotWindow = hotWindow
