package inject

// FreeHelpers returns how many layers a free helper has loaded in this
// process so far (see freeLoad).
func FreeHelpers() uint64 { return freeHelpers.Load() }
