// tlog_check DIR VKEY: checks a C2SP tlog-tiles directory (what `tellonce
// audit export` writes, or a node's audit directory) with Go's own
// golang.org/x/mod/sumdb packages, which share no code with tellonce or
// with tests/e2e/audit_verifier.py:
//
//   - the checkpoint's signature, with note.Open and the verifier key;
//   - the tree's root, with tlog.TreeHash over the hash tiles, which
//     tlog.TileHashReader checks against the checkpoint as it reads them;
//   - every entry of the bundles, hashed with tlog.RecordHash and proven in
//     the checkpoint with tlog.ProveRecord and tlog.CheckRecord.
//
// Prints "ok SIZE ROOT" and exits 0, or prints why and exits 1.
//
// Built by `make build-tests` from Debian's golang-golang-x-mod-dev, with
// GOPATH=/usr/share/gocode and no module download.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const tileHeight = 8 // C2SP tlog-tiles: 256 hashes or entries a tile

// tilePath is a tile's path in C2SP tlog-tiles, where (unlike sumdb's own
// layout) the height is not in the path: tile/<L>/<N>[.p/<W>], with N in
// groups of three digits, all but the last prefixed with x.
func tilePath(level string, n int64, w int) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n /= 1000; n > 0; n /= 1000 {
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	p := "tile/" + level + "/" + s
	if w < 1<<tileHeight {
		p += ".p/" + strconv.Itoa(w)
	}
	return p
}

// readTile reads a tile of width w; a log may have dropped a partial tile
// once its full one was written, whose first w items are then the same:
// full says the data is that full tile's.
func readTile(dir, level string, n int64, w int) (data []byte, full bool, err error) {
	data, err = os.ReadFile(filepath.Join(dir, tilePath(level, n, w)))
	if err == nil || w == 1<<tileHeight {
		return data, false, err
	}
	if whole, ferr := os.ReadFile(filepath.Join(dir, tilePath(level, n, 1<<tileHeight))); ferr == nil {
		return whole, true, nil
	}
	return nil, false, err
}

// dirTiles is a tlog.TileReader over the directory's hash tiles.
type dirTiles struct {
	dir  string
	seen map[tlog.Tile][]byte
}

func (d *dirTiles) Height() int { return tileHeight }

func (d *dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if data, ok := d.seen[t]; ok {
			out[i] = data
			continue
		}
		data, full, err := readTile(d.dir, strconv.Itoa(t.L), t.N, t.W)
		if err != nil {
			return nil, err
		}
		if full && len(data) >= t.W*tlog.HashSize {
			data = data[:t.W*tlog.HashSize]
		}
		out[i] = data
	}
	return out, nil
}

func (d *dirTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	for i, t := range tiles {
		d.seen[t] = data[i]
	}
}

// checkpoint opens the signed note and returns its size and root.
func checkpoint(dir, vkey string) (int64, tlog.Hash, error) {
	var root tlog.Hash
	msg, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		return 0, root, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return 0, root, fmt.Errorf("verifier key: %v", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return 0, root, fmt.Errorf("checkpoint: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != v.Name() {
		return 0, root, errors.New("checkpoint: its origin is not the key's name")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return 0, root, fmt.Errorf("checkpoint size: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		return 0, root, errors.New("checkpoint: bad root hash")
	}
	copy(root[:], raw)
	return size, root, nil
}

// entries reads the bundles' entries: each a big-endian uint16 length
// and its bytes, 256 a bundle.
func entries(dir string, size int64) ([][]byte, error) {
	var out [][]byte
	for n := int64(0); n*256 < size; n++ {
		w := 256
		if size-n*256 < 256 {
			w = int(size - n*256)
		}
		data, full, err := readTile(dir, "entries", n, w)
		if err != nil {
			return nil, err
		}
		r := bytes.NewReader(data)
		for i := 0; i < w; i++ {
			var l uint16
			if binary.Read(r, binary.BigEndian, &l) != nil {
				return nil, fmt.Errorf("entry %d: missing", n*256+int64(i))
			}
			e := make([]byte, l)
			if _, err := io.ReadFull(r, e); err != nil {
				return nil, fmt.Errorf("entry %d: cut short", n*256+int64(i))
			}
			out = append(out, e)
		}
		if r.Len() > 0 && !full {
			return nil, fmt.Errorf("%s: bytes after its %d entries", tilePath("entries", n, w), w)
		}
	}
	return out, nil
}

func check(dir, vkey string) (int64, tlog.Hash, error) {
	size, root, err := checkpoint(dir, vkey)
	if err != nil {
		return 0, root, err
	}
	tree := tlog.Tree{N: size, Hash: root}
	hr := tlog.TileHashReader(tree, &dirTiles{dir: dir, seen: map[tlog.Tile][]byte{}})
	got, err := tlog.TreeHash(size, hr)
	if err != nil {
		return 0, root, fmt.Errorf("tree hash: %v", err)
	}
	if got != root {
		return 0, root, errors.New("the hash tiles do not give the checkpoint's root")
	}
	all, err := entries(dir, size)
	if err != nil {
		return 0, root, err
	}
	for i, e := range all {
		p, err := tlog.ProveRecord(size, int64(i), hr)
		if err != nil {
			return 0, root, fmt.Errorf("entry %d: %v", i, err)
		}
		if err := tlog.CheckRecord(p, size, root, int64(i), tlog.RecordHash(e)); err != nil {
			return 0, root, fmt.Errorf("entry %d: %v", i, err)
		}
	}
	return size, root, nil
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: tlog_check DIR VKEY")
		os.Exit(2)
	}
	size, root, err := check(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Println("tlog_check:", err)
		os.Exit(1)
	}
	fmt.Printf("ok %d %s\n", size, base64.StdEncoding.EncodeToString(root[:]))
}
