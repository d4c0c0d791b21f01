package keeper

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tableSlots is the size of a daemon's mark table: one 8-byte slot a kept
// listener. The memfd is sparse, so untouched slots cost nothing.
const tableSlots = 1 << 20

// noSlot marks a listener kept without a slot (the table was full).
const noSlot = ^uint32(0)

// needSeals are the seals the keeper wants on a mark table: a daemon that
// shrank it would make the keeper's reads fault.
const needSeals = unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL

// Mark is where a daemon notes the ID of each notification it takes from
// one kept listener, before it answers it. If the daemon dies between
// taking and answering, the kernel leaves that notification waiting (the
// keeper's copy keeps the listener open), and the keeper finds it near the
// mark and answers it with ENOSYS. One atomic store; the zero Mark does
// nothing.
type Mark struct{ p *atomic.Uint64 }

// Received notes id, the ID of a notification just received.
func (m Mark) Received(id uint64) {
	if m.p != nil {
		m.p.Store(id)
	}
}

// table is a mapped mark table.
type table struct {
	mem []byte
}

// newTable makes the sealed memfd of a daemon's mark table and maps it.
func newTable() (*table, int, error) {
	fd, err := unix.MemfdCreate("cgsyscall-keeper-marks", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, -1, err
	}
	if err := unix.Ftruncate(fd, tableSlots*8); err != nil {
		unix.Close(fd)
		return nil, -1, err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS,
		unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		unix.Close(fd)
		return nil, -1, err
	}
	mem, err := unix.Mmap(fd, 0, tableSlots*8, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		return nil, -1, err
	}
	return &table{mem: mem}, fd, nil
}

// mapTable maps a daemon's table of slots read-only, for the keeper.
func mapTable(fd int, slots uint32) (*table, error) {
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil || seals&needSeals != needSeals || slots == 0 || slots > tableSlots {
		return nil, unix.EINVAL
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Size < int64(slots)*8 {
		return nil, unix.EINVAL
	}
	mem, err := unix.Mmap(fd, 0, int(slots)*8, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	return &table{mem: mem}, nil
}

func (t *table) slot(i uint32) *atomic.Uint64 {
	if t == nil || uint64(i)*8+8 > uint64(len(t.mem)) {
		return nil
	}
	return (*atomic.Uint64)(unsafe.Pointer(&t.mem[uint64(i)*8]))
}

// mark returns the Mark of slot i.
func (t *table) mark(i uint32) Mark { return Mark{t.slot(i)} }

// load reads slot i; 0 when there is no such slot.
func (t *table) load(i uint32) uint64 {
	if p := t.slot(i); p != nil {
		return p.Load()
	}
	return 0
}

func (t *table) unmap() {
	if t != nil {
		unix.Munmap(t.mem)
	}
}
