package supervise

// HotStays is how many workers are in a hot stay now.
func HotStays(s *Supervisor) int32 { return s.hot.Load() }
