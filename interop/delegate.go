package main

import (
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"unicode/utf8"

	"github.com/hashicorp/memberlist"
)

// swimlib wraps topic messages in an envelope (docs/envelope.md): F5 'S' 'W'
// 'L' 01, flags (bit 0 = broadcast), u64 BE message id, u16 BE topic length,
// topic, u16 BE origin length, origin node name, payload.
var envelopeMagic = []byte{0xF5, 'S', 'W', 'L', 0x01}

const envelopeBroadcast = 0x01

func wrapEnvelope(topic, origin string, payload []byte, broadcast bool) []byte {
	b := make([]byte, 0, len(envelopeMagic)+13+len(topic)+len(origin)+len(payload))
	b = append(b, envelopeMagic...)
	var id uint64
	flags := byte(0)
	if broadcast {
		flags = envelopeBroadcast
		id = rand.Uint64() | 1 // non-zero: receivers deduplicate by origin and id
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint64(b, id)
	b = binary.BigEndian.AppendUint16(b, uint16(len(topic)))
	b = append(b, topic...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(origin)))
	b = append(b, origin...)
	return append(b, payload...)
}

// unwrapEnvelope returns ok=false for anything that is not a complete
// envelope; such messages are reported as raw.
func unwrapEnvelope(b []byte) (topic, origin string, payload []byte, ok bool) {
	if len(b) < len(envelopeMagic)+9 || string(b[:len(envelopeMagic)]) != string(envelopeMagic) {
		return "", "", nil, false
	}
	rest := b[len(envelopeMagic)+9:]
	field := func() ([]byte, bool) {
		if len(rest) < 2 {
			return nil, false
		}
		n := int(binary.BigEndian.Uint16(rest))
		if len(rest) < 2+n {
			return nil, false
		}
		f := rest[2 : 2+n]
		rest = rest[2+n:]
		return f, true
	}
	t, ok1 := field()
	o, ok2 := field()
	if !ok1 || !ok2 || len(t) == 0 {
		return "", "", nil, false
	}
	return lossy(t), lossy(o), rest, true
}

// lossy decodes UTF-8, replacing each invalid byte with U+FFFD.
func lossy(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]rune, 0, len(b))
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		out = append(out, r) // RuneError for an invalid byte (size 1)
		b = b[size:]
	}
	return string(out)
}

// peerDelegate serves node meta and user broadcasts, and reports user
// messages.
type peerDelegate struct {
	mu    sync.Mutex
	meta  []byte
	queue *memberlist.TransmitLimitedQueue
	out   *emitter
}

func (d *peerDelegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.meta) > limit {
		return d.meta[:limit] // memberlist panics on oversized meta
	}
	return d.meta
}

func (d *peerDelegate) setMeta(m []byte) {
	d.mu.Lock()
	d.meta = m
	d.mu.Unlock()
}

func (d *peerDelegate) NotifyMsg(b []byte) {
	ev := map[string]any{"event": "message"}
	if topic, origin, payload, ok := unwrapEnvelope(b); ok {
		ev["raw"], ev["topic"], ev["origin"] = false, topic, origin
		b = payload
	} else {
		ev["raw"], ev["topic"], ev["origin"] = true, nil, nil
	}
	ev["payload_b64"] = base64.StdEncoding.EncodeToString(b)
	ev["payload_text"] = lossy(b)
	d.out.emit(ev)
}

func (d *peerDelegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.queue.GetBroadcasts(overhead, limit)
}

func (d *peerDelegate) LocalState(join bool) []byte            { return nil }
func (d *peerDelegate) MergeRemoteState(buf []byte, join bool) {}

// userBroadcast is one queued user message; user messages never replace
// each other.
type userBroadcast struct{ msg []byte }

func (b *userBroadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b *userBroadcast) Message() []byte                       { return b.msg }
func (b *userBroadcast) Finished()                             {}

// eventDelegate reports membership changes. memberlist hands over a Node
// whose State field is never updated, so states come from the tracker.
type eventDelegate struct {
	out   *emitter
	track *tracker
	self  string
}

func (e *eventDelegate) NotifyJoin(n *memberlist.Node) {
	e.track.joined(n)
	e.out.emit(map[string]any{"event": "join", "node": nodeJSON(n, "alive")})
}

func (e *eventDelegate) NotifyLeave(n *memberlist.Node) {
	// memberlist only ever buries itself through Leave (it refutes any
	// other accusation), and NotifyLeave runs before our own dead message
	// has gone out, so the wire cannot have told us yet.
	state := e.track.left(n, n.Name == e.self)
	e.out.emit(map[string]any{"event": "leave", "node": nodeJSON(n, state)})
}

func (e *eventDelegate) NotifyUpdate(n *memberlist.Node) {
	e.track.updated(n)
	state, _ := e.track.memberView(n.Name)
	e.out.emit(map[string]any{"event": "update", "node": nodeJSON(n, state)})
}

func nodeJSON(n *memberlist.Node, state string) map[string]any {
	return map[string]any{
		"name":     n.Name,
		"addr":     n.Addr.String(),
		"port":     n.Port,
		"meta":     lossy(n.Meta),
		"meta_b64": base64.StdEncoding.EncodeToString(n.Meta),
		"state":    state,
		"pmin":     n.PMin,
		"pmax":     n.PMax,
		"pcur":     n.PCur,
		"dmin":     n.DMin,
		"dmax":     n.DMax,
		"dcur":     n.DCur,
	}
}
