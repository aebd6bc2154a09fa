#!/usr/bin/env weir

// Transparent proxy for a cgroup: BPF programs send every TCP connect made in CGROUP (IPv4
// and IPv6) to this proxy, which looks up the original destination, connects there, and
// prints the HTTP request and response heads passing by. Weir may run inside CGROUP or
// anywhere else. See README.md.

import { ipBytes, prefix } from './address.js'
import { readScope, applyScope, describeScope } from './scope.js'
import { preflight } from './preflight.js'
import { sweepStale, sweepPeriod } from './sweep.js'

var PROXY_PORT = Number.parseInt(os.env.PROXY_PORT || '18000')
// Weir makes the onward connects as its own user and in its own cgroup, so egress rules
// written for the clients' user or cgroup do not stop them; DENY restores such rules here:
// destinations (addresses or prefixes, IPv4 or IPv6, comma-separated) that intercepted
// connects must not reach, e.g. DENY=169.254.169.254. Empty (the default): none.
var DENY = (os.env.DENY || '').split(',').map(s => s.trim()).filter(s => s !== '').map(t => prefix(t, 'DENY'))
var DENYING = DENY.length > 0
// A YAML (or JSON) file saying which connects are intercepted, by destination port,
// destination address and uid (see scope.js and README.md); read again when it changes.
// Empty (the default): all of them, as in the article.
var SCOPE = os.env.SCOPE || ''
// CLIENT_ADDRESS=1: the upstream connection leaves from the client's address instead of
// Weir's, so the server sees who connected (bind with IP_TRANSPARENT; a client address this
// host does not own needs the policy routing in README.md). Default: off, Weir's address.
var CLIENT_ADDRESS = os.env.CLIENT_ADDRESS === '1'
// Seconds between two sweeps of map_ports for entries nobody asked for (see sweep.js).
var SWEEP_PERIOD = sweepPeriod(os.env.SWEEP_PERIOD, 'SWEEP_PERIOD')
// The kernel, cgroup v2, CGROUP and the capabilities, before anything is loaded.
var CGROUP = preflight(os.env.CGROUP).cgroup
var IPV6 = loopbackHasIPv6()
var SOL_IP = 0
var SOL_IPV6 = 41
var SO_ORIGINAL_DST = 80
var IP6T_SO_ORIGINAL_DST = 80

function loopbackHasIPv6() {
  var f = '/proc/sys/net/ipv6/conf/lo/disable_ipv6'
  return os.stat(f) !== null && os.readFile(f).toString().trim() === '0'
}

// Another process with a connect program on CGROUP (a second proxy, or another tool that
// rewrites connects): each would redirect the other's redirections. Named by pid where a
// process holds the program's bpf link (the kernel lists each link in its holder's
// /proc/PID/fdinfo), by program id otherwise.
function otherConnectPrograms(ownProgIds) {
  var ids = bpf.attached('BPF_CGROUP_INET4_CONNECT', CGROUP)
    .concat(bpf.attached('BPF_CGROUP_INET6_CONNECT', CGROUP))
    .filter(id => ownProgIds.indexOf(id) < 0)
  if (ids.length === 0) return []
  var found = []
  for (var pid of os.readDir('/proc')) {
    if (!/^[0-9]+\/$/.test(pid)) continue
    var dir = `/proc/${pid}fdinfo/`
    var fds
    try { fds = os.readDir(dir) } catch (e) { continue }
    for (var fd of fds) {
      var info = os.stat(dir + fd) && os.readFile(dir + fd)
      var prog = info && info.toString().match(/prog_id:\t(\d+)/)
      if (prog && ids.indexOf(Number(prog[1])) >= 0) {
        var cmd = os.readFile(`/proc/${pid}cmdline`)
        found.push(`pid ${pid.slice(0, -1)} (${cmd ? cmd.toString().split('\0').join(' ').trim() : '?'})`)
        break
      }
    }
  }
  return found.length > 0 ? found : ids.map(id => `BPF program ${id}`)
}

var obj = bpf.object(pipy.load('transparent-proxy.o'))
var progCgConnect4 = obj.programs.find(p => p.name === 'cg_connect4').load('BPF_PROG_TYPE_CGROUP_SOCK_ADDR', 'BPF_CGROUP_INET4_CONNECT')
var progCgConnect6 = obj.programs.find(p => p.name === 'cg_connect6').load('BPF_PROG_TYPE_CGROUP_SOCK_ADDR', 'BPF_CGROUP_INET6_CONNECT')
var progCgSockOps = obj.programs.find(p => p.name === 'cg_sock_ops').load('BPF_PROG_TYPE_SOCK_OPS')
var mapPorts = obj.maps.find(m => m.name === 'map_ports')

// Two proxies on one cgroup would redirect each other's connections.
var others = otherConnectPrograms([progCgConnect4.id, progCgConnect6.id])
if (others.length > 0) {
  throw new Error(`${CGROUP} is already intercepted by ${others.join(', ')}; stop it first`)
}

// The proxy's own connects (to the original destinations) must not be redirected. When Weir
// runs outside CGROUP the programs never see them. Inside, the programs know Weir's process
// by what it says here: its id in its own PID namespace, and that namespace.
var pidns = bpf.pidNamespace()
obj.maps.find(m => m.name === 'map_config').update(
  { i: 0 }, {
    proxy_port: PROXY_PORT,
    ipv6: IPV6 ? 1 : 0,
    proxy_tgid: pipy.pid,
    netns_cookie: bpf.netnsCookie(),
    pidns_dev: pidns.dev,
    pidns_ino: pidns.ino,
  }
)

// Connects are sent here only while someone listens: the programs are attached once the
// listeners below are open (Weir opens them after the script has run, before any timer
// fires), and detached on exit while the listeners still accept (Weir runs pipy.exit
// callbacks before closing them). A connect redirected just before the detach is on its way
// to the accept queue: the callback waits a moment so that it is accepted, not reset.
// cg_sock_ops, which files the destination of a redirected connect as its SYN leaves, is
// attached before the connect programs and detached after them, so that no redirected
// connect misses it.
function attach() {
  try {
    bpf.attach('BPF_CGROUP_SOCK_OPS', progCgSockOps.fd, CGROUP)
    bpf.attach('BPF_CGROUP_INET4_CONNECT', progCgConnect4.fd, CGROUP)
    bpf.attach('BPF_CGROUP_INET6_CONNECT', progCgConnect6.fd, CGROUP)
  } catch (e) {
    console.error(`cannot attach to ${CGROUP}: ${e.message}`)
    pipy.exit(1)
    return
  }
  console.info(`intercepting TCP connects in ${CGROUP} to port ${PROXY_PORT}`)
}

// A bad scope file stops the start, naming the file and the value. A bad change while
// running is logged and the scope in force stays.
var scopeText = SCOPE ? String(os.readFile(SCOPE)) : ''
var initialScope = readScope(SCOPE)
applyScope(obj, initialScope)
if (SCOPE) console.info(`scope from ${SCOPE}: ${describeScope(initialScope)}`)

// Looks at the scope file twice a second and applies what changed.
function watchScope() {
  new Timeout('500ms').wait().then(() => {
    var text = String(os.readFile(SCOPE))
    if (text !== scopeText) {
      scopeText = text
      try {
        var scope = readScope(SCOPE)
        applyScope(obj, scope)
        console.info(`scope from ${SCOPE}: ${describeScope(scope)}`)
      } catch (e) {
        console.error(`${e.message}; the scope in force stays`)
      }
    }
    watchScope()
  })
}

new Timeout(0).wait().then(attach)
if (SCOPE) watchScope()
sweepStale(mapPorts, SWEEP_PERIOD)

pipy.exit(
  function () {
    bpf.detach('BPF_CGROUP_INET4_CONNECT', progCgConnect4.fd, CGROUP)
    bpf.detach('BPF_CGROUP_INET6_CONNECT', progCgConnect6.fd, CGROUP)
    return new Timeout('100ms').wait().then(
      () => bpf.detach('BPF_CGROUP_SOCK_OPS', progCgSockOps.fd, CGROUP)
    )
  }
)

// The DENY entry that covers an address of 16 bytes, or undefined.
function deniedBy(ip) {
  return DENY.find(rule => ip.every((b, i) => {
    var n = Math.min(8, Math.max(0, rule.bits - 8 * i))
    var mask = (0xff00 >> n) & 0xff
    return (b & mask) === (rule.ip[i] & mask)
  }))
}

// Where to connect for an address in map_ports' layout ({ ip: 16 bytes, port }), as text.
// This runs for every connection and Boa interprets it, where every operation counts (a
// loop, an object literal, a call to an Array method each cost more than the lines around
// them): so one expression tests for IPv4 and one template literal writes it
// (docs/benchmarks.md, "The cost of a connection").
function targetOf(dst) {
  var b = dst.ip
  if ((b[0] | b[1] | b[2] | b[3] | b[4] | b[5] | b[6] | b[7] | b[8] | b[9]) === 0 && b[10] === 0xff && b[11] === 0xff) {
    return `${b[12]}.${b[13]}.${b[14]}.${b[15]}:${dst.port}`
  }
  var groups = []
  for (var i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16))
  return '[' + groups.join(':') + ']:' + dst.port
}

// Whether an address of 16 bytes is loopback: 127.0.0.0/8, 0.0.0.0 (which also reaches
// this host), ::1 or ::.
function isLoopback(b) {
  var v4 = (b[0] | b[1] | b[2] | b[3] | b[4] | b[5] | b[6] | b[7] | b[8] | b[9]) === 0 && b[10] === 0xff && b[11] === 0xff
  if (v4) return b[12] === 127 || (b[12] | b[13] | b[14] | b[15]) === 0
  for (var i = 0; i < 15; i++) if (b[i] !== 0) return false
  return b[15] <= 1
}

// The key map_ports files a peer under: { ip: 16 bytes, port }. One object, filled in again
// for each connection (its ip array made once per peer address: a host's clients come from
// its own few addresses), which costs a fraction of building them anew each time.
var peerKey = { ip: null, port: 0 }
var peerIPs = {}
var peerIPCount = 0

function keyOf(ib) {
  var addr = ib.remoteAddress
  var ip = peerIPs[addr]
  if (!ip) {
    if (++peerIPCount > 1024) { peerIPs = {}; peerIPCount = 1 }
    ip = peerIPs[addr] = addr.indexOf(':') >= 0 ? ipBytes(addr) : [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff].concat(addr.split('.').map(Number))
  }
  peerKey.ip = ip
  peerKey.port = ib.remotePort
  return peerKey
}

var sockaddr_in = new CStruct({
  sin_family: 'uint16',
  sin_port: 'uint8[2]',
  sin_addr: 'uint8[4]',
})

var sockaddr_in6 = new CStruct({
  sin6_family: 'uint16',
  sin6_port: 'uint8[2]',
  sin6_flowinfo: 'uint32',
  sin6_addr: 'uint8[16]',
  sin6_scope_id: 'uint32',
})

// The original destination of an accepted connection as { ip: 16 bytes, port }, or null.
// The programs filed it in map_ports under the client's address and port, which are this
// connection's peer; it is taken out (lookupAndDelete is Weir's: one syscall, null when
// there is none). A connection the programs did not send may still have one that the
// kernel answers with getsockopt: iptables -j REDIRECT.
function originalDestination(ib) {
  var dst = mapPorts.lookupAndDelete(keyOf(ib))
  if (dst) return dst
  var od = new Data
  if (ib.remoteAddress.indexOf(':') < 0) {
    if (ib.socket.getRawOption(SOL_IP, SO_ORIGINAL_DST, od) !== 0 || od.size < sockaddr_in.size) return null
    var sa = sockaddr_in.decode(od)
    return { ip: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff].concat(sa.sin_addr), port: (sa.sin_port[0] << 8) | sa.sin_port[1] }
  }
  if (ib.socket.getRawOption(SOL_IPV6, IP6T_SO_ORIGINAL_DST, od) !== 0 || od.size < sockaddr_in6.size) return null
  var sa6 = sockaddr_in6.decode(od)
  return { ip: sa6.sin6_addr, port: (sa6.sin6_port[0] << 8) | sa6.sin6_port[1] }
}

var $target
var $client

// The client of an inbound connection as text, for the log lines above (only they need it).
function peer(ib) {
  return ib.remoteAddress.indexOf(':') < 0 ? `${ib.remoteAddress}:${ib.remotePort}` : `[${ib.remoteAddress}]:${ib.remotePort}`
}

/** @param {PipelineDesigner<Inbound>} $ */
function proxy($) {
  return $
    .onStart(
      function (ib) {
        var dst = originalDestination(ib)
        if (!dst) {
          // Not redirected here: someone connected to the proxy port itself.
          console.error(`closing connection from ${peer(ib)}: no original destination`)
          return new StreamEnd
        }
        if (dst.port === PROXY_PORT && isLoopback(dst.ip)) {
          console.error(`closing connection from ${peer(ib)}: its original destination is the proxy itself`)
          return new StreamEnd
        }
        var rule = DENYING && deniedBy(dst.ip)
        if (rule) {
          console.warn(`closing connection from ${peer(ib)} to ${targetOf(dst)}: denied by DENY (${rule.text})`)
          return new StreamEnd
        }
        $target = targetOf(dst)
        if (CLIENT_ADDRESS) $client = ib.remoteAddress
      }
    )
    .fork().to($=>$
      .decodeHTTPRequest()
      .handleMessageStart(
        ({ head }) => println(head.method, head.path, head.headers.host)
      )
    )
    .connect(() => $target, CLIENT_ADDRESS ? { bind: () => $client, transparent: true } : {})
    .fork().to($=>$
      .decodeHTTPResponse()
      .handleMessageStart(
        ({ head }) => println(' ', head.status, head.statusText)
      )
    )
}

// Loopback only: the programs send connections to 127.0.0.1 (and ::1); nobody else needs
// to reach this port.
pipy.listen(`127.0.0.1:${PROXY_PORT}`, proxy)
if (IPV6) pipy.listen(`[::1]:${PROXY_PORT}`, proxy)
