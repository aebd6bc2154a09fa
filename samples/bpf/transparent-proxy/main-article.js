#!/usr/bin/env weir

// The older variant of main.js: instead of being recognised by its process id, the proxy
// moves itself into a cgroup of its own, CGROUP/weir, and the programs leave every connect
// made from that cgroup alone. Traffic, output and options are the same as main.js.

var PROXY_PORT = Number.parseInt(os.env.PROXY_PORT || '18000')
var CGROUP = os.env.CGROUP || cgroup2Root()
var CGROUP_WEIR = `${CGROUP}/weir`
var SOL_IP = 0
var SO_ORIGINAL_DST = 80

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

var obj = bpf.object(pipy.load('transparent-proxy.o'))
var progCgConnect4 = obj.programs.find(p => p.name === 'cg_connect4').load('BPF_PROG_TYPE_CGROUP_SOCK_ADDR', 'BPF_CGROUP_INET4_CONNECT')
var progCgSockOps = obj.programs.find(p => p.name === 'cg_sock_ops').load('BPF_PROG_TYPE_SOCK_OPS')
var progCgSockOpt = obj.programs.find(p => p.name === 'cg_sock_opt').load('BPF_PROG_TYPE_CGROUP_SOCKOPT', 'BPF_CGROUP_GETSOCKOPT')

var sockaddr_in = new CStruct({
  sin_family: 'uint16',
  sin_port: 'uint8[2]',
  sin_addr: 'uint8[4]',
})

// The move has to happen before the listening socket exists: a socket belongs to the cgroup
// it was created in. CGROUP/weir is below CGROUP, so getsockopt on accepted sockets is
// still answered by the programs attached there.
os.mkdir(CGROUP_WEIR, { recursive: true })
os.write(`${CGROUP_WEIR}/cgroup.procs`, pipy.pid.toString())

obj.maps.find(m => m.name === 'map_config').update(
  { i: 0 }, {
    proxy_port: PROXY_PORT,
    pipy_cgroup_id: bpf.cgroup(CGROUP_WEIR),
  }
)

bpf.attach('BPF_CGROUP_INET4_CONNECT', progCgConnect4.fd, CGROUP)
bpf.attach('BPF_CGROUP_SOCK_OPS', progCgSockOps.fd, CGROUP)
bpf.attach('BPF_CGROUP_GETSOCKOPT', progCgSockOpt.fd, CGROUP)
console.info(`intercepting TCP connects in ${CGROUP} to port ${PROXY_PORT}, proxy in ${CGROUP_WEIR}`)

pipy.exit(
  function () {
    bpf.detach('BPF_CGROUP_INET4_CONNECT', progCgConnect4.fd, CGROUP)
    bpf.detach('BPF_CGROUP_SOCK_OPS', progCgSockOps.fd, CGROUP)
    bpf.detach('BPF_CGROUP_GETSOCKOPT', progCgSockOpt.fd, CGROUP)
    // With several worker threads each one runs this; the first does the work.
    try {
      os.write(`${CGROUP}/cgroup.procs`, pipy.pid.toString())
      os.rmdir(CGROUP_WEIR, { force: true })
    } catch (e) {}
  }
)

var $targetAddr
var $targetPort

pipy.listen(PROXY_PORT, $=>$
  .onStart(
    function (ib) {
      var od = new Data
      var err = ib.socket.getRawOption(SOL_IP, SO_ORIGINAL_DST, od)
      var sa = sockaddr_in.decode(od)
      var addr = sa.sin_addr.join('.')
      var port = (sa.sin_port[0] << 8) | sa.sin_port[1]
      var from = `${ib.remoteAddress}:${ib.remotePort}`
      if (err !== 0 || od.size < sockaddr_in.size) {
        console.error(`closing direct connection from ${from}: no original destination (errno ${err})`)
        $targetAddr = undefined
      } else if (addr.startsWith('127.') && port === PROXY_PORT) {
        console.error(`closing connection from ${from}: its original destination is the proxy itself`)
        $targetAddr = undefined
      } else {
        $targetAddr = addr
        $targetPort = port
      }
    }
  )
  .fork().to($=>$
    .decodeHTTPRequest()
    .handleMessageStart(
      ({ head }) => println(head.method, head.path, head.headers.host)
    )
  )
  .connect(() => {
    if (!$targetAddr) throw new Error('connection not forwarded')
    return `${$targetAddr}:${$targetPort}`
  })
  .fork().to($=>$
    .decodeHTTPResponse()
    .handleMessageStart(
      ({ head }) => println(' ', head.status, head.statusText)
    )
  )
)
