// Routing netlink for the samples in this folder: dumps the kernel's links, addresses,
// routes and neighbours, follows their changes, and puts an XDP program on a link. All of
// it goes through encodeNetlink/decodeNetlink and `connect` with protocol 'netlink'; the
// message layouts are those of linux/rtnetlink.h, linux/if_addr.h and linux/neighbour.h.

var NLMSG_DONE = 3
var NLM_F_REQUEST = 0x01
var NLM_F_ACK = 0x04
var NLM_F_DUMP = 0x300

// Message types, by what they carry: [new, del, get].
var KINDS = {
  link: [16, 17, 18],
  address: [20, 21, 22],
  route: [24, 25, 26],
  neighbour: [28, 29, 30],
}
var RTM_SETLINK = 19

// RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE
var GROUPS = 0x01 | 0x04 | 0x10 | 0x40

var IFLA_ADDRESS = 1, IFLA_IFNAME = 3, IFLA_XDP = 43
var IFLA_XDP_FD = 1, IFLA_XDP_FLAGS = 3, XDP_FLAGS_SKB_MODE = 2
var IFA_ADDRESS = 1
var RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5
var NDA_DST = 1, NDA_LLADDR = 2

var HEADS = {
  link: new CStruct({ family: 'uint8', pad: 'uint8', type: 'uint16', index: 'int32', flags: 'uint32', change: 'uint32' }),
  address: new CStruct({ family: 'uint8', prefixlen: 'uint8', flags: 'uint8', scope: 'uint8', index: 'uint32' }),
  route: new CStruct({
    family: 'uint8', dstLen: 'uint8', srcLen: 'uint8', tos: 'uint8',
    table: 'uint8', protocol: 'uint8', scope: 'uint8', type: 'uint8', flags: 'uint32',
  }),
  neighbour: new CStruct({ family: 'uint8', pad1: 'uint8', pad2: 'uint16', index: 'int32', state: 'uint16', flags: 'uint8', type: 'uint8' }),
}
var rtattr = new CStruct({ len: 'uint16', type: 'uint16' })
var int32 = new CStruct({ i: 'int32' })

var pad4 = n => (4 - n % 4) % 4

// The attributes after a message's fixed head, by type (nesting flags cleared).
function attributes(data) {
  var found = {}
  repeat(() => {
    if (data.size < rtattr.size) return true
    var { len, type } = rtattr.decode(data.shift(rtattr.size))
    if (len < rtattr.size) return true
    found[type & 0x3fff] = data.shift(len - rtattr.size)
    data.shift(pad4(len))
  })
  return found
}

// Attributes from { type: Data | nested attributes }.
function encodeAttributes(attrs) {
  var out = new Data
  for (var [type, value] of Object.entries(attrs)) {
    var body = value instanceof Data ? value : encodeAttributes(value)
    out.push(rtattr.encode({ len: rtattr.size + body.size, type: Number(type) }))
    out.push(body)
    out.push(new Data(new Array(pad4(body.size)).fill(0)))
  }
  return out
}

var text = d => d && d.toString().replace(/\0+$/, '')
var mac = d => d && d.toArray().map(b => b.toString(16).padStart(2, '0')).join(':')
var ip = d => d && new Netmask(d.size === 4 ? 32 : 128, d.toArray()).ip
var u32 = d => d && d.toArray().reduceRight((n, b) => n * 256 + b, 0)

// What each kind of message says, read from its body.
var READERS = {
  link: (head, a) => ({ index: head.index, flags: head.flags, name: text(a[IFLA_IFNAME]), mac: mac(a[IFLA_ADDRESS]) }),
  address: (head, a) => ({ index: head.index, family: head.family, prefixlen: head.prefixlen, address: ip(a[IFA_ADDRESS]) }),
  route: (head, a) => ({ family: head.family, dst: ip(a[RTA_DST]), dstLen: head.dstLen, gateway: ip(a[RTA_GATEWAY]), oif: u32(a[RTA_OIF]) }),
  neighbour: (head, a) => ({ index: head.index, family: head.family, dst: ip(a[NDA_DST]), mac: mac(a[NDA_LLADDR]) }),
}

// Requests that expect no answer but an ack, sent one after another on one socket.
var requests = []
var takers = []

pipeline($=>$
  .encodeNetlink()
  .connect('pid=0;groups=0', { protocol: 'netlink', netlinkFamily: 0 })
).process(() => requests.length > 0 ? requests.shift() : new Promise(r => takers.push(r)))

function request(msg) {
  takers.length > 0 ? takers.shift()(msg) : requests.push(msg)
}

// Calls `on[kind](change, what)` (change 'new' or 'del') for each link, address, route and
// neighbour the kernel has now, then for each change to them.
export function follow(on) {
  function dispatch(msg) {
    for (var [kind, [add, del]] of Object.entries(KINDS)) {
      if (msg.head.type !== add && msg.head.type !== del) continue
      var body = msg.body
      var head = HEADS[kind].decode(body.shift(HEADS[kind].size))
      on[kind]?.(msg.head.type === add ? 'new' : 'del', READERS[kind](head, attributes(body)))
    }
  }

  var dump = pipeline($=>$
    .onStart(msg => msg)
    .encodeNetlink()
    .connect('pid=0;groups=0', { protocol: 'netlink', netlinkFamily: 0 })
    .decodeNetlink()
    .handleMessage(msg => msg.head.type !== NLMSG_DONE && dispatch(msg))
  )
  for (var [kind, [, , get]] of Object.entries(KINDS)) {
    var head = HEADS[kind].encode({})
    dump.spawn(new Message({ type: get, flags: NLM_F_REQUEST | NLM_F_DUMP }, head))
  }

  pipeline($=>$
    .onStart(new Data)
    .connect('pid=0;groups=0', { protocol: 'netlink', netlinkFamily: 0, bind: `pid=0;groups=${GROUPS}` })
    .decodeNetlink()
    .handleMessage(dispatch)
  ).spawn()
}

// Puts the XDP program `fd` on link `index` in generic (skb) mode, or takes it off (fd -1).
export function setXDP(index, fd) {
  var head = HEADS.link.encode({ index })
  head.push(encodeAttributes({
    [IFLA_XDP]: {
      [IFLA_XDP_FD]: int32.encode({ i: fd }),
      [IFLA_XDP_FLAGS]: int32.encode({ i: XDP_FLAGS_SKB_MODE }),
    },
  }))
  request(new Message({ type: RTM_SETLINK, flags: NLM_F_REQUEST | NLM_F_ACK }, head))
}
