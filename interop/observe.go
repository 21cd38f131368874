package main

import (
	"net"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"swimlib/interop/internal/wire"
)

// memberlist's public API exposes neither incarnation numbers nor suspect,
// dead or left nodes (Node.State handed out by Members() and the event
// delegate is a copy that memberlist never updates after creation). So the
// peer watches its own traffic instead: observingTransport wraps the real
// NetTransport and decodes every packet and stream passing through it, in
// both directions, and the tracker keeps what those messages say.

// trackedNode is what the peer has learned about one node from the wire and
// from event delegate callbacks.
type trackedNode struct {
	// incarnation is the highest incarnation number seen for the node in
	// any alive/suspect/dead message or push/pull entry that crossed this
	// peer's transport (in or out, plaintext or decryptable with our keys).
	// For the local node that includes our own outgoing alive messages,
	// refutations and push/pull entries. It normally equals memberlist's
	// internal value; it can run ahead of it when memberlist ignored a
	// message (e.g. a suspect it had already confirmed).
	incarnation uint32
	hasInc      bool
	// state follows memberlist's rules in simplified form: an alive with a
	// higher incarnation (or about a new node) makes it alive; a suspect
	// at >= incarnation turns alive into suspect; a dead at >= incarnation
	// makes it dead, or left when From == Node. Event delegate callbacks
	// (memberlist's own decisions) override it.
	state string
	// lastDeadSelf is true when the last dead message seen had From == Node.
	lastDeadSelf bool
	// gone is set by NotifyLeave and cleared by NotifyJoin; it keeps dead
	// and left nodes in the members report after memberlist drops them.
	gone bool
	// addr and port as memberlist last reported them (event delegate).
	addr string
	port uint16
}

type tracker struct {
	mu    sync.Mutex
	nodes map[string]*trackedNode
}

func newTracker() *tracker {
	return &tracker{nodes: map[string]*trackedNode{}}
}

func (t *tracker) get(name string) *trackedNode {
	n := t.nodes[name]
	if n == nil {
		n = &trackedNode{}
		t.nodes[name] = n
	}
	return n
}

func (n *trackedNode) bump(inc uint32) {
	if !n.hasInc || inc > n.incarnation {
		n.incarnation, n.hasInc = inc, true
	}
}

func (t *tracker) alive(name string, inc uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.get(name)
	if n.state == "" || !n.hasInc || inc > n.incarnation {
		n.state = "alive"
	}
	n.bump(inc)
}

func (t *tracker) suspect(name string, inc uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := t.nodes[name]
	if !ok {
		return // memberlist ignores news about nodes it never met
	}
	if n.state == "alive" && (!n.hasInc || inc >= n.incarnation) {
		n.state = "suspect"
	}
	n.bump(inc)
}

func (t *tracker) dead(name, from string, inc uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := t.nodes[name]
	if !ok {
		return
	}
	if !n.hasInc || inc >= n.incarnation {
		n.lastDeadSelf = from == name
		if n.state != "dead" && n.state != "left" {
			if n.lastDeadSelf {
				n.state = "left"
			} else {
				n.state = "dead"
			}
		}
	}
	n.bump(inc)
}

// joined/left/updated record memberlist's own verdicts (event delegate).
func (t *tracker) joined(node *memberlist.Node) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.get(node.Name)
	n.state, n.gone = "alive", false
	n.addr, n.port = node.Addr.String(), node.Port
}

func (t *tracker) updated(node *memberlist.Node) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.get(node.Name)
	n.addr, n.port = node.Addr.String(), node.Port
	if n.state == "" || n.state == "dead" || n.state == "left" {
		n.state = "alive"
	}
}

// left returns "left" if the departure is known to be graceful or the last
// dead message seen for the node came from the node itself, else "dead".
func (t *tracker) left(node *memberlist.Node, graceful bool) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.get(node.Name)
	n.gone = true
	n.addr, n.port = node.Addr.String(), node.Port
	if graceful || n.lastDeadSelf || n.state == "left" {
		n.state = "left"
	} else {
		n.state = "dead"
	}
	return n.state
}

// memberView returns the state and incarnation (nil when unknown) for a node that
// memberlist currently lists as a member.
func (t *tracker) memberView(name string) (string, any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := t.nodes[name]
	if !ok {
		return "alive", nil
	}
	state := n.state
	if state != "suspect" {
		// Members() only lists alive and suspect nodes; a stale "dead"
		// here means we missed the alive that revived it.
		state = "alive"
	}
	if !n.hasInc {
		return state, nil
	}
	return state, n.incarnation
}

type goneNode struct {
	name, addr, state string
	port              uint16
	inc               any
}

// goneNodes lists nodes memberlist reported dead or left, except those in
// skip (currently members again).
func (t *tracker) goneNodes(skip map[string]bool) []goneNode {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []goneNode
	for name, n := range t.nodes {
		if !n.gone || skip[name] {
			continue
		}
		g := goneNode{name: name, addr: n.addr, port: n.port, state: n.state}
		if n.hasInc {
			g.inc = n.incarnation
		}
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// observer decodes traffic and feeds the tracker.
type observer struct {
	track *tracker
	label string
	keys  func() [][]byte
}

func (o *observer) apply(d *wire.Decoded) {
	for _, m := range d.Messages {
		if m.Err != "" {
			continue
		}
		switch b := m.Body.(type) {
		case *wire.Alive:
			o.track.alive(b.Node, b.Incarnation)
		case *wire.Suspect:
			if m.Type == wire.TypeDead {
				o.track.dead(b.Node, b.From, b.Incarnation)
			} else {
				o.track.suspect(b.Node, b.Incarnation)
			}
		case *wire.PushPullHeader:
			// memberlist merges push/pull entries as: alive -> alive,
			// left -> dead from the node itself, suspect/dead -> suspect.
			for _, s := range m.States {
				switch s.State {
				case 0:
					o.track.alive(s.Name, s.Incarnation)
				case 3:
					o.track.dead(s.Name, s.Name, s.Incarnation)
				default:
					o.track.suspect(s.Name, s.Incarnation)
				}
			}
		}
	}
}

func (o *observer) packet(b []byte) {
	o.apply(wire.DecodePacket(b, o.keys(), o.label))
}

// observingTransport wraps memberlist's NetTransport; it changes nothing on
// the wire, it only looks.
type observingTransport struct {
	inner    *memberlist.NetTransport
	obs      *observer
	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	done     chan struct{}
	once     sync.Once
}

var _ memberlist.NodeAwareTransport = (*observingTransport)(nil)

func newObservingTransport(inner *memberlist.NetTransport, obs *observer) *observingTransport {
	t := &observingTransport{
		inner:    inner,
		obs:      obs,
		packetCh: make(chan *memberlist.Packet),
		streamCh: make(chan net.Conn),
		done:     make(chan struct{}),
	}
	go t.forwardPackets()
	go t.forwardStreams()
	return t
}

func (t *observingTransport) forwardPackets() {
	for {
		select {
		case p := <-t.inner.PacketCh():
			// Observe before memberlist sees the packet, so that a dead
			// message is known by the time NotifyLeave runs.
			t.obs.packet(p.Buf)
			select {
			case t.packetCh <- p:
			case <-t.done:
				return
			}
		case <-t.done:
			return
		}
	}
}

func (t *observingTransport) forwardStreams() {
	for {
		select {
		case c := <-t.inner.StreamCh():
			select {
			case t.streamCh <- &obsConn{Conn: c, obs: t.obs}:
			case <-t.done:
				_ = c.Close()
				return
			}
		case <-t.done:
			return
		}
	}
}

func (t *observingTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return t.inner.FinalAdvertiseAddr(ip, port)
}

func (t *observingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	t.obs.packet(b)
	return t.inner.WriteTo(b, addr)
}

func (t *observingTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	t.obs.packet(b)
	return t.inner.WriteToAddress(b, a)
}

func (t *observingTransport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }
func (t *observingTransport) StreamCh() <-chan net.Conn           { return t.streamCh }

func (t *observingTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	c, err := t.inner.DialTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	return &obsConn{Conn: c, obs: t.obs}, nil
}

func (t *observingTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	c, err := t.inner.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	return &obsConn{Conn: c, obs: t.obs}, nil
}

func (t *observingTransport) Shutdown() error {
	t.once.Do(func() { close(t.done) })
	return t.inner.Shutdown()
}

// maxObserved bounds how much of one stream direction is buffered for
// decoding; bigger transfers are simply not observed.
const maxObserved = 8 << 20

// obsConn tees both directions of a TCP connection into the decoder. Each
// direction is re-decoded after every chunk until it parses completely, so
// a push/pull is applied to the tracker as soon as memberlist has read it,
// before memberlist merges it (NotifyLeave for a node that left then finds
// the left state already recorded).
type obsConn struct {
	net.Conn
	obs    *observer
	mu     sync.Mutex
	rd, wr streamBuf
}

type streamBuf struct {
	buf  []byte
	done bool
}

func (c *obsConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.feed(&c.rd, p[:n])
	}
	return n, err
}

func (c *obsConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.feed(&c.wr, p[:n])
	}
	return n, err
}

func (c *obsConn) feed(sb *streamBuf, p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sb.done || len(sb.buf)+len(p) > maxObserved {
		return
	}
	sb.buf = append(sb.buf, p...)
	d := wire.DecodeStream(sb.buf, c.obs.keys(), c.obs.label)
	if d.Err != "" || len(d.Messages) == 0 || d.Messages[0].Err != "" {
		return // incomplete so far (or not decodable); wait for more
	}
	sb.done = true
	sb.buf = nil
	c.obs.apply(d)
}
