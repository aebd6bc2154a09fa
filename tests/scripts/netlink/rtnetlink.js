// Prints each rtnetlink message as `<kind> <type> <index> <name or address>`: links and
// addresses dumped (RTM_GETLINK, RTM_GETADDR), then changes heard on RTMGRP_LINK and
// RTMGRP_IPV4_IFADDR. Run by tests/tests/netlink.rs in a namespace of its own.
function attrs(bytes, from) {
  var found = {}
  return repeat(() => {
    if (from + 4 > bytes.length) return found
    var len = bytes[from] | (bytes[from + 1] << 8)
    var type = bytes[from + 2] | (bytes[from + 3] << 8)
    if (len < 4) return found
    found[type] = bytes.slice(from + 4, from + len)
    from += (len + 3) & ~3
  })
}

function show(msg) {
  var t = msg.head.type
  var b = msg.body.toArray()
  var index = b[4] | (b[5] << 8) | (b[6] << 16) | (b[7] << 24)
  if (t === 16 || t === 17) {
    var name = attrs(b, 16)[3]
    println('link', t, index, String.fromCharCode(...name.slice(0, name.length - 1)))
  } else if (t === 20 || t === 21) {
    var a = attrs(b, 8)
    println('addr', t, index, (a[2] || a[1]).join('.'))
  } else if (t === 3) {
    println('done', msg.head.seq)
  }
}

var query = pipeline($=>$
  .onStart(msg => msg)
  .encodeNetlink()
  .connect('pid=0;groups=0', { protocol: 'netlink', netlinkFamily: 0 })
  .decodeNetlink()
  .handleMessage(show)
)

var dump = 0x01 | 0x0100 | 0x0200
query.spawn(new Message({ type: 18, flags: dump, seq: 1 }, new Data(Array(16).fill(0))))
query.spawn(new Message({ type: 22, flags: dump, seq: 2 }, new Data(Array(8).fill(0))))

pipeline($=>$
  .onStart(new Data)
  .connect('pid=0;groups=0', { protocol: 'netlink', netlinkFamily: 0, bind: `pid=0;groups=${1|0x10}` })
  .decodeNetlink()
  .handleMessage(show)
).spawn()
