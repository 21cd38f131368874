package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"swimlib/interop/internal/wire"
)

// recConfig describes the sending node's settings, stored with each record
// so a test knows how to undo the outer layers.
type recConfig struct {
	Compression     bool   `json:"compression"`
	Label           string `json:"label"`
	KeyHex          string `json:"key_hex"`
	ProtocolVersion int    `json:"protocol_version"`
	key             []byte
}

// record is one UDP packet, or everything one side wrote on a TCP connection.
type record struct {
	Scenario  string
	Transport string
	From, To  string
	Bytes     []byte
	Config    recConfig
	Dropped   bool
	Role      string // tcp only: "dialer" or "listener"
	index     int
}

type recorder struct {
	mu      sync.Mutex
	records []record
}

func (r *recorder) add(rec record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec.index = len(r.records)
	r.records = append(r.records, rec)
}

func (r *recorder) snapshot() []record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]record(nil), r.records...)
}

// jsonRecord is the on-disk form (tests/data/golden/captured.json).
type jsonRecord struct {
	Scenario  string           `json:"scenario"`
	Transport string           `json:"transport"`
	Direction string           `json:"direction"`
	Role      string           `json:"role,omitempty"`
	Hex       string           `json:"hex"`
	Config    recConfig        `json:"config"`
	Note      string           `json:"note"`
	Shape     string           `json:"shape"`
	Dropped   bool             `json:"dropped"`
	Messages  []map[string]any `json:"messages"`
	Error     string           `json:"decode_error,omitempty"`
}

func decodeRecord(r *record) *wire.Decoded {
	var keys [][]byte
	if r.Config.key != nil {
		keys = [][]byte{r.Config.key}
	}
	if r.Transport == "udp" {
		return wire.DecodePacket(r.Bytes, keys, r.Config.Label)
	}
	return wire.DecodeStream(r.Bytes, keys, r.Config.Label)
}

// typeCounts counts leaf message types and outer layers.
type typeCounts map[string]int

func (c typeCounts) addDecoded(d *wire.Decoded) {
	for _, m := range d.Messages {
		c[m.Name()]++
	}
	for _, l := range d.Layers {
		c["layer:"+l]++
	}
}

func (c typeCounts) String() string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, c[k]))
	}
	return strings.Join(parts, " ")
}

type scenarioStats struct {
	captured, kept int
	all, keptTypes typeCounts
	shapes         map[string]int
}

// selectAndWrite keeps at most `samples` records per (scenario, transport,
// shape), drops exact duplicates, and writes the JSON list, one record per
// line so diffs stay readable.
func selectAndWrite(path string, recs []record, samples int, notes map[string]string) (map[string]*scenarioStats, int, error) {
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].index < recs[j].index })
	stats := map[string]*scenarioStats{}
	perShape := map[string]int{}
	seenHex := map[string]bool{}

	var buf bytes.Buffer
	buf.WriteString("[\n")
	first := true
	for i := range recs {
		r := &recs[i]
		st := stats[r.Scenario]
		if st == nil {
			st = &scenarioStats{all: typeCounts{}, keptTypes: typeCounts{}, shapes: map[string]int{}}
			stats[r.Scenario] = st
		}
		d := decodeRecord(r)
		st.captured++
		st.all.addDecoded(d)
		h := hex.EncodeToString(r.Bytes)
		// Streams are also grouped by role so that requests and replies
		// are both sampled.
		key := r.Scenario + "|" + r.Transport + "|" + r.Role + "|" + d.Shape()
		// Plaintext captures repeat byte for byte across scenarios (same
		// names, addresses, incarnations); drop duplicates only within a
		// scenario so each one stays self-contained.
		hexKey := r.Scenario + "|" + h
		if seenHex[hexKey] || perShape[key] >= samples {
			continue
		}
		seenHex[hexKey] = true
		perShape[key]++
		st.kept++
		st.keptTypes.addDecoded(d)
		st.shapes[strings.TrimSpace(r.Transport+" "+r.Role)+" "+d.Shape()]++

		jr := jsonRecord{
			Scenario:  r.Scenario,
			Transport: r.Transport,
			Direction: r.From + "->" + r.To,
			Role:      r.Role,
			Hex:       h,
			Config:    r.Config,
			Note:      recordNote(r, notes[r.Scenario]),
			Shape:     d.Shape(),
			Dropped:   r.Dropped,
			Error:     d.Err,
		}
		for _, m := range d.Messages {
			jr.Messages = append(jr.Messages, m.Summary())
		}
		var line bytes.Buffer
		enc := json.NewEncoder(&line)
		enc.SetEscapeHTML(false) // keep "a->b" readable
		if err := enc.Encode(jr); err != nil {
			return nil, 0, err
		}
		if !first {
			buf.WriteString(",\n")
		}
		first = false
		buf.Write(bytes.TrimRight(line.Bytes(), "\n"))
	}
	buf.WriteString("\n]\n")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return nil, 0, err
	}
	return stats, buf.Len(), nil
}

func recordNote(r *record, scenarioNote string) string {
	var parts []string
	switch r.Role {
	case "dialer":
		parts = append(parts, "stream written by the dialer")
	case "listener":
		parts = append(parts, "stream written by the listener (reply)")
	}
	if r.Dropped {
		parts = append(parts, "dropped by the scenario's fault injection (never delivered)")
	}
	parts = append(parts, scenarioNote)
	return strings.Join(parts, "; ")
}
