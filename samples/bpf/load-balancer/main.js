#!/usr/bin/env weir

// A layer-4 load balancer in XDP: connections to each balanced address and port in
// config.yml are spread over its targets by weight. The XDP program goes on every link, and
// learns from the maps this script keeps in step with the kernel's links, addresses,
// neighbours and routes (through rtnetlink); config.yml is read again whenever it changes.
// See README.md.

import { follow, setXDP } from '../rtnl.js'

var TCP = 6

var obj = bpf.object(pipy.load('load-balancer.o'))
var prog = obj.programs.find(p => p.name === 'balance').load('BPF_PROG_TYPE_XDP')
var maps = Object.fromEntries(obj.maps.map(m => [m.name, m]))
var RING = maps.balancers.valueType.reflect().ring.count

var ipv4 = text => ({ u8: new Netmask(text).toBytes() })
var macBytes = text => text.split(':').map(h => Number.parseInt(h, 16))
var isIPv4 = text => new Netmask(text).version === 4

// Upstream ids (what the rings hold) by 'ip:port', from a pool so freed ones come back.
var upstreamIds = {}
var lastId = 0
var idPool = new algo.ResourcePool(() => ++lastId)

function upstreamId(ip, port) {
  var key = `${ip}:${port}`
  if (!(key in upstreamIds)) {
    var id = upstreamIds[key] = idPool.allocate()
    maps.upstreams.update({ i: id }, { ip: ipv4(ip), port })
  }
  return upstreamIds[key]
}

// The balancers in the map, by 'ip:port'.
var balancers = {}

function configure() {
  var wanted = {}
  var used = {}
  for (var { ip, port, targets } of YAML.decode(pipy.load('config.yml')).balancers) {
    var ids = targets.map(t => ({ id: upstreamId(t.ip, t.port), weight: t.weight }))
    ids.forEach(t => used[t.id] = true)
    var ring = new algo.LoadBalancer(ids, { weight: t => t.weight }).schedule(RING).map(t => t.id)
    maps.balancers.update({ addr: { ip: ipv4(ip), port }, proto: TCP }, { ring })
    wanted[`${ip}:${port}`] = { ip, port }
    console.info(`balancing ${ip}:${port} over ${targets.map(t => `${t.ip}:${t.port}*${t.weight}`).join(' ')}`)
  }
  for (var [key, { ip, port }] of Object.entries(balancers)) {
    if (key in wanted) continue
    maps.balancers.delete({ addr: { ip: ipv4(ip), port }, proto: TCP })
    console.info(`no longer balancing ${key}`)
  }
  for (var [key, id] of Object.entries(upstreamIds)) {
    if (used[id]) continue
    maps.upstreams.delete({ i: id })
    idPool.free(id)
    delete upstreamIds[key]
  }
  balancers = wanted
}

// Links with the program on them, by index: what the links map holds for each.
var links = {}

function link(index) {
  if (!(index in links)) {
    setXDP(index, prog.fd)
    links[index] = {}
  }
  return links[index]
}

function onLink(change, l) {
  if (change === 'del') {
    maps.links.delete({ i: l.index })
    delete links[l.index]
    return
  }
  if (!l.mac) return
  var known = link(l.index)
  known.mac = macBytes(l.mac)
  maps.links.update({ i: l.index }, known)
}

function onAddress(change, a) {
  if (change !== 'new' || a.family !== 2) return
  var known = link(a.index)
  known.ip = ipv4(a.address)
  maps.links.update({ i: a.index }, known)
}

function onRoute(change, r) {
  if (r.family !== 2 || !r.gateway) return
  var key = { prefixlen: r.dstLen, ip: ipv4(r.dst || '0.0.0.0') }
  change === 'new' ? maps.routes.update(key, ipv4(r.gateway)) : maps.routes.delete(key)
}

function onNeighbour(change, n) {
  if (!n.dst || !isIPv4(n.dst)) return
  if (change === 'new' && n.mac) {
    maps.neighbours.update(ipv4(n.dst), { index: n.index, mac: macBytes(n.mac) })
  } else {
    maps.neighbours.delete(ipv4(n.dst))
  }
}

function watchConfig() {
  pipy.watch('config.yml').then(() => {
    configure()
    watchConfig()
  })
}

configure()
follow({ link: onLink, address: onAddress, route: onRoute, neighbour: onNeighbour })
watchConfig()

// The requests go out after this returns; Weir sends them before it ends.
pipy.exit(() => Object.keys(links).forEach(index => setXDP(Number(index), -1)))
