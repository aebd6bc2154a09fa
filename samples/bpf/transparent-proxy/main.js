#!/usr/bin/env weir

// Transparent proxy for a cgroup: three BPF programs send every IPv4 TCP connect made in
// CGROUP to this proxy, which asks for the original destination, connects there, and
// prints the HTTP request and response heads passing by. See README.md.

var PROXY_PORT = Number.parseInt(os.env.PROXY_PORT || '18000')
var CGROUP = os.env.CGROUP || cgroup2Root()
var SOL_IP = 0
var SO_ORIGINAL_DST = 80

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

var obj = bpf.object(pipy.load('transparent-proxy.o'))
var progCgConnect4 = obj.programs.find(p => p.name === 'cg_connect4').load('BPF_PROG_TYPE_CGROUP_SOCK_ADDR', 'BPF_CGROUP_INET4_CONNECT')
var progCgSockOps = obj.programs.find(p => p.name === 'cg_sock_ops').load('BPF_PROG_TYPE_SOCK_OPS')
var progCgSockOpt = obj.programs.find(p => p.name === 'cg_sock_opt').load('BPF_PROG_TYPE_CGROUP_SOCKOPT', 'BPF_CGROUP_GETSOCKOPT')

var sockaddr_in = new CStruct({
  sin_family: 'uint16',
  sin_port: 'uint8[2]',
  sin_addr: 'uint8[4]',
})

// The proxy's own connects (to the original destinations) must not be redirected.
obj.maps.find(m => m.name === 'map_config').update(
  { i: 0 },
  { proxy_port: PROXY_PORT, pipy_pid: pipy.pid }
)

bpf.attach('BPF_CGROUP_INET4_CONNECT', progCgConnect4.fd, CGROUP)
bpf.attach('BPF_CGROUP_SOCK_OPS', progCgSockOps.fd, CGROUP)
bpf.attach('BPF_CGROUP_GETSOCKOPT', progCgSockOpt.fd, CGROUP)
console.info(`intercepting TCP connects in ${CGROUP} to port ${PROXY_PORT}`)

pipy.exit(
  function () {
    bpf.detach('BPF_CGROUP_INET4_CONNECT', progCgConnect4.fd, CGROUP)
    bpf.detach('BPF_CGROUP_SOCK_OPS', progCgSockOps.fd, CGROUP)
    bpf.detach('BPF_CGROUP_GETSOCKOPT', progCgSockOpt.fd, CGROUP)
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
        // Not redirected here by the programs: someone connected to the proxy port itself.
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
