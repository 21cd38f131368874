// Command lzwvectors writes LZW test vectors made by the Go standard
// library's compress/lzw with memberlist's parameters (LSB bit order, 8-bit
// literals), for swimlib's own LZW codec to match byte for byte.
//
// Usage (from /work/main/interop):
//
//	go run ./lzwvectors [-out ../tests/data/golden/lzw_vectors.json]
//
// Only the standard library is used. Pseudo-random inputs come from
// xorshift32 (x ^= x<<13; x ^= x>>17; x ^= x<<5, on uint32) seeded with a
// fixed value, so they can be regenerated in any language:
//
//   - "low_entropy_70k": 70,000 bytes, byte i = (next() >> 24) & 3,
//     seed 0x2545F491. Only four distinct byte values, so the code table
//     fills up and the encoder emits CLEAR codes mid-stream.
//   - "random_20k": 20,000 bytes, byte i = next() >> 24, seed 0x9E3779B9.
//
// Each record also carries clear_codes: the number of CLEAR codes (the
// leading one included; Go starts every stream with CLEAR) found in the
// output by walking the code stream with the width rules from the spec
// (§2.4). The walk must end exactly on the EOF code; the program refuses to
// write the file otherwise, so the count doubles as a check of those rules.
package main

import (
	"bytes"
	"compress/lzw"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
)

type vector struct {
	Name       string `json:"name"`
	InputHex   string `json:"input_hex"`
	OutputHex  string `json:"output_hex"`
	InputLen   int    `json:"input_len"`
	OutputLen  int    `json:"output_len"`
	ClearCodes int    `json:"clear_codes"`
}

func xorshift32(seed uint32) func() uint32 {
	x := seed
	return func() uint32 {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		return x
	}
}

func compress(in []byte) ([]byte, error) {
	var buf bytes.Buffer
	w := lzw.NewWriter(&buf, lzw.LSB, 8)
	if _, err := w.Write(in); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// countClears walks the LSB-packed code stream. Mirroring the encoder: the
// width starts at 9 and the next-code counter hi at 257; every data code
// bumps hi, the width grows when hi reaches 1<<width, and a CLEAR resets
// both. It returns the number of CLEAR codes, or an error if the stream does
// not end with EOF followed only by zero padding.
func countClears(b []byte) (int, error) {
	const clear, eof = 256, 257
	var (
		bitPos uint
		width  uint = 9
		hi          = 257
		clears      = 0
	)
	total := uint(len(b)) * 8
	for {
		if bitPos+width > total {
			return clears, fmt.Errorf("ran out of input before EOF")
		}
		code := 0
		for i := uint(0); i < width; i++ {
			p := bitPos + i
			if b[p/8]>>(p%8)&1 == 1 {
				code |= 1 << i
			}
		}
		bitPos += width
		switch code {
		case clear:
			clears++
			width, hi = 9, 257
			continue
		case eof:
			if (bitPos+7)/8 != uint(len(b)) {
				return clears, fmt.Errorf("data after EOF")
			}
			return clears, nil
		}
		hi++
		if hi == 1<<width && width < 12 {
			width++
		}
	}
}

func main() {
	out := flag.String("out", "../tests/data/golden/lzw_vectors.json", "output file")
	flag.Parse()

	lowNext := xorshift32(0x2545F491)
	low := make([]byte, 70000)
	for i := range low {
		low[i] = byte(lowNext()>>24) & 3
	}
	rndNext := xorshift32(0x9E3779B9)
	rnd := make([]byte, 20000)
	for i := range rnd {
		rnd[i] = byte(rndNext() >> 24)
	}
	text := strings.Repeat("The quick brown fox jumps over the lazy dog. SWIM gossip! ", 800)[:45000]

	inputs := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"a", []byte("a")},
		{"hello", []byte("hello hello hello hello")},
		{"repetitive_text_45k", []byte(text)},
		{"low_entropy_70k", low},
		{"random_20k", rnd},
	}
	var vecs []vector
	for _, in := range inputs {
		c, err := compress(in.data)
		if err != nil {
			log.Fatalf("%s: %v", in.name, err)
		}
		// Round trip through the standard decoder as a sanity check.
		r := lzw.NewReader(bytes.NewReader(c), lzw.LSB, 8)
		back, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(back, in.data) {
			log.Fatalf("%s: round trip failed: %v", in.name, err)
		}
		clears, err := countClears(c)
		if err != nil {
			log.Fatalf("%s: code walk: %v", in.name, err)
		}
		vecs = append(vecs, vector{
			Name:       in.name,
			InputHex:   hex.EncodeToString(in.data),
			OutputHex:  hex.EncodeToString(c),
			InputLen:   len(in.data),
			OutputLen:  len(c),
			ClearCodes: clears,
		})
		fmt.Fprintf(os.Stderr, "%-20s in=%6d out=%6d clears=%d\n", in.name, len(in.data), len(c), clears)
	}
	data, err := json.MarshalIndent(vecs, "", " ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
}
