// Command peer is a real hashicorp/memberlist node for swimlib's interop
// tests. It is driven by flags and by JSON-line commands on stdin, and
// reports JSON lines on stdout (one object per line); memberlist's own logs
// go to stderr.
//
// Build (from /work/main/interop): go build -o bin/peer .
//
// Flags: see -help. Commands (stdin), one JSON object per line:
//
//	{"cmd":"broadcast","payload":"text"|"payload_b64":"..","topic":"t"}
//	{"cmd":"send","to":"node","payload"|"payload_b64":..,"topic":"t","reliable":true}
//	{"cmd":"join","seeds":["127.0.0.1:7946"]}
//	{"cmd":"update_meta","meta":"text"}
//	{"cmd":"leave","timeout":"2s"}
//	{"cmd":"members"}
//	{"cmd":"ping","name":"node","addr":"127.0.0.1:7946"}
//	{"cmd":"shutdown"}
//
// Events (stdout): start, join, leave, update, message, members, sent,
// joined, left, ping, error, exit. Every command is answered by a "sent"
// event (after its own specific event, if any).
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
)

// emitter serialises events to stdout from one goroutine. memberlist calls
// the delegates while holding its own locks, so they must never wait on a
// slow reader of our stdout; a deep queue decouples them (they only block
// if the reader falls 64k events behind).
type emitter struct {
	ch   chan any
	done chan struct{}
	mu   sync.Mutex
	shut bool
}

func newEmitter() *emitter {
	e := &emitter{ch: make(chan any, 65536), done: make(chan struct{})}
	go func() {
		defer close(e.done)
		enc := json.NewEncoder(os.Stdout) // unbuffered: one write per line
		enc.SetEscapeHTML(false)
		for v := range e.ch {
			if err := enc.Encode(v); err != nil {
				log.Printf("[ERR] peer: writing event: %v", err)
			}
		}
	}()
	return e
}

func (e *emitter) emit(v any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.shut {
		e.ch <- v
	}
}

// close flushes everything emitted so far; later events are discarded.
func (e *emitter) close() {
	e.mu.Lock()
	if !e.shut {
		e.shut = true
		close(e.ch)
	}
	e.mu.Unlock()
	<-e.done
}

func errVal(err error) any {
	if err == nil {
		return nil
	}
	return err.Error()
}

type keyList [][]byte

func (k *keyList) String() string { return fmt.Sprintf("%d keys", len(*k)) }
func (k *keyList) Set(s string) error {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("key is not standard base64: %v", err)
	}
	*k = append(*k, b)
	return nil
}

type options struct {
	name, bind, join, label, preset, meta string
	port, protocolVersion                 int
	dmin, dmax, dcur                      int
	compression, disableTCPPings          bool
	verifyIncoming, verifyOutgoing        bool
	run, membersInterval                  time.Duration
	pushPull, probeInterval, probeTimeout time.Duration
	gossipInterval                        time.Duration
	suspicionMult, retransmitMult         int
	keys                                  keyList
}

func parseFlags() *options {
	o := &options{}
	flag.StringVar(&o.name, "name", "", "node name (default: hostname)")
	flag.StringVar(&o.bind, "bind", "127.0.0.1", "bind address")
	flag.IntVar(&o.port, "port", 0, "bind port (0 = pick a free one)")
	flag.StringVar(&o.join, "join", "", "comma-separated host:port seeds to join at start")
	flag.Var(&o.keys, "key", "encryption key, standard base64 (repeatable; first is primary)")
	flag.StringVar(&o.label, "label", "", "cluster label")
	flag.BoolVar(&o.compression, "compression", true, "EnableCompression")
	flag.StringVar(&o.preset, "preset", "local", "base config: lan|local|wan")
	flag.IntVar(&o.protocolVersion, "protocol-version", -1, "memberlist protocol version (default: memberlist's)")
	flag.IntVar(&o.dmin, "dmin", 0, "DelegateProtocolMin")
	flag.IntVar(&o.dmax, "dmax", 0, "DelegateProtocolMax")
	flag.IntVar(&o.dcur, "dcur", 0, "DelegateProtocolVersion")
	flag.StringVar(&o.meta, "meta", "", "node meta")
	flag.DurationVar(&o.run, "run", 0, "exit after this long (0 = until stdin EOF or SIGTERM/SIGINT)")
	flag.DurationVar(&o.membersInterval, "members-interval", 500*time.Millisecond, "how often to print the member list (0 = never)")
	flag.BoolVar(&o.disableTCPPings, "disable-tcp-pings", false, "DisableTcpPings")
	flag.DurationVar(&o.pushPull, "push-pull-interval", -1, "PushPullInterval (0 = disabled; negative = preset)")
	flag.DurationVar(&o.probeInterval, "probe-interval", -1, "ProbeInterval (negative = preset)")
	flag.DurationVar(&o.probeTimeout, "probe-timeout", -1, "ProbeTimeout (negative = preset)")
	flag.DurationVar(&o.gossipInterval, "gossip-interval", -1, "GossipInterval (negative = preset)")
	flag.IntVar(&o.suspicionMult, "suspicion-mult", -1, "SuspicionMult (negative = preset)")
	flag.IntVar(&o.retransmitMult, "retransmit-mult", -1, "RetransmitMult (negative = preset)")
	flag.BoolVar(&o.verifyIncoming, "verify-incoming", true, "GossipVerifyIncoming")
	flag.BoolVar(&o.verifyOutgoing, "verify-outgoing", true, "GossipVerifyOutgoing")
	flag.Parse()
	return o
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

func buildConfig(o *options) (*memberlist.Config, error) {
	var conf *memberlist.Config
	switch o.preset {
	case "lan":
		conf = memberlist.DefaultLANConfig()
	case "local":
		conf = memberlist.DefaultLocalConfig()
	case "wan":
		conf = memberlist.DefaultWANConfig()
	default:
		return nil, fmt.Errorf("unknown preset %q", o.preset)
	}
	if o.name != "" {
		conf.Name = o.name
	}
	conf.LogOutput = os.Stderr
	conf.Label = o.label
	conf.EnableCompression = o.compression
	if o.protocolVersion >= 0 {
		conf.ProtocolVersion = uint8(o.protocolVersion)
	}
	conf.DelegateProtocolMin = uint8(o.dmin)
	conf.DelegateProtocolMax = uint8(o.dmax)
	conf.DelegateProtocolVersion = uint8(o.dcur)
	conf.DisableTcpPings = o.disableTCPPings
	conf.GossipVerifyIncoming = o.verifyIncoming
	conf.GossipVerifyOutgoing = o.verifyOutgoing
	if o.pushPull >= 0 {
		conf.PushPullInterval = o.pushPull
	}
	if o.probeInterval >= 0 {
		conf.ProbeInterval = o.probeInterval
	}
	if o.probeTimeout >= 0 {
		conf.ProbeTimeout = o.probeTimeout
	}
	if o.gossipInterval >= 0 {
		conf.GossipInterval = o.gossipInterval
	}
	if o.suspicionMult >= 0 {
		conf.SuspicionMult = o.suspicionMult
	}
	if o.retransmitMult >= 0 {
		conf.RetransmitMult = o.retransmitMult
	}
	if len(o.keys) > 0 {
		kr, err := memberlist.NewKeyring(o.keys, o.keys[0])
		if err != nil {
			return nil, err
		}
		conf.Keyring = kr
	}
	return conf, nil
}

// listen creates the real transport. Port 0 lets the kernel choose a TCP
// port and then binds UDP to the same number, which can collide, so retry
// a few times as memberlist itself does.
func listen(bind string, port int) (*memberlist.NetTransport, error) {
	tries := 1
	if port == 0 {
		tries = 10
	}
	var err error
	for i := 0; i < tries; i++ {
		var nt *memberlist.NetTransport
		nt, err = memberlist.NewNetTransport(&memberlist.NetTransportConfig{
			BindAddrs: []string{bind},
			BindPort:  port,
			Logger:    log.New(os.Stderr, "", log.LstdFlags),
		})
		if err == nil {
			return nt, nil
		}
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, err
}

type peer struct {
	m        *memberlist.Memberlist
	conf     *memberlist.Config
	del      *peerDelegate
	track    *tracker
	out      *emitter
	stopOnce sync.Once
	exitCh   chan struct{} // closed by the shutdown command
}

func main() {
	o := parseFlags()
	out := newEmitter()
	fail := func(err error) {
		out.emit(map[string]any{"event": "error", "error": err.Error()})
		out.emit(map[string]any{"event": "exit"})
		out.close()
		os.Exit(1)
	}

	conf, err := buildConfig(o)
	if err != nil {
		fail(err)
	}
	nt, err := listen(o.bind, o.port)
	if err != nil {
		fail(err)
	}
	port := nt.GetAutoBindPort()
	conf.BindAddr, conf.BindPort = o.bind, port
	conf.AdvertisePort = port

	track := newTracker()
	obs := &observer{track: track, label: conf.Label, keys: func() [][]byte {
		if conf.Keyring == nil {
			return nil
		}
		return conf.Keyring.GetKeys()
	}}
	conf.Transport = newObservingTransport(nt, obs)

	// The queue is created before the memberlist it serves, hence the
	// atomic pointer for NumNodes.
	var self atomic.Pointer[memberlist.Memberlist]
	queue := &memberlist.TransmitLimitedQueue{
		RetransmitMult: conf.RetransmitMult,
		NumNodes: func() int {
			if m := self.Load(); m != nil {
				return m.NumMembers()
			}
			return 1
		},
	}
	del := &peerDelegate{meta: []byte(o.meta), queue: queue, out: out}
	conf.Delegate = del
	conf.Events = &eventDelegate{out: out, track: track, self: conf.Name}

	addr, _, err := nt.FinalAdvertiseAddr("", port)
	if err != nil {
		fail(err)
	}
	// Printed before Create so it precedes the join event for ourselves.
	out.emit(map[string]any{
		"event":              "start",
		"name":               conf.Name,
		"addr":               addr.String(),
		"port":               port,
		"memberlist_version": memberlistVersion(),
		"protocol_version":   conf.ProtocolVersion,
	})
	m, err := memberlist.Create(conf)
	if err != nil {
		_ = nt.Shutdown()
		fail(err)
	}
	self.Store(m)
	p := &peer{m: m, conf: conf, del: del, track: track, out: out, exitCh: make(chan struct{})}

	if o.join != "" {
		p.doJoin(strings.Split(o.join, ","))
	}

	stopMembers := make(chan struct{})
	membersDone := make(chan struct{})
	go func() {
		defer close(membersDone)
		if o.membersInterval <= 0 {
			<-stopMembers
			return
		}
		t := time.NewTicker(o.membersInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.emitMembers()
			case <-stopMembers:
				return
			}
		}
	}()

	stdinEOF := make(chan struct{})
	go p.readCommands(stdinEOF)

	sigCh := make(chan os.Signal, 1)
	signal.Notify(sigCh, syscall.SIGTERM, syscall.SIGINT)
	var runCh <-chan time.Time
	if o.run > 0 {
		runCh = time.After(o.run)
	}
	// With -run set, stdin EOF does not end the run (the peer may be
	// started with </dev/null).
	eofCh := stdinEOF
	if o.run > 0 {
		eofCh = nil
	}
	select {
	case <-sigCh:
	case <-runCh:
	case <-eofCh:
	case <-p.exitCh:
	}
	close(stopMembers)
	<-membersDone
	p.shutdown()
	out.emit(map[string]any{"event": "exit"})
	out.close()
	os.Exit(0)
}

func (p *peer) shutdown() {
	p.stopOnce.Do(func() {
		if err := p.m.Shutdown(); err != nil {
			p.out.emit(map[string]any{"event": "error", "error": err.Error()})
		}
	})
}

func (p *peer) doJoin(seeds []string) error {
	n, err := p.m.Join(seeds)
	p.out.emit(map[string]any{"event": "joined", "n": n, "error": errVal(err)})
	return err
}

func (p *peer) emitMembers() {
	type member struct {
		Name        string `json:"name"`
		Addr        string `json:"addr"`
		Port        uint16 `json:"port"`
		State       string `json:"state"`
		Incarnation any    `json:"incarnation"`
	}
	list := []member{}
	current := map[string]bool{}
	for _, n := range p.m.Members() {
		current[n.Name] = true
		state, inc := p.track.memberView(n.Name)
		list = append(list, member{n.Name, n.Addr.String(), n.Port, state, inc})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	// Dead and left nodes (from NotifyLeave) follow, with the address
	// memberlist last reported; memberlist itself no longer lists them.
	for _, g := range p.track.goneNodes(current) {
		list = append(list, member{g.name, g.addr, g.port, g.state, g.inc})
	}
	p.out.emit(map[string]any{
		"event":       "members",
		"members":     list,
		"num_members": p.m.NumMembers(),
		"health":      p.m.GetHealthScore(),
	})
}

type command struct {
	Cmd        string   `json:"cmd"`
	Payload    *string  `json:"payload"`
	PayloadB64 *string  `json:"payload_b64"`
	Topic      *string  `json:"topic"`
	To         string   `json:"to"`
	Reliable   bool     `json:"reliable"`
	Seeds      []string `json:"seeds"`
	Meta       *string  `json:"meta"`
	Timeout    string   `json:"timeout"`
	Name       string   `json:"name"`
	Addr       string   `json:"addr"`
	Key        string   `json:"key"`
}

func (p *peer) readCommands(eof chan<- struct{}) {
	defer close(eof)
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var c command
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			p.out.emit(map[string]any{"event": "error", "error": "bad command: " + err.Error(), "line": line})
			continue
		}
		err := p.handle(&c)
		p.out.emit(map[string]any{"event": "sent", "cmd": c.Cmd, "ok": err == nil, "error": errVal(err)})
		if c.Cmd == "shutdown" && err == nil {
			close(p.exitCh)
			return
		}
	}
	if err := sc.Err(); err != nil {
		p.out.emit(map[string]any{"event": "error", "error": "stdin: " + err.Error()})
	}
}

// payload returns the command's payload, wrapped in the swimlib envelope
// when a topic is given.
func (p *peer) payload(c *command) ([]byte, error) {
	var b []byte
	switch {
	case c.PayloadB64 != nil:
		var err error
		if b, err = base64.StdEncoding.DecodeString(*c.PayloadB64); err != nil {
			return nil, fmt.Errorf("payload_b64: %v", err)
		}
	case c.Payload != nil:
		b = []byte(*c.Payload)
	default:
		return nil, errors.New("payload or payload_b64 required")
	}
	if c.Topic != nil {
		b = wrapEnvelope(*c.Topic, p.conf.Name, b, c.Cmd == "broadcast")
	}
	return b, nil
}

func (p *peer) handle(c *command) (err error) {
	// memberlist panics on Leave after Shutdown; a signal can shut the node
	// down while a command is running, so turn that into an error.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s failed: %v", c.Cmd, r)
		}
	}()
	switch c.Cmd {
	case "key_install", "key_use", "key_remove":
		// Runtime key rotation, as serf's install/use/remove-key do on every member.
		if p.conf.Keyring == nil {
			return errors.New("no keyring: start the peer with -key")
		}
		key, err := base64.StdEncoding.DecodeString(c.Key)
		if err != nil {
			return fmt.Errorf("key: %v", err)
		}
		switch c.Cmd {
		case "key_install":
			return p.conf.Keyring.AddKey(key)
		case "key_use":
			return p.conf.Keyring.UseKey(key)
		default:
			return p.conf.Keyring.RemoveKey(key)
		}
	case "broadcast":
		b, err := p.payload(c)
		if err != nil {
			return err
		}
		p.del.queue.QueueBroadcast(&userBroadcast{msg: b})
		return nil
	case "send":
		b, err := p.payload(c)
		if err != nil {
			return err
		}
		var target *memberlist.Node
		for _, n := range p.m.Members() {
			if n.Name == c.To {
				target = n
				break
			}
		}
		if target == nil {
			return fmt.Errorf("no member named %q", c.To)
		}
		if c.Reliable {
			return p.m.SendReliable(target, b)
		}
		return p.m.SendBestEffort(target, b)
	case "join":
		if len(c.Seeds) == 0 {
			return errors.New("seeds required")
		}
		return p.doJoin(c.Seeds)
	case "update_meta":
		if c.Meta == nil {
			return errors.New("meta required")
		}
		p.del.setMeta([]byte(*c.Meta))
		return p.m.UpdateNode(2 * time.Second)
	case "leave":
		timeout := 2 * time.Second
		if c.Timeout != "" {
			d, err := time.ParseDuration(c.Timeout)
			if err != nil {
				return fmt.Errorf("timeout: %v", err)
			}
			timeout = d
		}
		err := p.m.Leave(timeout)
		p.out.emit(map[string]any{"event": "left", "error": errVal(err)})
		return err
	case "members":
		p.emitMembers()
		return nil
	case "ping":
		addr, err := net.ResolveUDPAddr("udp", c.Addr)
		if err == nil {
			var rtt time.Duration
			rtt, err = p.m.Ping(c.Name, addr)
			ev := map[string]any{"event": "ping", "rtt_ms": nil, "error": errVal(err)}
			if err == nil {
				ev["rtt_ms"] = float64(rtt.Microseconds()) / 1000
			}
			p.out.emit(ev)
			return err
		}
		p.out.emit(map[string]any{"event": "ping", "rtt_ms": nil, "error": err.Error()})
		return err
	case "shutdown":
		p.shutdown()
		return nil
	default:
		return fmt.Errorf("unknown command %q", c.Cmd)
	}
}
