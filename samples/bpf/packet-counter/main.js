#!/usr/bin/env weir

// Counts the IPv4 packets arriving on an interface (lo by default), by source address, with
// an XDP program, and prints the counts every second. Also serves `hello!` on PORT so that
// there is something to send. See README.md.

var IFACE = os.env.IFACE || 'lo'
var PORT = Number.parseInt(os.env.PORT || '8080')
// `ip` attaches a pinned program; the pin is only needed until it has.
var PIN = os.env.PIN || '/sys/fs/bpf/weir-packet-counter'

var obj = bpf.object(pipy.load('packet-counter.o'))
var prog = obj.programs.find(p => p.name === 'count_packets').load('BPF_PROG_TYPE_XDP')
var packets = obj.maps.find(m => m.name === 'packets')

// `ip` says why it failed on its stderr, which onExit gets.
function ip(...args) {
  pipy.exec(['ip', ...args], {
    onExit: (code, err) => {
      if (code !== 0) throw new Error(`ip ${args.join(' ')}: exit ${code}: ${err}`)
    },
  })
}

// A pin left by a run that was killed would make bpf.pin fail with EEXIST.
os.rm(PIN, { force: true })
bpf.pin(PIN, prog.fd)
try {
  ip('link', 'set', 'dev', IFACE, 'xdpgeneric', 'pinned', PIN)
} finally {
  // Attached, the program is held by the interface: the pin can go now, so that a kill -9
  // leaves none behind.
  os.rm(PIN, { force: true })
}

pipy.exit(() => ip('link', 'set', 'dev', IFACE, 'xdpgeneric', 'off'))

pipy.listen(PORT, $ => $.serveHTTP(new Message('hello!\n')))

function dump() {
  println('Packet stats:')
  for (var [k, v] of packets.entries()) {
    println(' ', k.ip.u8.join('.'), v.i)
  }
  new Timeout(1).wait().then(dump)
}

dump()
