#!/usr/bin/env weir

// Intercepts TCP traffic for the ports listed in config.yaml: a tc program on every link but
// loopback sends what arrives for an intercepted port to its interceptor's port instead, and
// gives the replies the intercepted port back. Links are found, and followed as they come
// and go, through rtnetlink; config.yaml is read again whenever it changes. See README.md.

import { follow } from '../rtnl.js'

// `tc` attaches a pinned program: the pin stays while links may still come.
var PIN = os.env.PIN || '/sys/fs/bpf/weir-port-interceptor'
var IFF_LOOPBACK = 1 << 3

var obj = bpf.object(pipy.load('port-interceptor.o'))
var prog = obj.programs.find(p => p.name === 'intercept').load('BPF_PROG_TYPE_SCHED_CLS')
var inbound = obj.maps.find(m => m.name === 'inbound')
var outbound = obj.maps.find(m => m.name === 'outbound')

// Links with the program on them, by name.
var hooked = {}
// Intercepted port -> interceptor port, as in the maps now.
var ports = {}

function tc(line) {
  pipy.exec(`tc ${line}`, {
    onExit: (code, err) => code !== 0 && console.error(`tc ${line}: exit ${code}: ${err.toString().trim()}`),
  })
}

function hook(link) {
  if (link.flags & IFF_LOOPBACK || link.name in hooked) return
  console.info(`hooking ${link.name} (index ${link.index})`)
  tc(`qdisc add dev ${link.name} clsact`)
  tc(`filter add dev ${link.name} ingress bpf direct-action object-pinned ${PIN}`)
  tc(`filter add dev ${link.name} egress bpf direct-action object-pinned ${PIN}`)
  hooked[link.name] = link
}

function unhook(name) {
  console.info(`unhooking ${name}`)
  // Removing the qdisc takes its filters with it.
  tc(`qdisc del dev ${name} clsact`)
  delete hooked[name]
}

// Brings the maps in line with config.yaml.
function configure() {
  var wanted = {}
  for (var { port, originalPort } of YAML.decode(pipy.load('config.yaml')).interceptors) {
    wanted[originalPort] = port
  }
  for (var [from, to] of Object.entries(ports)) {
    if (wanted[from] === to) continue
    inbound.delete({ i: from })
    outbound.delete({ i: to })
    console.info(`port ${from} no longer goes to ${to}`)
  }
  for (var [from, to] of Object.entries(wanted)) {
    inbound.update({ i: from }, { i: to })
    outbound.update({ i: to }, { i: from })
    console.info(`port ${from} goes to ${to}`)
  }
  ports = wanted
}

function watchConfig() {
  pipy.watch('config.yaml').then(() => {
    configure()
    watchConfig()
  })
}

configure()
// A pin left by a run that was killed would make bpf.pin fail.
os.rm(PIN, { force: true })
bpf.pin(PIN, prog.fd)

follow({
  // A deleted link takes its qdisc and filters with it.
  link: (change, link) => change === 'new' ? hook(link) : delete hooked[link.name],
})

watchConfig()

pipy.exit(() => {
  Object.keys(hooked).forEach(unhook)
  os.rm(PIN, { force: true })
})
