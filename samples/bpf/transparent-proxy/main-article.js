#!/usr/bin/env weir

// The older variant of main.js, closer to the article: the proxy moves itself into a cgroup
// of its own, CGROUP/weir, so that the getsockopt program attached to CGROUP also runs for
// the proxy's sockets, and asks each accepted connection for its original destination with
// getsockopt(SO_ORIGINAL_DST) (IP6T_SO_ORIGINAL_DST for IPv6). Connects made from
// CGROUP/weir are left alone. Traffic, output and options are the same as main.js.

import { sweepStale, sweepPeriod } from './sweep.js'

var PROXY_PORT = Number.parseInt(os.env.PROXY_PORT || '18000')
var CGROUP_ROOT = cgroup2Root()
var CGROUP = (os.env.CGROUP || CGROUP_ROOT).replace(/\/+$/, '')
var CGROUP_WEIR = `${CGROUP}/weir`
// Seconds between two sweeps of map_ports for entries nobody asked for (see sweep.js).
var SWEEP_PERIOD = sweepPeriod(os.env.SWEEP_PERIOD, 'SWEEP_PERIOD')
var IPV6 = loopbackHasIPv6()
var SOL_IP = 0
var SOL_IPV6 = 41
var SO_ORIGINAL_DST = 80
var IP6T_SO_ORIGINAL_DST = 80

// Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on
// hybrid systems): field 5 of the mountinfo line whose filesystem type is cgroup2.
function cgroup2Root() {
  var lines = os.readFile('/proc/self/mountinfo').toString().split('\n')
  for (var line of lines) {
    var halves = line.split(' - ')
    if (halves.length === 2 && halves[1].split(' ')[0] === 'cgroup2') {
      return line.split(' ')[4]
    }
  }
  throw new Error('no cgroup v2 mount in /proc/self/mountinfo')
}

// The cgroup v2 directory this process is in, from the `0::` line of /proc/self/cgroup.
function ownCgroup() {
  var line = os.readFile('/proc/self/cgroup').toString().split('\n').find(l => l.startsWith('0::'))
  return (CGROUP_ROOT + line.substring(3)).replace(/\/+$/, '')
}

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
var progCgSockOpt = obj.programs.find(p => p.name === 'cg_sock_opt').load('BPF_PROG_TYPE_CGROUP_SOCKOPT', 'BPF_CGROUP_GETSOCKOPT')

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

// Two proxies on one cgroup would redirect each other's connections.
var others = otherConnectPrograms([progCgConnect4.id, progCgConnect6.id])
if (others.length > 0) {
  throw new Error(`${CGROUP} is already intercepted by ${others.join(', ')}; stop it first`)
}

// The move has to happen before the listening socket exists: a socket belongs to the cgroup
// it was made in. CGROUP/weir is below CGROUP, so getsockopt on accepted sockets is
// answered by the program attached there.
var CGROUP_BEFORE = ownCgroup()
os.mkdir(CGROUP_WEIR, { recursive: true })
os.write(`${CGROUP_WEIR}/cgroup.procs`, pipy.pid.toString())

obj.maps.find(m => m.name === 'map_config').update(
  { i: 0 }, {
    proxy_port: PROXY_PORT,
    ipv6: IPV6 ? 1 : 0,
    proxy_cgroup_id: bpf.cgroup(CGROUP_WEIR),
    netns_cookie: bpf.netnsCookie(),
  }
)

// As in main.js: attached once the listeners are open, the connect programs last; detached
// while the listeners still accept, the connect programs first, the others after connects
// already redirected have had a moment to be accepted and answered.
function attach() {
  try {
    bpf.attach('BPF_CGROUP_SOCK_OPS', progCgSockOps.fd, CGROUP)
    bpf.attach('BPF_CGROUP_GETSOCKOPT', progCgSockOpt.fd, CGROUP)
    bpf.attach('BPF_CGROUP_INET4_CONNECT', progCgConnect4.fd, CGROUP)
    bpf.attach('BPF_CGROUP_INET6_CONNECT', progCgConnect6.fd, CGROUP)
  } catch (e) {
    console.error(`cannot attach to ${CGROUP}: ${e.message}`)
    pipy.exit(1)
    return
  }
  console.info(`intercepting TCP connects in ${CGROUP} to port ${PROXY_PORT}, proxy in ${CGROUP_WEIR}`)
}

new Timeout(0).wait().then(attach)
sweepStale(obj.maps.find(m => m.name === 'map_ports'), SWEEP_PERIOD)

pipy.exit(
  function () {
    bpf.detach('BPF_CGROUP_INET4_CONNECT', progCgConnect4.fd, CGROUP)
    bpf.detach('BPF_CGROUP_INET6_CONNECT', progCgConnect6.fd, CGROUP)
    return new Timeout('100ms').wait().then(
      function () {
        bpf.detach('BPF_CGROUP_SOCK_OPS', progCgSockOps.fd, CGROUP)
        bpf.detach('BPF_CGROUP_GETSOCKOPT', progCgSockOpt.fd, CGROUP)
        // With several worker threads each one runs this; the first does the work.
        try {
          os.write(`${CGROUP_BEFORE}/cgroup.procs`, pipy.pid.toString())
          os.rmdir(CGROUP_WEIR, { force: true })
        } catch (e) {}
      }
    )
  }
)

// Asks the kernel where an accepted connection was going: 'addr:port', or null.
function originalDestination(ib) {
  var od = new Data
  if (ib.remoteAddress.indexOf(':') < 0) {
    if (ib.socket.getRawOption(SOL_IP, SO_ORIGINAL_DST, od) !== 0 || od.size < sockaddr_in.size) return null
    var sa = sockaddr_in.decode(od)
    return { addr: sa.sin_addr.join('.'), port: (sa.sin_port[0] << 8) | sa.sin_port[1], loopback: sa.sin_addr[0] === 127 }
  }
  if (ib.socket.getRawOption(SOL_IPV6, IP6T_SO_ORIGINAL_DST, od) !== 0 || od.size < sockaddr_in6.size) return null
  var sa6 = sockaddr_in6.decode(od)
  var b = sa6.sin6_addr
  var groups = []
  for (var i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16))
  var host = groups.join(':')
  var mapped = /^(0:){5}ffff:/.test(host)
  return {
    addr: mapped ? b.slice(12).join('.') : `[${host}]`,
    port: (sa6.sin6_port[0] << 8) | sa6.sin6_port[1],
    loopback: mapped ? b[12] === 127 : /^(0:){7}1$/.test(host),
  }
}

var $target

/** @param {PipelineDesigner<Inbound>} $ */
function proxy($) {
  return $
    .onStart(
      function (ib) {
        var from = ib.remoteAddress.indexOf(':') < 0 ? `${ib.remoteAddress}:${ib.remotePort}` : `[${ib.remoteAddress}]:${ib.remotePort}`
        var dst = originalDestination(ib)
        if (!dst) {
          // Not redirected here by the programs: someone connected to the proxy port itself.
          console.error(`closing connection from ${from}: no original destination`)
          return new StreamEnd
        }
        if (dst.loopback && dst.port === PROXY_PORT) {
          console.error(`closing connection from ${from}: its original destination is the proxy itself`)
          return new StreamEnd
        }
        $target = `${dst.addr}:${dst.port}`
      }
    )
    .fork().to($=>$
      .decodeHTTPRequest()
      .handleMessageStart(
        ({ head }) => println(head.method, head.path, head.headers.host)
      )
    )
    .connect(() => $target)
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
