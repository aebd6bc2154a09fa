// On exit, sets lo down through a netlink request that a process() pipeline takes from a
// queue, as Pipy's load-balancer sample detaches its XDP programs: the request is only
// queued when the exit callback returns, and must still reach the kernel.

var ifinfomsg = new CStruct({
  family: 'uint8',
  pad: 'uint8',
  type: 'uint16',
  index: 'uint32',
  flags: 'uint32',
  change: 'uint32',
})

var queue = []
var waiting = []

function enqueue(msg) {
  waiting.length > 0 ? waiting.shift()(msg) : queue.push(msg)
}

function dequeue() {
  return queue.length > 0 ? queue.shift() : new Promise(r => waiting.push(r))
}

pipeline($=>$
  .encodeNetlink()
  .connect('pid=0;groups=0', { protocol: 'netlink', netlinkFamily: 0 })
).process(dequeue)

pipy.exit(() => {
  // RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK; IFF_UP cleared on lo (index 1). The index is a
  // string, as Object.keys gives it to the sample.
  ['1', '1'].forEach(index => enqueue(new Message(
    { type: 19, flags: 0x01 | 0x04 },
    ifinfomsg.encode({ index, flags: 0, change: 1 }),
  )))
  println('exiting')
})

println('ready')
