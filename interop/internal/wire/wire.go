// Package wire decodes memberlist packets and stream messages so that the
// interop tools can observe and classify what real memberlist nodes send.
//
// It is written from the swimlib protocol spec (docs in
// /work/shared/spec/memberlist-protocol.md, sections 1-4), not from
// memberlist's code. It only decodes; the tools never forge memberlist
// traffic with it. Decoding is best effort: problems are reported in
// Decoded.Err instead of aborting, because a half-understood capture is still
// worth recording.
package wire

import (
	"bytes"
	"compress/lzw"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"reflect"
	"sort"
	"strings"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// Message type bytes (spec §1.1).
const (
	TypePing         byte = 0
	TypeIndirectPing byte = 1
	TypeAck          byte = 2
	TypeSuspect      byte = 3
	TypeAlive        byte = 4
	TypeDead         byte = 5
	TypePushPull     byte = 6
	TypeCompound     byte = 7
	TypeUser         byte = 8
	TypeCompress     byte = 9
	TypeEncrypt      byte = 10
	TypeNack         byte = 11
	TypeHasCRC       byte = 12
	TypeErr          byte = 13
	TypeHasLabel     byte = 0xF4
)

var typeNames = map[byte]string{
	TypePing: "ping", TypeIndirectPing: "indirectPing", TypeAck: "ack",
	TypeSuspect: "suspect", TypeAlive: "alive", TypeDead: "dead",
	TypePushPull: "pushPull", TypeCompound: "compound", TypeUser: "user",
	TypeCompress: "compress", TypeEncrypt: "encrypt", TypeNack: "nack",
	TypeHasCRC: "hasCrc", TypeErr: "err", TypeHasLabel: "hasLabel",
}

// TypeName returns memberlist's name for a message type byte.
func TypeName(t byte) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("unknown(%d)", t)
}

// Message bodies. Field names are the msgpack map keys on the wire (spec
// §1.3); the Go codec matches them by exact name, so no tags are needed.

type Ping struct {
	Node       string
	SeqNo      uint32
	SourceAddr []byte
	SourceNode string
	SourcePort uint16
}

type IndirectPing struct {
	Nack       bool
	Node       string
	Port       uint16
	SeqNo      uint32
	SourceAddr []byte
	SourceNode string
	SourcePort uint16
	Target     []byte
}

type Ack struct {
	Payload []byte
	SeqNo   uint32
}

type Nack struct {
	SeqNo uint32
}

type ErrResp struct {
	Error string
}

// Suspect is also the body of a dead message (same three keys).
type Suspect struct {
	From        string
	Incarnation uint32
	Node        string
}

type Alive struct {
	Addr        []byte
	Incarnation uint32
	Meta        []byte
	Node        string
	Port        uint16
	Vsn         []byte
}

type PushPullHeader struct {
	Join         bool
	Nodes        int
	UserStateLen int
}

type PushNodeState struct {
	Addr        []byte
	Incarnation uint32
	Meta        []byte
	Name        string
	Port        uint16
	State       int
	Vsn         []byte
}

type UserMsgHeader struct {
	UserMsgLen int
}

type compressBody struct {
	Algo uint8
	Buf  []byte
}

// Push/pull node state values (spec §1.3).
var pushStateNames = []string{"alive", "suspect", "dead", "left"}

// StateName maps a pushNodeState.State value to a name.
func StateName(s int) string {
	if s >= 0 && s < len(pushStateNames) {
		return pushStateNames[s]
	}
	return fmt.Sprintf("unknown(%d)", s)
}

// Message is one leaf message found inside a packet or stream, after all
// wrappers (label, encryption, CRC, compression, compound) were removed.
type Message struct {
	Type byte
	// Body holds the decoded body: *Ping, *IndirectPing, *Ack, *Nack,
	// *ErrResp, *Suspect (suspect and dead), *Alive, *PushPullHeader (with
	// States/UserState), *UserMsgHeader (TCP user), or nil (UDP user).
	Body any
	// Payload is the raw user payload (user messages).
	Payload []byte
	// States and UserState are the rest of a push/pull message.
	States    []PushNodeState
	UserState []byte
	// Path lists the wrappers this message was found in, outermost first,
	// e.g. ["compress", "compound"].
	Path []string
	Err  string
}

// Name is the message's type name.
func (m *Message) Name() string { return TypeName(m.Type) }

// Decoded is the result of taking a packet or stream apart.
type Decoded struct {
	Label      string
	HasLabel   bool
	Encrypted  bool
	EncVersion int
	CRC        bool
	// Layers are the wrappers around the payload, outermost first, e.g.
	// ["label", "encrypt", "crc", "compress", "compound"].
	Layers   []string
	Messages []*Message
	Err      string
}

// Types returns the sorted, de-duplicated leaf message type names.
func (d *Decoded) Types() []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range d.Messages {
		n := m.Name()
		if m.Type == TypePushPull {
			if h, ok := m.Body.(*PushPullHeader); ok && h.Join {
				n = "pushPull(join)"
			}
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Shape is a compact description used to group captures of the same kind:
// layers, then the set of leaf message types.
func (d *Decoded) Shape() string {
	s := strings.Join(d.Layers, ">")
	if s != "" {
		s += ">"
	}
	s += "{" + strings.Join(d.Types(), ",") + "}"
	if d.Err != "" {
		s += "!err"
	}
	return s
}

func (d *Decoded) fail(format string, args ...any) *Decoded {
	d.Err = fmt.Sprintf(format, args...)
	return d
}

// maxDecompressed bounds LZW output so that a hostile or corrupt capture
// cannot exhaust memory (memberlist itself caps at 40 MiB).
const maxDecompressed = 40 << 20

// Decompress undoes an LZW compress body (LSB order, 8-bit literals, spec §2.4).
func Decompress(buf []byte) ([]byte, error) {
	r := lzw.NewReader(bytes.NewReader(buf), lzw.LSB, 8)
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, maxDecompressed+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxDecompressed {
		return nil, errors.New("decompressed data too large")
	}
	return out, nil
}

// Decrypt opens [version][nonce][ciphertext+tag] with the first key that
// authenticates (spec §3.2). Version 0 plaintext carries PKCS#7 padding.
func Decrypt(keys [][]byte, payload, aad []byte) ([]byte, int, error) {
	if len(payload) < 1 {
		return nil, 0, errors.New("empty encrypted payload")
	}
	vsn := int(payload[0])
	if vsn > 1 {
		return nil, vsn, fmt.Errorf("unsupported encryption version %d", vsn)
	}
	if len(payload) < 1+12+16 {
		return nil, vsn, errors.New("encrypted payload too short")
	}
	nonce := payload[1:13]
	ct := payload[13:]
	for _, k := range keys {
		block, err := aes.NewCipher(k)
		if err != nil {
			continue
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			continue
		}
		plain, err := gcm.Open(nil, nonce, ct, aad)
		if err != nil {
			continue
		}
		if vsn == 0 {
			if len(plain) == 0 {
				return nil, vsn, errors.New("version 0 plaintext has no padding")
			}
			pad := int(plain[len(plain)-1])
			if pad == 0 || pad > len(plain) {
				return nil, vsn, errors.New("bad version 0 padding")
			}
			plain = plain[:len(plain)-pad]
		}
		return plain, vsn, nil
	}
	return nil, vsn, errors.New("no key could decrypt the payload")
}

// stripLabel removes a [0xF4][len][label] header if present.
func stripLabel(buf []byte, d *Decoded) ([]byte, error) {
	if len(buf) == 0 || buf[0] != TypeHasLabel {
		return buf, nil
	}
	if len(buf) < 2 {
		return nil, errors.New("truncated label header")
	}
	n := int(buf[1])
	if n == 0 || len(buf) < 2+n {
		return nil, errors.New("bad label header")
	}
	d.HasLabel = true
	d.Label = string(buf[2 : 2+n])
	d.Layers = append(d.Layers, "label")
	return buf[2+n:], nil
}

func newDecoder(b []byte) *codec.Decoder {
	return codec.NewDecoderBytes(b, &codec.MsgpackHandle{})
}

// DecodePacket takes a UDP packet apart (spec §2.1). keys may be nil; when
// given, a decryption with label-as-AAD is attempted first, falling back to
// plaintext (encrypted version bytes 0/1 collide with ping/indirectPing).
// label is the receiver's configured label, used only when the packet has no
// label header.
func DecodePacket(buf []byte, keys [][]byte, label string) *Decoded {
	d := &Decoded{Label: label}
	buf, err := stripLabel(buf, d)
	if err != nil {
		return d.fail("%v", err)
	}
	if len(keys) > 0 {
		if plain, vsn, err := Decrypt(keys, buf, []byte(d.Label)); err == nil {
			d.Encrypted, d.EncVersion = true, vsn
			d.Layers = append(d.Layers, fmt.Sprintf("encrypt(v%d)", vsn))
			buf = plain
		}
	}
	if len(buf) >= 5 && buf[0] == TypeHasCRC {
		want := binary.BigEndian.Uint32(buf[1:5])
		if crc32.ChecksumIEEE(buf[5:]) != want {
			return d.fail("CRC mismatch")
		}
		d.CRC = true
		d.Layers = append(d.Layers, "crc")
		buf = buf[5:]
	}
	// Record the top-level wrappers (compress, compound) as layers so the
	// shape of a packet is visible at a glance.
	inner := buf
	for len(inner) > 0 && inner[0] == TypeCompress {
		d.Layers = append(d.Layers, "compress")
		var c compressBody
		if err := newDecoder(inner[1:]).Decode(&c); err != nil {
			return d.fail("compress: %v", err)
		}
		out, err := Decompress(c.Buf)
		if err != nil {
			return d.fail("lzw: %v", err)
		}
		inner = out
	}
	if len(inner) > 0 && inner[0] == TypeCompound {
		d.Layers = append(d.Layers, "compound")
	}
	d.walkPacket(inner, nil, 0)
	return d
}

// walkPacket dispatches one packet-level message, recursing into compound
// and compress containers (spec §2.3, §2.4).
func (d *Decoded) walkPacket(buf []byte, path []string, depth int) {
	if depth > 8 {
		d.Err = "wrappers nested too deep"
		return
	}
	if len(buf) == 0 {
		d.Err = "empty message"
		return
	}
	t, body := buf[0], buf[1:]
	m := &Message{Type: t, Path: append([]string(nil), path...)}
	var err error
	switch t {
	case TypeCompound:
		parts, perr := splitCompound(body)
		for _, p := range parts {
			d.walkPacket(p, extend(path, "compound"), depth+1)
		}
		if perr != nil {
			d.Err = perr.Error()
		}
		return
	case TypeCompress:
		var c compressBody
		if err = newDecoder(body).Decode(&c); err == nil {
			var out []byte
			if out, err = Decompress(c.Buf); err == nil {
				d.walkPacket(out, extend(path, "compress"), depth+1)
				return
			}
		}
	case TypeUser:
		m.Payload = append([]byte(nil), body...)
	case TypePing:
		m.Body, err = decodeInto(body, &Ping{})
	case TypeIndirectPing:
		m.Body, err = decodeInto(body, &IndirectPing{})
	case TypeAck:
		m.Body, err = decodeInto(body, &Ack{})
	case TypeNack:
		m.Body, err = decodeInto(body, &Nack{})
	case TypeSuspect, TypeDead:
		m.Body, err = decodeInto(body, &Suspect{})
	case TypeAlive:
		m.Body, err = decodeInto(body, &Alive{})
	default:
		err = fmt.Errorf("unexpected message type %d in a packet", t)
	}
	if err != nil {
		m.Err = err.Error()
	}
	d.Messages = append(d.Messages, m)
}

// extend returns path+elem in a fresh slice, so sibling messages never share
// (and overwrite) one backing array.
func extend(path []string, elem string) []string {
	return append(append(make([]string, 0, len(path)+1), path...), elem)
}

func decodeInto[T any](b []byte, v *T) (*T, error) {
	if err := newDecoder(b).Decode(v); err != nil {
		return v, err
	}
	return v, nil
}

// splitCompound parses [count u8][count x u16 BE length][parts...].
func splitCompound(b []byte) ([][]byte, error) {
	if len(b) < 1 {
		return nil, errors.New("compound: missing count")
	}
	n := int(b[0])
	b = b[1:]
	if len(b) < 2*n {
		return nil, errors.New("compound: truncated length table")
	}
	lens := make([]int, n)
	for i := range lens {
		lens[i] = int(binary.BigEndian.Uint16(b[2*i:]))
	}
	b = b[2*n:]
	var parts [][]byte
	for _, l := range lens {
		if len(b) < l {
			return parts, errors.New("compound: truncated part")
		}
		parts = append(parts, b[:l])
		b = b[l:]
	}
	return parts, nil
}

// DecodeStream takes apart everything one side wrote on a TCP connection
// (spec §4.1): optional label header, optional [0x0A][len] encryption frame,
// optional compress wrapper, then one stream message. label is the
// connection's label (the listener's reply carries none but still uses it as
// AAD).
func DecodeStream(buf []byte, keys [][]byte, label string) *Decoded {
	d := &Decoded{Label: label}
	buf, err := stripLabel(buf, d)
	if err != nil {
		return d.fail("%v", err)
	}
	if len(buf) == 0 {
		return d.fail("empty stream")
	}
	if buf[0] == TypeEncrypt {
		if len(buf) < 5 {
			return d.fail("truncated encrypt header")
		}
		n := int(binary.BigEndian.Uint32(buf[1:5]))
		if len(buf) < 5+n {
			return d.fail("truncated encrypted stream (%d of %d bytes)", len(buf)-5, n)
		}
		aad := append(append([]byte(nil), buf[:5]...), d.Label...)
		d.Encrypted = true
		d.Layers = append(d.Layers, "encrypt")
		if len(keys) == 0 {
			return d.fail("encrypted stream and no keys")
		}
		plain, vsn, err := Decrypt(keys, buf[5:5+n], aad)
		if err != nil {
			return d.fail("decrypt: %v", err)
		}
		d.EncVersion = vsn
		d.Layers[len(d.Layers)-1] = fmt.Sprintf("encrypt(v%d)", vsn)
		buf = plain
	}
	if len(buf) > 0 && buf[0] == TypeCompress {
		d.Layers = append(d.Layers, "compress")
		var c compressBody
		if err := newDecoder(buf[1:]).Decode(&c); err != nil {
			return d.fail("compress: %v", err)
		}
		out, err := Decompress(c.Buf)
		if err != nil {
			return d.fail("lzw: %v", err)
		}
		buf = out
	}
	if len(buf) == 0 {
		return d.fail("empty stream message")
	}
	t, body := buf[0], buf[1:]
	m := &Message{Type: t}
	d.Messages = append(d.Messages, m)
	switch t {
	case TypePushPull:
		dec := newDecoder(body)
		var h PushPullHeader
		if err := dec.Decode(&h); err != nil {
			m.Err = err.Error()
			break
		}
		m.Body = &h
		if h.Nodes < 0 || h.Nodes > 1<<20 {
			m.Err = "bad node count"
			break
		}
		for i := 0; i < h.Nodes; i++ {
			var s PushNodeState
			if err := dec.Decode(&s); err != nil {
				m.Err = err.Error()
				break
			}
			m.States = append(m.States, s)
		}
		rest := body[dec.NumBytesRead():]
		if h.UserStateLen > len(rest) {
			m.Err = "truncated user state"
		} else {
			m.UserState = append([]byte(nil), rest[:h.UserStateLen]...)
		}
	case TypeUser:
		dec := newDecoder(body)
		var h UserMsgHeader
		if err := dec.Decode(&h); err != nil {
			m.Err = err.Error()
			break
		}
		m.Body = &h
		rest := body[dec.NumBytesRead():]
		if h.UserMsgLen > len(rest) || h.UserMsgLen < 0 {
			m.Err = "truncated user message"
		} else {
			m.Payload = append([]byte(nil), rest[:h.UserMsgLen]...)
		}
	case TypePing:
		m.Body, err = decodeInto(body, &Ping{})
	case TypeAck:
		m.Body, err = decodeInto(body, &Ack{})
	case TypeErr:
		m.Body, err = decodeInto(body, &ErrResp{})
	default:
		err = fmt.Errorf("unexpected stream message type %d", t)
	}
	if err != nil {
		m.Err = err.Error()
	}
	return d
}

// Summary turns a message into a JSON-friendly map: the wire field names,
// with byte fields as hex strings, plus "type" (and "path" when nested).
func (m *Message) Summary() map[string]any {
	out := map[string]any{"type": m.Name()}
	if len(m.Path) > 0 {
		out["path"] = m.Path
	}
	if m.Body != nil {
		for k, v := range structToMap(m.Body) {
			out[k] = v
		}
	}
	if m.Type == TypeUser {
		out["payload_hex"] = hex.EncodeToString(m.Payload)
	}
	if m.Type == TypePushPull {
		states := make([]map[string]any, 0, len(m.States))
		for i := range m.States {
			s := structToMap(&m.States[i])
			s["StateName"] = StateName(m.States[i].State)
			states = append(states, s)
		}
		out["states"] = states
		out["user_state_hex"] = hex.EncodeToString(m.UserState)
	}
	if m.Err != "" {
		out["error"] = m.Err
	}
	return out
}

func structToMap(v any) map[string]any {
	out := map[string]any{}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return out
	}
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		f := rv.Field(i)
		if b, ok := f.Interface().([]byte); ok {
			if b == nil {
				out[rt.Field(i).Name] = nil
			} else {
				out[rt.Field(i).Name] = hex.EncodeToString(b)
			}
			continue
		}
		out[rt.Field(i).Name] = f.Interface()
	}
	return out
}
