// tlog-verify checks the PDAO audit log's public face with an implementation that is not PDAO's:
// the Go checksum database's golang.org/x/mod/sumdb/note (signed notes, Ed25519) and
// golang.org/x/mod/sumdb/tlog (RFC 6962 hashing, tiles, record proofs).
//
//	tlog-verify -url http://127.0.0.1:PORT [-key KEY] [-origin ORIGIN]
//	            (-entry-file FILE | -leaf-hash HEX | -snapshot-url URL | -snapshot-file FILE
//	             -proof-url URL) [-index N] [-checkpoint-file FILE]
//
// It fetches /log/key (unless -key pins the verifier key), verifies /log/checkpoint with it,
// parses the c2sp.org/tlog-checkpoint body, and proves that the entry (its bytes, hashed as an
// RFC 6962 leaf, or its leaf hash) is record N of the checkpoint's tree, reading only hash tiles
// from /log/tile/... (c2sp.org/tlog-tiles paths). Without -index it searches the level-0 tiles for
// the leaf hash (bounded by -max-search entries). Exit 0 only when everything verifies; 1 on a
// verification failure; 2 on usage errors.
//
// A published disclosure snapshot (rule 41): -snapshot-url http://.../snapshots/<n>.json (or
// -snapshot-file FILE with -proof-url) downloads the snapshot's bytes and its .proof.json, takes
// the audit entry's bytes and index from the proof, decodes the entry's protobuf wire format just
// enough to read the snapshot_published event's SHA-256 (AuditEntry.envelope = 4 →
// Envelope.snapshot_published = 600 → SnapshotPublished.sha256 = 2), checks it is the SHA-256 of
// the downloaded bytes, and then proves the entry's inclusion from the tiles as above. Nothing of
// the proof's own hashes or checkpoint is trusted: only the entry bytes and its index.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
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

const maxSnapshot = 64 << 20 // the bound `pdaoctl disclosure verify` uses too

var client = &http.Client{Timeout: 10 * time.Second}

func get(url string) ([]byte, error) { return getAtMost(url, maxBody) }

func getAtMost(url string, limit int64) ([]byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
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

// ---- Protobuf wire format, just enough to read one field (no generated code) ----

// fields returns the payloads of every field `num` of wire type 2 (length-delimited) in msg, and
// the varint values of every field `num` of wire type 0.
func fields(msg []byte, num uint64) (bytesVals [][]byte, varints []uint64, err error) {
	for len(msg) > 0 {
		key, n := uvarint(msg)
		if n <= 0 {
			return nil, nil, errors.New("malformed protobuf key")
		}
		msg = msg[n:]
		field, wire := key>>3, key&7
		switch wire {
		case 0:
			v, n := uvarint(msg)
			if n <= 0 {
				return nil, nil, errors.New("malformed varint")
			}
			msg = msg[n:]
			if field == num {
				varints = append(varints, v)
			}
		case 1:
			if len(msg) < 8 {
				return nil, nil, errors.New("truncated fixed64")
			}
			msg = msg[8:]
		case 2:
			l, n := uvarint(msg)
			if n <= 0 || uint64(len(msg)-n) < l {
				return nil, nil, errors.New("truncated length-delimited field")
			}
			if field == num {
				bytesVals = append(bytesVals, msg[n:n+int(l)])
			}
			msg = msg[n+int(l):]
		case 5:
			if len(msg) < 4 {
				return nil, nil, errors.New("truncated fixed32")
			}
			msg = msg[4:]
		default:
			return nil, nil, fmt.Errorf("unsupported wire type %d", wire)
		}
	}
	return bytesVals, varints, nil
}

func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// one returns the single length-delimited field `num` of msg.
func one(msg []byte, num uint64, what string) ([]byte, error) {
	vals, _, err := fields(msg, num)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	if len(vals) != 1 {
		return nil, fmt.Errorf("%s: %d occurrences of field %d, want 1", what, len(vals), num)
	}
	return vals[0], nil
}

// snapshotEvent reads, from an audit entry's bytes, the entry's index and its
// snapshot_published event's sequence and SHA-256.
func snapshotEvent(entry []byte) (index uint64, sequence uint64, sum []byte, err error) {
	_, idx, err := fields(entry, 1) // AuditEntry.index
	if err != nil {
		return 0, 0, nil, fmt.Errorf("entry: %v", err)
	}
	if len(idx) == 1 {
		index = idx[0]
	}
	envelope, err := one(entry, 4, "entry (AuditEntry.envelope)")
	if err != nil {
		return 0, 0, nil, err
	}
	published, err := one(envelope, 600, "envelope (snapshot_published)")
	if err != nil {
		return 0, 0, nil, err
	}
	sum, err = one(published, 2, "snapshot_published.sha256")
	if err != nil {
		return 0, 0, nil, err
	}
	_, seq, err := fields(published, 1)
	if err != nil || len(seq) != 1 {
		return 0, 0, nil, errors.New("snapshot_published.sequence missing")
	}
	return index, seq[0], sum, nil
}

// snapshotProof is the part of /snapshots/<n>.proof.json this verifier uses (proto JSON: 64-bit
// integers as strings, bytes as base64).
type snapshotProof struct {
	Sequence   int64  `json:"sequence,string"`
	LeafIndex  int64  `json:"leaf_index,string"`
	EntryBytes []byte `json:"entry_bytes"`
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
	snapshotURL := flag.String("snapshot-url", "", "a published snapshot, http://.../snapshots/<n>.json")
	snapshotFile := flag.String("snapshot-file", "", "a published snapshot's bytes (with -proof-url)")
	proofURL := flag.String("proof-url", "", "the snapshot's .proof.json (default: next to -snapshot-url)")
	flag.Parse()
	sources := 0
	for _, s := range []string{*entryFile, *leafHex, *snapshotURL, *snapshotFile} {
		if s != "" {
			sources++
		}
	}
	if *base == "" || sources != 1 || (*snapshotFile != "" && *proofURL == "") {
		fail(2, "usage: -url URL (-entry-file FILE | -leaf-hash HEX | -snapshot-url URL | "+
			"-snapshot-file FILE -proof-url URL) [-index N] [-key KEY]")
	}
	*base = strings.TrimSuffix(*base, "/")

	var leaf tlog.Hash
	if *snapshotURL != "" || *snapshotFile != "" {
		var snapshot []byte
		var err error
		if *snapshotURL != "" {
			snapshot, err = getAtMost(*snapshotURL, maxSnapshot)
			if *proofURL == "" {
				*proofURL = strings.TrimSuffix(*snapshotURL, ".json") + ".proof.json"
			}
		} else {
			snapshot, err = os.ReadFile(*snapshotFile)
		}
		if err != nil {
			fail(1, "snapshot: %v", err)
		}
		raw, err := get(*proofURL)
		if err != nil {
			fail(1, "proof: %v", err)
		}
		var p snapshotProof
		if err := json.Unmarshal(raw, &p); err != nil {
			fail(1, "proof: %v", err)
		}
		entryIndex, sequence, sum, err := snapshotEvent(p.EntryBytes)
		if err != nil {
			fail(1, "%v", err)
		}
		if int64(entryIndex) != p.LeafIndex || int64(sequence) != p.Sequence {
			fail(1, "the entry is index %d, snapshot %d; the proof says index %d, snapshot %d",
				entryIndex, sequence, p.LeafIndex, p.Sequence)
		}
		got := sha256.Sum256(snapshot)
		if !bytes.Equal(got[:], sum) {
			fail(1, "snapshot hash: SHA-256 of the snapshot is %x, audit entry %d says %x",
				got[:], entryIndex, sum)
		}
		fmt.Printf("snapshot %d: SHA-256 %x is the one in audit entry %d\n", sequence, got[:],
			entryIndex)
		leaf = tlog.RecordHash(p.EntryBytes)
		if *index < 0 {
			*index = p.LeafIndex
		}
	} else if *entryFile != "" {
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
