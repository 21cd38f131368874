package main

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// network is an in-memory "LAN" shared by the nodes of one scenario. Packets
// travel through Go channels and streams through net.Pipe, so every byte a
// node sends passes through our hands and can be recorded exactly as
// memberlist produced it (label, encryption, CRC and compression included:
// memberlist applies all of those before calling the transport).
type network struct {
	mu        sync.Mutex
	endpoints map[string]*memTransport // "ip:port" -> transport
	names     map[string]string        // "ip:port" -> node name
	// drop decides whether a packet ("udp") or a connection attempt ("tcp")
	// from one node to another is lost. nil = deliver everything.
	drop func(kind, from, to string) bool
	rec  *recorder
	// scenario stamps every record, so late writes from a scenario that is
	// shutting down are never attributed to the next one.
	scenario string
	conns    map[*recConn]struct{} // open stream ends, flushed at the end
}

func newNetwork(rec *recorder, scenario string) *network {
	return &network{
		scenario:  scenario,
		endpoints: map[string]*memTransport{},
		names:     map[string]string{},
		rec:       rec,
		conns:     map[*recConn]struct{}{},
	}
}

func (n *network) setDrop(f func(kind, from, to string) bool) {
	n.mu.Lock()
	n.drop = f
	n.mu.Unlock()
}

func (n *network) dropped(kind, from, to string) bool {
	n.mu.Lock()
	f := n.drop
	n.mu.Unlock()
	return f != nil && f(kind, n.nameOf(from), n.nameOf(to))
}

func (n *network) nameOf(addr string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if name, ok := n.names[addr]; ok {
		return name
	}
	return addr
}

func (n *network) lookup(addr string) *memTransport {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.endpoints[addr]
}

// closeAll closes stream ends that memberlist left open, so their bytes are
// recorded too.
func (n *network) closeAll() {
	n.mu.Lock()
	var open []*recConn
	for c := range n.conns {
		open = append(open, c)
	}
	n.mu.Unlock()
	for _, c := range open {
		_ = c.Close()
	}
}

// memTransport is one node's attachment to the in-memory network. It
// implements memberlist.NodeAwareTransport using only the public interface.
type memTransport struct {
	net      *network
	name     string
	ip       net.IP
	port     int
	addr     string
	cfg      recConfig
	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	done     chan struct{}
	once     sync.Once
}

var _ memberlist.NodeAwareTransport = (*memTransport)(nil)

// deliveryTimeout bounds how long a sender waits for a receiver that is not
// draining its channels (e.g. already shut down), like a full socket buffer.
const deliveryTimeout = time.Second

func (n *network) attach(name, ip string, port int, cfg recConfig) (*memTransport, error) {
	addr := net.JoinHostPort(ip, strconv.Itoa(port))
	t := &memTransport{
		net:      n,
		name:     name,
		ip:       net.ParseIP(ip).To4(),
		port:     port,
		addr:     addr,
		cfg:      cfg,
		packetCh: make(chan *memberlist.Packet, 1024),
		streamCh: make(chan net.Conn, 64),
		done:     make(chan struct{}),
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.endpoints[addr]; ok {
		return nil, fmt.Errorf("address %s already in use", addr)
	}
	n.endpoints[addr] = t
	n.names[addr] = name
	return t, nil
}

func (t *memTransport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	return t.ip, t.port, nil
}

func (t *memTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

func (t *memTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	now := time.Now()
	buf := append([]byte(nil), b...)
	drop := t.net.dropped("udp", t.addr, a.Addr)
	t.net.rec.add(record{
		Scenario:  t.net.scenario,
		Transport: "udp",
		From:      t.name,
		To:        t.net.nameOf(a.Addr),
		Bytes:     buf,
		Config:    t.cfg,
		Dropped:   drop,
	})
	if drop {
		return now, nil // lost on the wire, as UDP may be
	}
	dst := t.net.lookup(a.Addr)
	if dst == nil {
		return now, nil
	}
	pkt := &memberlist.Packet{
		Buf:       buf,
		From:      &net.UDPAddr{IP: t.ip, Port: t.port},
		Timestamp: time.Now(),
	}
	select {
	case dst.packetCh <- pkt:
	case <-dst.done:
	case <-time.After(deliveryTimeout):
	}
	return now, nil
}

func (t *memTransport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }
func (t *memTransport) StreamCh() <-chan net.Conn           { return t.streamCh }

func (t *memTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (t *memTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if t.net.dropped("tcp", t.addr, a.Addr) {
		return nil, errors.New("connection refused (dropped by scenario)")
	}
	dst := t.net.lookup(a.Addr)
	if dst == nil {
		return nil, errors.New("connection refused")
	}
	c1, c2 := net.Pipe()
	dstName := t.net.nameOf(a.Addr)
	client := t.net.newRecConn(c1, "dialer", t.name, dstName, t.cfg, &net.TCPAddr{IP: t.ip, Port: t.port}, &net.TCPAddr{IP: dst.ip, Port: dst.port})
	server := t.net.newRecConn(c2, "listener", dstName, t.name, dst.cfg, &net.TCPAddr{IP: dst.ip, Port: dst.port}, &net.TCPAddr{IP: t.ip, Port: t.port})
	if timeout <= 0 || timeout > deliveryTimeout {
		timeout = deliveryTimeout
	}
	select {
	case dst.streamCh <- server:
		return client, nil
	case <-dst.done:
	case <-time.After(timeout):
	}
	_ = client.Close()
	_ = server.Close()
	return nil, errors.New("connection refused (listener gone)")
}

func (t *memTransport) Shutdown() error {
	t.once.Do(func() {
		close(t.done)
		t.net.mu.Lock()
		delete(t.net.endpoints, t.addr)
		t.net.mu.Unlock()
	})
	return nil
}

// recConn records everything written to one end of a pipe; the bytes are
// stored as one stream record when the end is closed.
type recConn struct {
	net.Conn
	net      *network
	from, to string
	role     string
	cfg      recConfig
	local    net.Addr
	remote   net.Addr
	mu       sync.Mutex
	written  []byte
	once     sync.Once
}

func (n *network) newRecConn(c net.Conn, role, from, to string, cfg recConfig, local, remote net.Addr) *recConn {
	rc := &recConn{Conn: c, net: n, role: role, from: from, to: to, cfg: cfg, local: local, remote: remote}
	n.mu.Lock()
	n.conns[rc] = struct{}{}
	n.mu.Unlock()
	return rc
}

func (c *recConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.written = append(c.written, b...)
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// Addresses look like TCP ones so memberlist's log lines stay readable.
func (c *recConn) LocalAddr() net.Addr  { return c.local }
func (c *recConn) RemoteAddr() net.Addr { return c.remote }

func (c *recConn) Close() error {
	c.once.Do(func() {
		c.net.mu.Lock()
		delete(c.net.conns, c)
		c.net.mu.Unlock()
		c.mu.Lock()
		b := append([]byte(nil), c.written...)
		c.mu.Unlock()
		if len(b) > 0 {
			c.net.rec.add(record{Scenario: c.net.scenario, Transport: "tcp", Role: c.role, From: c.from, To: c.to, Bytes: b, Config: c.cfg})
		}
	})
	return c.Conn.Close()
}
