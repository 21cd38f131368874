// Command capture runs real memberlist nodes over an in-memory transport and
// records every UDP packet and TCP stream they produce, to serve as golden
// data for swimlib's wire codec tests.
//
// Usage (from /work/main/interop):
//
//	go build -o bin/capture ./capture && ./bin/capture
//
// It writes ../tests/data/golden/captured.json and README.md. Nothing touches
// the real network: nodes get fixed, fake addresses on an in-memory network.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"swimlib/interop/internal/wire"
)

// Fixed node addresses. They exist only on the in-memory network.
const (
	ipMain = "127.0.0.1"
	portA  = 7001
	portB  = 7002
	portC  = 7003
)

// testKey returns the fixed key 00 01 02 ... (n-1).
func testKey(n int) []byte {
	k := make([]byte, n)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

const testLabel = "golden-label"

// nodeOpts are the per-node settings a scenario varies.
type nodeOpts struct {
	compression   bool
	label         string
	key           []byte
	pv            int // protocol version; 0 = memberlist default
	pushPull      time.Duration
	suspicionMult int
	state         bool // delegate returns non-empty push/pull user state
}

func defaultOpts() nodeOpts {
	return nodeOpts{compression: true, suspicionMult: 3}
}

// env is one scenario's world: its network and nodes.
type env struct {
	net       *network
	logw      io.Writer
	nodes     map[string]*memberlist.Memberlist
	delegates map[string]*capDelegate
	order     []string
}

func newEnv(rec *recorder, scenario string, logw io.Writer) *env {
	return &env{
		net:       newNetwork(rec, scenario),
		logw:      logw,
		nodes:     map[string]*memberlist.Memberlist{},
		delegates: map[string]*capDelegate{},
	}
}

func (e *env) addNode(name, ip string, port int, o nodeOpts) (*memberlist.Memberlist, error) {
	rc := recConfig{Compression: o.compression, Label: o.label, key: o.key, ProtocolVersion: o.pv}
	if o.key != nil {
		rc.KeyHex = fmt.Sprintf("%x", o.key)
	}
	conf := memberlist.DefaultLocalConfig()
	if rc.ProtocolVersion == 0 {
		rc.ProtocolVersion = int(conf.ProtocolVersion)
	} else {
		conf.ProtocolVersion = uint8(o.pv)
	}
	tr, err := e.net.attach(name, ip, port, rc)
	if err != nil {
		return nil, err
	}
	conf.Name = name
	conf.Transport = tr
	conf.BindAddr, conf.BindPort = ip, port
	conf.AdvertiseAddr, conf.AdvertisePort = ip, port
	conf.LogOutput = e.logw
	conf.EnableCompression = o.compression
	conf.Label = o.label
	if o.key != nil {
		kr, err := memberlist.NewKeyring(nil, o.key)
		if err != nil {
			return nil, err
		}
		conf.Keyring = kr
	}
	// Fast timers so every scenario finishes in a few seconds.
	conf.ProbeInterval = 200 * time.Millisecond
	conf.ProbeTimeout = 100 * time.Millisecond
	conf.GossipInterval = 50 * time.Millisecond
	conf.TCPTimeout = time.Second
	conf.GossipToTheDeadTime = 2 * time.Second
	conf.PushPullInterval = o.pushPull
	conf.SuspicionMult = o.suspicionMult

	d := &capDelegate{meta: []byte("meta:" + name)}
	if o.state {
		d.state = []byte("user-state:" + name)
	}
	// The queue may be consulted while Create is still running, before m
	// exists, hence the atomic pointer.
	var self atomic.Pointer[memberlist.Memberlist]
	d.queue = &memberlist.TransmitLimitedQueue{
		RetransmitMult: conf.RetransmitMult,
		NumNodes: func() int {
			if m := self.Load(); m != nil {
				return m.NumMembers()
			}
			return 1
		},
	}
	conf.Delegate = d
	m, err := memberlist.Create(conf)
	if err != nil {
		return nil, err
	}
	self.Store(m)
	e.nodes[name] = m
	e.delegates[name] = d
	e.order = append(e.order, name)
	return m, nil
}

// abc adds the standard three nodes node-a/b/c on 127.0.0.1:7001-7003.
func (e *env) abc(o nodeOpts, n int) error {
	names := []string{"node-a", "node-b", "node-c"}
	ports := []int{portA, portB, portC}
	for i := 0; i < n; i++ {
		if _, err := e.addNode(names[i], ipMain, ports[i], o); err != nil {
			return err
		}
	}
	return nil
}

// joinAll makes every node after the first join the first one.
func (e *env) joinAll() error {
	first := e.nodes[e.order[0]]
	seed := first.LocalNode().Address()
	for _, name := range e.order[1:] {
		if _, err := e.nodes[name].Join([]string{seed}); err != nil {
			return fmt.Errorf("%s join: %w", name, err)
		}
	}
	return nil
}

func (e *env) shutdown() {
	for _, name := range e.order {
		_ = e.nodes[name].Shutdown()
	}
	e.net.closeAll()
}

// waitMessage waits until sender has sent a message of type t about node
// (alive/suspect/dead) with at least the given incarnation.
func (e *env) waitMessage(timeout time.Duration, sender string, t byte, node string, minInc uint32) bool {
	seen := 0
	return waitFor(timeout, func() bool {
		recs := e.net.rec.snapshot()
		for ; seen < len(recs); seen++ {
			r := &recs[seen]
			if r.Scenario != e.net.scenario || r.From != sender || r.Transport != "udp" {
				continue
			}
			for _, m := range decodeRecord(r).Messages {
				if m.Type != t {
					continue
				}
				switch b := m.Body.(type) {
				case *wire.Alive:
					if b.Node == node && b.Incarnation >= minInc {
						return true
					}
				case *wire.Suspect:
					if b.Node == node && b.Incarnation >= minInc {
						return true
					}
				}
			}
		}
		return false
	})
}

func (e *env) member(observer, node string) *memberlist.Node {
	for _, n := range e.nodes[observer].Members() {
		if n.Name == node {
			return n
		}
	}
	return nil
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

// sendUserTraffic sends best-effort and reliable user messages from -> to,
// small (never compressed) and large/repetitive (compressed when enabled),
// plus gossiped user broadcasts.
func (e *env) sendUserTraffic(from, to string) error {
	m := e.nodes[from]
	target := e.member(from, to)
	if target == nil {
		return fmt.Errorf("%s does not know %s", from, to)
	}
	small := []byte("hello from " + from)
	big := []byte(strings.Repeat("swimlib golden payload ", 60))
	for _, p := range [][]byte{small, big, envelope("golden/topic", from, []byte("enveloped payload"))} {
		if err := m.SendBestEffort(target, p); err != nil {
			return err
		}
	}
	for _, p := range [][]byte{small, big} {
		if err := m.SendReliable(target, p); err != nil {
			return err
		}
	}
	q := e.delegates[from].queue
	for i := 0; i < 3; i++ {
		q.QueueBroadcast(&userBroadcast{msg: []byte(fmt.Sprintf("broadcast %d from %s", i, from))})
	}
	return nil
}

// envelope builds swimlib's topic envelope: F5 'S' 'W' 'L' 01, u16 BE topic
// length, topic, u16 BE origin length, origin, payload.
func envelope(topic, origin string, payload []byte) []byte {
	b := []byte{0xF5, 'S', 'W', 'L', 0x01}
	b = append(b, byte(len(topic)>>8), byte(len(topic)))
	b = append(b, topic...)
	b = append(b, byte(len(origin)>>8), byte(len(origin)))
	b = append(b, origin...)
	return append(b, payload...)
}

// capDelegate gives each node metadata, optional push/pull user state, and
// a broadcast queue for user gossip.
type capDelegate struct {
	meta  []byte
	state []byte
	queue *memberlist.TransmitLimitedQueue
}

func (d *capDelegate) NodeMeta(limit int) []byte { return d.meta }
func (d *capDelegate) NotifyMsg([]byte)          {}
func (d *capDelegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.queue.GetBroadcasts(overhead, limit)
}
func (d *capDelegate) LocalState(join bool) []byte            { return d.state }
func (d *capDelegate) MergeRemoteState(buf []byte, join bool) {}

// userBroadcast never invalidates another: each is a distinct user message.
type userBroadcast struct{ msg []byte }

func (b *userBroadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b *userBroadcast) Message() []byte                       { return b.msg }
func (b *userBroadcast) Finished()                             {}

// scenario is one captured situation.
type scenario struct {
	name string
	desc string
	run  func(e *env) error
}

func scenarios() []scenario {
	var list []scenario
	list = append(list,
		scenario{"join_push_pull",
			"3 nodes (node-a/b/c on 127.0.0.1:7001-7003), compression on, no label/key; node-b and node-c join node-a by push/pull (request and reply streams, Join=true), periodic push/pull every 600ms (Join=false), delegate user state 'user-state:<name>', meta 'meta:<name>'; 2s of probing and gossip",
			func(e *env) error {
				o := defaultOpts()
				o.pushPull, o.state = 600*time.Millisecond, true
				if err := e.abc(o, 3); err != nil {
					return err
				}
				if err := e.joinAll(); err != nil {
					return err
				}
				time.Sleep(2 * time.Second)
				return nil
			}},
		scenario{"no_compression",
			"2 nodes with EnableCompression=false: push/pull join, periodic push/pull, gossip, probes, best-effort and reliable user messages, user broadcasts, all uncompressed",
			func(e *env) error {
				o := defaultOpts()
				o.compression, o.pushPull, o.state = false, 600*time.Millisecond, true
				if err := e.abc(o, 2); err != nil {
					return err
				}
				if err := e.joinAll(); err != nil {
					return err
				}
				time.Sleep(300 * time.Millisecond)
				if err := e.sendUserTraffic("node-a", "node-b"); err != nil {
					return err
				}
				time.Sleep(1200 * time.Millisecond)
				return nil
			}},
		scenario{"user_messages",
			"2 nodes, compression on: node-a sends node-b best-effort UDP user messages (small: uncompressed; 1380-byte repetitive: compressed; one in the swimlib topic envelope) and reliable TCP user messages (small and large; streams are always compressed), and queues 3 user broadcasts that get piggybacked on gossip/probes",
			func(e *env) error {
				if err := e.abc(defaultOpts(), 2); err != nil {
					return err
				}
				if err := e.joinAll(); err != nil {
					return err
				}
				time.Sleep(300 * time.Millisecond)
				if err := e.sendUserTraffic("node-a", "node-b"); err != nil {
					return err
				}
				time.Sleep(time.Second)
				return nil
			}},
		scenario{"indirect_ping_tcp_fallback",
			"3 nodes; after joining, every UDP packet from node-a to node-b is dropped (streams still work). node-a's direct pings to node-b go unanswered, so it sends indirect pings (Nack=true) to node-c, which relays a ping to node-b and forwards the ack, and node-a also does a TCP fallback ping (stream ping + ack). node-b's probes of node-a get no direct ack either (node-a's acks are dropped). Dropped packets are recorded and flagged",
			func(e *env) error {
				if err := e.abc(defaultOpts(), 3); err != nil {
					return err
				}
				if err := e.joinAll(); err != nil {
					return err
				}
				time.Sleep(600 * time.Millisecond)
				e.net.setDrop(func(kind, from, to string) bool {
					return kind == "udp" && from == "node-a" && to == "node-b"
				})
				time.Sleep(3 * time.Second)
				e.net.setDrop(nil)
				return nil
			}},
		scenario{"nack_suspect_dead",
			"3 nodes; then node-b is cut off completely (all its UDP in/out dropped, streams to/from it refused). node-a and node-c probe it, ask each other for indirect pings, the helper's relayed ping gets no ack so it answers with a nack; node-b is suspected (suspect gossip, buddy [ping,suspect] compounds) and then declared dead (dead gossip, From != Node)",
			func(e *env) error {
				if err := e.abc(defaultOpts(), 3); err != nil {
					return err
				}
				if err := e.joinAll(); err != nil {
					return err
				}
				time.Sleep(600 * time.Millisecond)
				e.net.setDrop(func(kind, from, to string) bool {
					return from == "node-b" || to == "node-b"
				})
				ok := waitFor(10*time.Second, func() bool {
					return e.member("node-a", "node-b") == nil && e.member("node-c", "node-b") == nil
				})
				if !ok {
					return fmt.Errorf("node-b was never declared dead")
				}
				time.Sleep(time.Second)
				return nil
			}},
		scenario{"suspect_refute",
			"3 nodes with SuspicionMult=20 (long suspicion timeout); node-b is cut off until node-a gossips a suspect about it, then the partition heals: node-b learns it is suspected (buddy [ping,suspect] compound or gossip) and refutes with an alive message carrying a higher incarnation",
			func(e *env) error {
				o := defaultOpts()
				o.suspicionMult = 20
				if err := e.abc(o, 3); err != nil {
					return err
				}
				if err := e.joinAll(); err != nil {
					return err
				}
				time.Sleep(600 * time.Millisecond)
				e.net.setDrop(func(kind, from, to string) bool {
					return from == "node-b" || to == "node-b"
				})
				// Node.State from Members() is not kept up to date by
				// memberlist (only its private copy is), so watch the wire.
				if !e.waitMessage(6*time.Second, "node-a", wire.TypeSuspect, "node-b", 0) {
					return fmt.Errorf("node-a never suspected node-b")
				}
				e.net.setDrop(nil)
				if !e.waitMessage(5*time.Second, "node-b", wire.TypeAlive, "node-b", 2) {
					return fmt.Errorf("node-b never refuted")
				}
				time.Sleep(500 * time.Millisecond)
				return nil
			}},
		scenario{"graceful_leave",
			"3 nodes; node-c calls Leave(): it gossips dead with From == Node == node-c (graceful leave), the others mark it left; then node-c shuts down",
			func(e *env) error {
				if err := e.abc(defaultOpts(), 3); err != nil {
					return err
				}
				if err := e.joinAll(); err != nil {
					return err
				}
				time.Sleep(600 * time.Millisecond)
				if err := e.nodes["node-c"].Leave(2 * time.Second); err != nil {
					return err
				}
				time.Sleep(time.Second)
				_ = e.nodes["node-c"].Shutdown()
				time.Sleep(500 * time.Millisecond)
				return nil
			}},
		scenario{"label",
			"2 nodes with Label='" + testLabel + "', no encryption: every UDP packet and every dialer stream starts with the label header f4 0c 'golden-label'; listener replies carry none. Join, gossip, probes, user messages",
			func(e *env) error {
				o := defaultOpts()
				o.label = testLabel
				return basicTraffic(e, o)
			}},
	)
	for _, size := range []int{16, 24, 32} {
		for _, withLabel := range []bool{false, true} {
			size, withLabel := size, withLabel
			name := fmt.Sprintf("encrypt_aes%d", size*8)
			desc := fmt.Sprintf("2 nodes with a %d-byte key (bytes 00..%02x, AES-%d), protocol version 2 so encryption version 1", size, size-1, size*8)
			if withLabel {
				name += "_label"
				desc += ", Label='" + testLabel + "' (UDP AAD = label; TCP AAD = 5-byte frame header + label)"
			} else {
				desc += ", no label (UDP: no AAD; TCP AAD = 5-byte frame header)"
			}
			desc += ". Join, gossip, probes, user messages, all encrypted"
			list = append(list, scenario{name, desc, func(e *env) error {
				o := defaultOpts()
				o.key = testKey(size)
				if withLabel {
					o.label = testLabel
				}
				return basicTraffic(e, o)
			}})
		}
	}
	list = append(list,
		scenario{"encrypt_v0_pv1",
			"2 nodes speaking ProtocolVersion=1 with the 16-byte key, so they encrypt with version 0 (PKCS#7 padded). A node speaking version 1 substitutes its own bind port for peers, so these two use different IPs and the same port: node-p at 127.0.0.2:7001 and node-q at 127.0.0.3:7001",
			func(e *env) error {
				o := defaultOpts()
				o.key, o.pv = testKey(16), 1
				if _, err := e.addNode("node-p", "127.0.0.2", 7001, o); err != nil {
					return err
				}
				if _, err := e.addNode("node-q", "127.0.0.3", 7001, o); err != nil {
					return err
				}
				if err := e.joinAll(); err != nil {
					return err
				}
				time.Sleep(300 * time.Millisecond)
				if err := e.sendUserTraffic("node-p", "node-q"); err != nil {
					return err
				}
				time.Sleep(700 * time.Millisecond)
				return nil
			}},
		scenario{"err_response",
			"node-a has the 32-byte key (compression on), node-b has no key and compression off. node-b joins node-a with a plaintext push/pull: node-a refuses ('encryption is configured but remote state is not encrypted') and answers with an err message, compressed and encrypted. node-a joins node-b with an encrypted push/pull: node-b answers with a plain err ('remote state is encrypted and encryption is not configured'). Both joins fail",
			func(e *env) error {
				oa := defaultOpts()
				oa.key = testKey(32)
				ob := defaultOpts()
				ob.compression = false
				a, err := e.addNode("node-a", ipMain, portA, oa)
				if err != nil {
					return err
				}
				b, err := e.addNode("node-b", ipMain, portB, ob)
				if err != nil {
					return err
				}
				if _, err := b.Join([]string{a.LocalNode().Address()}); err == nil {
					return fmt.Errorf("node-b join unexpectedly succeeded")
				}
				if _, err := a.Join([]string{b.LocalNode().Address()}); err == nil {
					return fmt.Errorf("node-a join unexpectedly succeeded")
				}
				time.Sleep(300 * time.Millisecond)
				return nil
			}},
	)
	return list
}

// basicTraffic: 2 nodes join, gossip and exchange user messages.
func basicTraffic(e *env, o nodeOpts) error {
	o.pushPull, o.state = 600*time.Millisecond, true
	if err := e.abc(o, 2); err != nil {
		return err
	}
	if err := e.joinAll(); err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond)
	if err := e.sendUserTraffic("node-a", "node-b"); err != nil {
		return err
	}
	time.Sleep(800 * time.Millisecond)
	return nil
}

func memberlistVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/hashicorp/memberlist" {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return "unknown"
}

func main() {
	outdir := flag.String("outdir", "../tests/data/golden", "directory for captured.json and README.md")
	samples := flag.Int("samples", 4, "records kept per (scenario, transport, shape)")
	only := flag.String("only", "", "run only scenarios whose name contains this")
	verbose := flag.Bool("v", false, "send memberlist logs to stderr")
	flag.Parse()

	logw := io.Discard
	if *verbose {
		logw = os.Stderr
	}
	rec := &recorder{}
	notes := map[string]string{}
	var ran []scenario
	for _, s := range scenarios() {
		if *only != "" && !strings.Contains(s.name, *only) {
			continue
		}
		start := time.Now()
		e := newEnv(rec, s.name, logw)
		err := s.run(e)
		e.shutdown()
		if err != nil {
			log.Fatalf("scenario %s: %v", s.name, err)
		}
		notes[s.name] = s.desc
		ran = append(ran, s)
		fmt.Fprintf(os.Stderr, "scenario %-28s ok (%.1fs)\n", s.name, time.Since(start).Seconds())
	}
	// Let goroutines of the last scenario finish writing before snapshotting.
	time.Sleep(200 * time.Millisecond)

	if err := os.MkdirAll(*outdir, 0o755); err != nil {
		log.Fatal(err)
	}
	out := filepath.Join(*outdir, "captured.json")
	stats, size, err := selectAndWrite(out, rec.snapshot(), *samples, notes)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s (%d bytes)\n", out, size)
	if err := writeReadme(filepath.Join(*outdir, "README.md"), ran, stats); err != nil {
		log.Fatal(err)
	}
	for _, s := range ran {
		st := stats[s.name]
		if st == nil {
			continue
		}
		fmt.Fprintf(os.Stderr, "%s: captured %d, kept %d\n  all:  %s\n  kept: %s\n", s.name, st.captured, st.kept, st.all, st.keptTypes)
	}
}

func writeReadme(path string, ran []scenario, stats map[string]*scenarioStats) error {
	var b strings.Builder
	fmt.Fprintf(&b, `# Golden wire captures

GENERATED by interop/capture (README and captured.json) and
interop/lzwvectors (lzw_vectors.json). Do not edit by hand; regenerate.

## captured.json

Produced by real github.com/hashicorp/memberlist %s nodes (Go module
pinned in interop/go.mod), talking over an in-memory transport that records
exactly the bytes memberlist hands to the transport: every UDP packet, and
for each TCP connection everything each side wrote (label header,
encryption frame, compression and CRC included).

Regenerate (about 25 seconds; no real network is used):

    cd interop && go build -o bin/capture ./capture && ./bin/capture

Nonces, sequence numbers, incarnations and message order vary between runs;
the shapes do not.

Fixed settings:

* Nodes node-a, node-b, node-c at 127.0.0.1:7001, :7002, :7003 (in-memory
  only); encrypt_v0_pv1 uses node-p 127.0.0.2:7001 and node-q 127.0.0.3:7001.
* Keys: bytes 00 01 02 ... (n-1) for n = 16, 24, 32, i.e.
  000102030405060708090a0b0c0d0e0f (AES-128),
  000102030405060708090a0b0c0d0e0f1011121314151617 (AES-192),
  000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f (AES-256).
* Label (where used): %q.
* memberlist DefaultLocalConfig with ProbeInterval 200ms, ProbeTimeout 100ms,
  GossipInterval 50ms, TCPTimeout 1s, PushPullInterval 600ms or off,
  delegate meta "meta:<name>", push/pull user state "user-state:<name>"
  where noted.

Each record:

* scenario, transport ("udp" or "tcp"), direction ("sender->receiver"),
  role (tcp only: "dialer" or "listener", i.e. who wrote these bytes);
* hex: the bytes, outermost layer first;
* config: the *sender's* compression, label, key_hex ("" = none) and
  protocol_version, i.e. what is needed to undo the layers;
* note: the role again in words, whether the packet was dropped by fault
  injection (also in "dropped"), and the scenario description;
* shape, messages, decode_error: our own decoding (interop/internal/wire),
  a convenience for tests; the hex is the ground truth. shape lists the
  layers outermost first, then the set of leaf message types.

At most a few records are kept per (scenario, transport, shape), and exact
duplicates are dropped.

## Scenarios

`, memberlistVersion(), testLabel)
	for _, s := range ran {
		st := stats[s.name]
		fmt.Fprintf(&b, "### %s\n\n%s.\n\n", s.name, s.desc)
		if st == nil {
			b.WriteString("(nothing captured)\n\n")
			continue
		}
		fmt.Fprintf(&b, "Captured %d records, kept %d.\n\n", st.captured, st.kept)
		fmt.Fprintf(&b, "Message and layer counts, all captured: %s\n\n", st.all)
		fmt.Fprintf(&b, "Kept: %s\n\n", st.keptTypes)
		shapes := make([]string, 0, len(st.shapes))
		for sh := range st.shapes {
			shapes = append(shapes, sh)
		}
		sort.Strings(shapes)
		b.WriteString("Shapes kept:\n\n")
		for _, sh := range shapes {
			fmt.Fprintf(&b, "* `%s` x%d\n", sh, st.shapes[sh])
		}
		b.WriteString("\n")
	}
	b.WriteString(`## lzw_vectors.json

Go standard library compress/lzw (LSB order, literal width 8) output for
fixed inputs, made by interop/lzwvectors (uses nothing but the standard
library):

    cd interop && go run ./lzwvectors

See that program's doc comment for how the pseudo-random inputs are made.
`)
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
