// tlog-verify checks the PDAO audit log's public face with an implementation that is not PDAO's:
// the Go checksum database's golang.org/x/mod/sumdb/note (signed notes, Ed25519) and
// golang.org/x/mod/sumdb/tlog (RFC 6962 hashing, tiles, record proofs).
//
//	tlog-verify -url http://127.0.0.1:PORT [-key KEY] [-origin ORIGIN]
//	            (-entry-file FILE | -leaf-hash HEX) [-index N] [-checkpoint-file FILE]
//
// It fetches /log/key (unless -key pins the verifier key), verifies /log/checkpoint with it,
// parses the c2sp.org/tlog-checkpoint body, and proves that the entry (its bytes, hashed as an
// RFC 6962 leaf, or its leaf hash) is record N of the checkpoint's tree, reading only hash tiles
// from /log/tile/... (c2sp.org/tlog-tiles paths). Without -index it searches the level-0 tiles for
// the leaf hash (bounded by -max-search entries). Exit 0 only when everything verifies; 1 on a
// verification failure; 2 on usage errors.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const maxBody = 1 << 20 // a full tile is 8 KiB, a checkpoint well under 16 KiB

var client = &http.Client{Timeout: 10 * time.Second}

func get(url string) ([]byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// tilePath is the c2sp.org/tlog-tiles path (tlog.Tile.Path is the older sumdb layout, with the
// tile height in it).
func tilePath(t tlog.Tile) string {
	n := t.N
	elems := []string{fmt.Sprintf("%03d", n%1000)}
	for n /= 1000; n > 0; n /= 1000 {
		elems = append([]string{fmt.Sprintf("x%03d", n%1000)}, elems...)
	}
	p := fmt.Sprintf("tile/%d/%s", t.L, strings.Join(elems, "/"))
	if t.W != 1<<t.H {
		p += fmt.Sprintf(".p/%d", t.W)
	}
	return p
}

type tileReader struct{ base string }

func (r tileReader) Height() int { return 8 }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := get(r.base + "/log/" + tilePath(t))
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// checkpoint is a parsed c2sp.org/tlog-checkpoint body.
type checkpoint struct {
	origin string
	tree   tlog.Tree
}

func parseCheckpoint(text string) (checkpoint, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return checkpoint{}, errors.New("checkpoint body has fewer than 3 lines")
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return checkpoint{}, fmt.Errorf("bad tree size line %q", lines[1])
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		return checkpoint{}, fmt.Errorf("bad root hash line %q", lines[2])
	}
	var h tlog.Hash
	copy(h[:], raw)
	return checkpoint{origin: lines[0], tree: tlog.Tree{N: n, Hash: h}}, nil
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "tlog-verify: "+format+"\n", args...)
	os.Exit(code)
}

func main() {
	base := flag.String("url", "", "portal base URL, e.g. http://127.0.0.1:8080")
	keyFlag := flag.String("key", "", "pinned note verifier key (default: fetch /log/key)")
	origin := flag.String("origin", "", "expected log origin (default: the key's name)")
	entryFile := flag.String("entry-file", "", "file holding the entry's bytes")
	leafHex := flag.String("leaf-hash", "", "the entry's RFC 6962 leaf hash, hex")
	index := flag.Int64("index", -1, "the entry's index (default: search the level-0 tiles)")
	maxSearch := flag.Int64("max-search", 1<<20, "entries searched for the leaf without -index")
	cpFile := flag.String("checkpoint-file", "", "verify this saved checkpoint instead of /log/checkpoint")
	flag.Parse()
	if *base == "" || (*entryFile == "") == (*leafHex == "") {
		fail(2, "usage: -url URL (-entry-file FILE | -leaf-hash HEX) [-index N] [-key KEY]")
	}
	*base = strings.TrimSuffix(*base, "/")

	var leaf tlog.Hash
	if *entryFile != "" {
		data, err := os.ReadFile(*entryFile)
		if err != nil {
			fail(2, "%v", err)
		}
		leaf = tlog.RecordHash(data)
	} else {
		raw, err := hex.DecodeString(*leafHex)
		if err != nil || len(raw) != tlog.HashSize {
			fail(2, "-leaf-hash must be 64 hex digits")
		}
		copy(leaf[:], raw)
	}

	vkey := *keyFlag
	if vkey == "" {
		k, err := get(*base + "/log/key")
		if err != nil {
			fail(1, "%v", err)
		}
		vkey = strings.TrimSpace(string(k))
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail(1, "verifier key %q: %v", vkey, err)
	}
	want := *origin
	if want == "" {
		want = verifier.Name()
	}

	var msg []byte
	if *cpFile != "" {
		msg, err = os.ReadFile(*cpFile)
	} else {
		msg, err = get(*base + "/log/checkpoint")
	}
	if err != nil {
		fail(1, "%v", err)
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fail(1, "checkpoint signature: %v", err)
	}
	cp, err := parseCheckpoint(n.Text)
	if err != nil {
		fail(1, "%v", err)
	}
	if cp.origin != want {
		fail(1, "checkpoint origin %q, want %q", cp.origin, want)
	}
	fmt.Printf("checkpoint: origin %s, %d entries, root %s, signed by %s\n", cp.origin, cp.tree.N,
		base64.StdEncoding.EncodeToString(cp.tree.Hash[:]), n.Sigs[0].Name)

	reader := tlog.TileHashReader(cp.tree, tileReader{*base})
	// The tree's own hash, recomputed from the tiles, must be the signed root.
	th, err := tlog.TreeHash(cp.tree.N, reader)
	if err != nil {
		fail(1, "tree hash from tiles: %v", err)
	}
	if th != cp.tree.Hash {
		fail(1, "the tiles do not reproduce the signed root")
	}

	at := *index
	if at < 0 {
		limit := cp.tree.N
		if limit > *maxSearch {
			limit = *maxSearch
		}
		for i := int64(0); i < limit && at < 0; i++ {
			hs, err := reader.ReadHashes([]int64{tlog.StoredHashIndex(0, i)})
			if err != nil {
				fail(1, "reading leaf %d: %v", i, err)
			}
			if hs[0] == leaf {
				at = i
			}
		}
		if at < 0 {
			fail(1, "the leaf is not among the first %d entries", limit)
		}
	}
	if at >= cp.tree.N {
		fail(1, "index %d is beyond the checkpoint's %d entries", at, cp.tree.N)
	}
	proof, err := tlog.ProveRecord(cp.tree.N, at, reader)
	if err != nil {
		fail(1, "proof of record %d: %v", at, err)
	}
	if err := tlog.CheckRecord(proof, cp.tree.N, cp.tree.Hash, at, leaf); err != nil {
		fail(1, "record %d is not included: %v", at, err)
	}
	// The leaf the tiles hold at that index must be ours too (CheckRecord proved it; say so).
	hs, err := reader.ReadHashes([]int64{tlog.StoredHashIndex(0, at)})
	if err != nil || !bytes.Equal(hs[0][:], leaf[:]) {
		fail(1, "the tiles hold another leaf at index %d", at)
	}
	fmt.Printf("OK: entry %d (leaf %x) is included in the signed checkpoint of %d entries\n", at,
		leaf[:], cp.tree.N)
}
