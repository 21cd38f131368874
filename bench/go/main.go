// Command node is a lean hashicorp/memberlist node for swimlib's benchmarks
// (bench/). It speaks the same JSON-lines protocol as bench/swimlib_node.py,
// so the orchestrator drives every system the same way.
//
// Build (done by `python3 -m bench`): go build -o bin/node .
//
// Unlike interop/'s peer, it does not decode traffic: its transport wrapper
// only counts bytes, so the CPU it uses is memberlist's plus a few atomics.
//
// Commands (stdin, one JSON object per line):
//
//	{"cmd":"join","seeds":["127.0.0.1:7946"]}
//	{"cmd":"bcast","id":42,"size":100}          one probe broadcast (relayed once by every node)
//	{"cmd":"blast","kind":"direct"|"bcast","to":"node","rate":4000,"duration":2,"size":100}
//	{"cmd":"stats"}
//	{"cmd":"quit"}
//
// Events (stdout): start, joined, member, bcast, stats, blast_done, error.
// Every "t" is CLOCK_MONOTONIC in seconds, the clock Python's time.monotonic()
// reads, so times compare across processes on one machine.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
	"golang.org/x/sys/unix"
)

// Payload kinds: the first byte of every benchmark message.
const (
	kindProbe  = 'P' // one broadcast whose arrival time is reported
	kindDirect = 'D' // throughput, direct best-effort message (counted)
	kindBcast  = 'Q' // throughput, broadcast (counted once per id)
)

func mono() float64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return float64(ts.Sec) + float64(ts.Nsec)/1e9
}

// out serialises events to stdout from one goroutine, so memberlist's
// delegates (called under its locks) never block on a slow reader.
type out struct {
	ch   chan map[string]any
	done chan struct{}
}

func newOut() *out {
	o := &out{ch: make(chan map[string]any, 1<<16), done: make(chan struct{})}
	go func() {
		defer close(o.done)
		w := bufio.NewWriter(os.Stdout)
		enc := json.NewEncoder(w)
		for v := range o.ch {
			_ = enc.Encode(v)
			if len(o.ch) == 0 {
				_ = w.Flush()
			}
		}
		_ = w.Flush()
	}()
	return o
}

func (o *out) emit(v map[string]any) {
	select {
	case o.ch <- v:
	default: // never block memberlist; a reader this far behind loses events
	}
}

// countingTransport wraps NetTransport and counts what memberlist sends.
type countingTransport struct {
	*memberlist.NetTransport
	udpBytes, udpPackets, tcpBytes atomic.Int64
	streams                        chan net.Conn
	done                           chan struct{}
	once                           sync.Once
}

var _ memberlist.NodeAwareTransport = (*countingTransport)(nil)

func newCountingTransport(inner *memberlist.NetTransport) *countingTransport {
	t := &countingTransport{NetTransport: inner, streams: make(chan net.Conn), done: make(chan struct{})}
	go func() {
		for {
			select {
			case c := <-inner.StreamCh():
				select {
				case t.streams <- &countingConn{Conn: c, n: &t.tcpBytes}:
				case <-t.done:
					_ = c.Close()
					return
				}
			case <-t.done:
				return
			}
		}
	}()
	return t
}

func (t *countingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	t.udpBytes.Add(int64(len(b)))
	t.udpPackets.Add(1)
	return t.NetTransport.WriteTo(b, addr)
}

func (t *countingTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	t.udpBytes.Add(int64(len(b)))
	t.udpPackets.Add(1)
	return t.NetTransport.WriteToAddress(b, a)
}

func (t *countingTransport) StreamCh() <-chan net.Conn { return t.streams }

func (t *countingTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	c, err := t.NetTransport.DialTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: &t.tcpBytes}, nil
}

func (t *countingTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	c, err := t.NetTransport.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: &t.tcpBytes}, nil
}

func (t *countingTransport) Shutdown() error {
	t.once.Do(func() { close(t.done) })
	return t.NetTransport.Shutdown()
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// bcastItem is one queued user broadcast; none replaces another.
type bcastItem struct{ msg []byte }

func (b *bcastItem) Invalidates(memberlist.Broadcast) bool { return false }
func (b *bcastItem) Message() []byte                       { return b.msg }
func (b *bcastItem) Finished()                             {}

type node struct {
	m     atomic.Pointer[memberlist.Memberlist]
	queue *memberlist.TransmitLimitedQueue
	out   *out
	tr    *countingTransport

	mu   sync.Mutex
	seen map[uint64]bool // broadcast ids already delivered (and relayed)

	recvDirect, recvBcast, recvProbe atomic.Int64
	sentDirect, sentBcast            atomic.Int64
}

// suspectLog is memberlist's log output: memberlist has no suspect callback, but its prober
// logs "Suspect <name> has failed, no acks received" at the moment it raises a suspicion, so
// that line becomes a member event (every other line is discarded, as before).
type suspectLog struct{ n *node }

func (w suspectLog) Write(p []byte) (int, error) {
	const head, tail = "memberlist: Suspect ", " has failed"
	if i := bytes.Index(p, []byte(head)); i >= 0 {
		rest := p[i+len(head):]
		if j := bytes.Index(rest, []byte(tail)); j > 0 {
			w.n.member(string(rest[:j]), "suspect")
		}
	}
	return len(p), nil
}

// delegate

func (n *node) NodeMeta(int) []byte             { return nil }
func (n *node) LocalState(bool) []byte          { return nil }
func (n *node) MergeRemoteState([]byte, bool)   {}
func (n *node) GetBroadcasts(o, l int) [][]byte { return n.queue.GetBroadcasts(o, l) }
func (n *node) NotifyJoin(x *memberlist.Node)   { n.member(x.Name, "alive") }
func (n *node) NotifyLeave(x *memberlist.Node)  { n.member(x.Name, "dead") }
func (n *node) NotifyUpdate(x *memberlist.Node) {}
func (n *node) member(name, state string) {
	n.out.emit(map[string]any{"ev": "member", "t": mono(), "node": name, "state": state})
}
func (n *node) firstTime(id uint64) (isNew bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.seen[id] {
		return false
	}
	n.seen[id] = true
	return true
}

func (n *node) NotifyMsg(b []byte) {
	if len(b) < 9 {
		return
	}
	id := binary.BigEndian.Uint64(b[1:9])
	switch b[0] {
	case kindDirect:
		n.recvDirect.Add(1)
	case kindProbe, kindBcast:
		// Relay once, as serf does with user events: memberlist itself only
		// sends a broadcast from its origin, which does not reach everyone.
		if !n.firstTime(id) {
			return
		}
		msg := make([]byte, len(b))
		copy(msg, b)
		n.queue.QueueBroadcast(&bcastItem{msg: msg})
		if b[0] == kindProbe {
			n.recvProbe.Add(1)
			n.out.emit(map[string]any{"ev": "bcast", "t": mono(), "id": id})
		} else {
			n.recvBcast.Add(1)
		}
	}
}

func payload(kind byte, id uint64, size int) []byte {
	if size < 9 {
		size = 9
	}
	b := make([]byte, size)
	b[0] = kind
	binary.BigEndian.PutUint64(b[1:9], id)
	for i := 9; i < size; i++ {
		b[i] = 'x'
	}
	return b
}

type command struct {
	Cmd      string   `json:"cmd"`
	Seeds    []string `json:"seeds"`
	ID       uint64   `json:"id"`
	Size     int      `json:"size"`
	Kind     string   `json:"kind"`
	To       string   `json:"to"`
	Rate     float64  `json:"rate"`
	Duration float64  `json:"duration"`
}

func (n *node) stats() map[string]any {
	m := n.m.Load()
	alive, health := 0, 0
	if m != nil {
		alive, health = m.NumMembers(), m.GetHealthScore()
	}
	return map[string]any{
		"ev": "stats", "t": mono(),
		"udp_sent_bytes": n.tr.udpBytes.Load(), "udp_sent": n.tr.udpPackets.Load(),
		"tcp_sent_bytes": n.tr.tcpBytes.Load(),
		"recv_direct":    n.recvDirect.Load(), "recv_bcast": n.recvBcast.Load(),
		"recv_probe": n.recvProbe.Load(), "sent_direct": n.sentDirect.Load(),
		"sent_bcast": n.sentBcast.Load(), "members": alive, "health": health,
	}
}

// blast sends for `duration` seconds at `rate` messages/s (0: as fast as
// possible) and reports how many went out.
func (n *node) blast(c command) {
	m := n.m.Load()
	size := c.Size
	if size == 0 {
		size = 100
	}
	var target *memberlist.Node
	if c.Kind == "direct" {
		for _, x := range m.Members() {
			if x.Name == c.To {
				target = x
			}
		}
		if target == nil {
			n.out.emit(map[string]any{"ev": "blast_done", "error": "no member " + c.To})
			return
		}
	}
	dur := c.Duration
	if dur <= 0 || dur > 120 {
		dur = 2
	}
	var sent, errs int64
	start := mono()
	end := start + dur
	base := uint64(time.Now().UnixNano()) << 8 // ids unique across blasts and nodes (mostly)
	for {
		now := mono()
		if now >= end {
			break
		}
		due := int64(1 << 62)
		if c.Rate > 0 {
			due = int64((now-start)*c.Rate) + 1
		}
		if sent >= due {
			time.Sleep(200 * time.Microsecond)
			continue
		}
		batch := due - sent
		if batch > 64 {
			batch = 64
		}
		for i := int64(0); i < batch; i++ {
			if c.Kind == "direct" {
				if err := m.SendBestEffort(target, payload(kindDirect, uint64(sent), size)); err != nil {
					errs++
				}
				n.sentDirect.Add(1)
			} else {
				id := base + uint64(sent)
				n.firstTime(id)
				n.queue.QueueBroadcast(&bcastItem{msg: payload(kindBcast, id, size)})
				n.sentBcast.Add(1)
			}
			sent++
		}
	}
	n.out.emit(map[string]any{"ev": "blast_done", "t0": start, "t1": mono(), "sent": sent, "errors": errs})
}

func (n *node) handle(c command) {
	m := n.m.Load()
	switch c.Cmd {
	case "join":
		t0 := mono()
		k, err := m.Join(c.Seeds)
		ev := map[string]any{"ev": "joined", "t0": t0, "t": mono(), "n": k}
		if err != nil {
			ev["error"] = err.Error()
		}
		n.out.emit(ev)
	case "bcast":
		size := c.Size
		if size == 0 {
			size = 100
		}
		n.firstTime(c.ID)
		n.queue.QueueBroadcast(&bcastItem{msg: payload(kindProbe, c.ID, size)})
		n.out.emit(map[string]any{"ev": "bcast_sent", "t": mono(), "id": c.ID})
	case "blast":
		go n.blast(c)
	case "stats":
		n.out.emit(n.stats())
	default:
		n.out.emit(map[string]any{"ev": "error", "error": "unknown command " + c.Cmd})
	}
}

func main() {
	name := flag.String("name", "", "node name")
	bind := flag.String("bind", "127.0.0.1", "bind address")
	port := flag.Int("port", 0, "bind port (0 = any)")
	preset := flag.String("preset", "lan", "lan|local|wan")
	key := flag.String("key", "", "AES key, standard base64 (enables encryption)")
	flag.Parse()

	o := newOut()
	fail := func(err error) {
		o.emit(map[string]any{"ev": "error", "error": err.Error()})
		close(o.ch)
		<-o.done
		os.Exit(1)
	}
	n := &node{out: o, seen: map[uint64]bool{}}
	var conf *memberlist.Config
	switch *preset {
	case "lan":
		conf = memberlist.DefaultLANConfig()
	case "local":
		conf = memberlist.DefaultLocalConfig()
	case "wan":
		conf = memberlist.DefaultWANConfig()
	default:
		fail(fmt.Errorf("unknown preset %q", *preset))
	}
	conf.Name = *name
	conf.LogOutput = suspectLog{n}
	if os.Getenv("BENCH_GO_LOG") != "" {
		conf.LogOutput = os.Stderr
	}
	if *key != "" {
		k, err := base64.StdEncoding.DecodeString(*key)
		if err != nil {
			fail(err)
		}
		kr, err := memberlist.NewKeyring(nil, k)
		if err != nil {
			fail(err)
		}
		conf.Keyring = kr
	}
	var nt *memberlist.NetTransport
	var err error
	for i := 0; i < 20; i++ { // port 0 picks TCP's port, then binds UDP to it: may collide
		nt, err = memberlist.NewNetTransport(&memberlist.NetTransportConfig{
			BindAddrs: []string{*bind}, BindPort: *port, Logger: log.New(io.Discard, "", 0),
		})
		if err == nil || *port != 0 || !strings.Contains(err.Error(), "in use") {
			break
		}
	}
	if err != nil {
		fail(err)
	}
	p := nt.GetAutoBindPort()
	conf.BindAddr, conf.BindPort, conf.AdvertisePort = *bind, p, p
	n.tr = newCountingTransport(nt)
	conf.Transport = n.tr
	n.queue = &memberlist.TransmitLimitedQueue{
		RetransmitMult: conf.RetransmitMult,
		NumNodes: func() int {
			if m := n.m.Load(); m != nil {
				return m.NumMembers()
			}
			return 1
		},
	}
	conf.Delegate = n
	conf.Events = n
	m, err := memberlist.Create(conf)
	if err != nil {
		fail(err)
	}
	n.m.Store(m)
	o.emit(map[string]any{"ev": "start", "t": mono(), "name": conf.Name, "port": p, "pid": os.Getpid()})

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	quit := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			var c command
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				o.emit(map[string]any{"ev": "error", "error": err.Error()})
				continue
			}
			if c.Cmd == "quit" {
				break
			}
			n.handle(c)
		}
		close(quit) // stdin closed or quit: the orchestrator is gone or done
	}()
	select {
	case <-quit:
	case <-sig:
	}
	_ = m.Shutdown()
	o.emit(map[string]any{"ev": "exit", "t": mono()})
	close(o.ch)
	<-o.done
}
