package hold

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A layer's program ends with three instructions that no run reaches
// (every path returns before them): a random word, so that no two layers
// load the same bytes, then a tag of 64 bits over the program and that
// word, keyed with a secret of the daemon's (layerKey). The daemon knows
// its layers by those bytes: a process met first carries a layer only
// when its chain holds that layer's very program while the layer's
// listener is open (layerIn), and a restarted daemon finds a layer it takes
// back from the keeper in the holder's chain by its tag (readLayer). A
// process can load a filter of its own, with bytes it chooses, above its
// layer: before the tag, the restarted daemon took such a filter for the
// layer, and a process that loaded the same bytes with a listener of its
// own was then adopted as carrying it, and answered its own denied calls
// (adversary helper-20, 5 of 5). Without the key nobody can make a tag;
// the key is in the placement log (root's, mode 0600 in a 0700
// directory), so that a restarted daemon checks the tags of the layers it
// takes back.

// markLen is how many instructions mark appends.
const markLen = 3

// layerKey is the secret that layer tags are made with.
type layerKey [32]byte

// newLayerKey returns a random key.
func newLayerKey() (layerKey, error) {
	var k layerKey
	_, err := rand.Read(k[:])
	return k, err
}

// parseLayerKey reads a key written by String.
func parseLayerKey(s string) (layerKey, error) {
	var k layerKey
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(k) {
		return k, errors.New("bad layer key")
	}
	copy(k[:], b)
	return k, nil
}

func (k *layerKey) String() string { return hex.EncodeToString(k[:]) }

// tag is the 64-bit tag of prog under k.
func (k *layerKey) tag(prog []unix.SockFilter) []byte {
	mac := hmac.New(sha256.New, k[:])
	if len(prog) > 0 {
		mac.Write(unsafe.Slice((*byte)(unsafe.Pointer(&prog[0])), len(prog)*8))
	}
	return mac.Sum(nil)[:8]
}

// ret is a return of w.
func ret(w uint32) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: w}
}

// mark returns a copy of prog, which must end with a return, followed by
// a random word and the tag of both, each as a return that no run reaches.
func (k *layerKey) mark(prog []unix.SockFilter) []unix.SockFilter {
	if len(prog) == 0 {
		return nil
	}
	var b [4]byte
	rand.Read(b[:])
	out := append(slices.Clip(prog), ret(binary.LittleEndian.Uint32(b[:])))
	t := k.tag(out)
	return append(out, ret(binary.LittleEndian.Uint32(t[:4])),
		ret(binary.LittleEndian.Uint32(t[4:])))
}

// authentic reports whether prog was made by mark with key k.
func (k *layerKey) authentic(prog []unix.SockFilter) bool {
	n := len(prog)
	if n < markLen+1 {
		return false
	}
	for _, f := range prog[n-markLen:] {
		if f.Code != unix.BPF_RET|unix.BPF_K {
			return false
		}
	}
	got := binary.LittleEndian.AppendUint32(nil, prog[n-2].K)
	got = binary.LittleEndian.AppendUint32(got, prog[n-1].K)
	return hmac.Equal(got, k.tag(prog[:n-2]))
}

// progTag returns the tag that program prog ends with, in hex, or "" when
// it ends with none (too short). Authentic or not: the caller checks.
func progTag(prog []unix.SockFilter) string {
	n := len(prog)
	if n < markLen+1 {
		return ""
	}
	b := binary.LittleEndian.AppendUint32(nil, prog[n-2].K)
	return hex.EncodeToString(binary.LittleEndian.AppendUint32(b, prog[n-1].K))
}

// anyDaemons reports whether prog is a layer of this daemon (key) or of
// another cgsyscall daemon of the machine (another mirror: a process can
// be restricted in a cgroup v1 hierarchy and in cgroup2 at once), by the
// keys of the placement logs. The check of a process's own filters before
// a hold leaves those out: their listeners are daemons', which answer at
// once (inject.AddOwnFilter).
func anyDaemons(key layerKey, prog []unix.SockFilter) bool {
	n := len(prog)
	if n < markLen+1 || prog[n-1].Code != unix.BPF_RET|unix.BPF_K {
		return false
	}
	if key.authentic(prog) {
		return true
	}
	for _, k := range otherKeys() {
		if k.authentic(prog) {
			return true
		}
	}
	return false
}

// others caches the keys found in the placement logs, read again at most
// once a second.
var others struct {
	sync.Mutex
	at   time.Time
	keys []layerKey
}

// otherKeys returns the keys of every placement log in placementDir.
func otherKeys() []layerKey {
	others.Lock()
	defer others.Unlock()
	if time.Since(others.at) < time.Second {
		return others.keys
	}
	others.at, others.keys = time.Now(), nil
	paths, _ := filepath.Glob(filepath.Join(placementDir, "placements-*"))
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		if sc.Scan() {
			if h, ok := strings.CutPrefix(sc.Text(), "key "); ok {
				if k, err := parseLayerKey(h); err == nil {
					others.keys = append(others.keys, k)
				}
			}
		}
		f.Close()
	}
	return others.keys
}
