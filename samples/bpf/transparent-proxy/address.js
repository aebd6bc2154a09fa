// Addresses as the programs' maps keep them: 16 bytes, IPv4 as ::ffff:a.b.c.d, so that IPv4
// and IPv4-mapped IPv6 destinations look the same.

/**
 * The 16 bytes of an IPv4 or IPv6 address in text.
 * @param {string} text
 * @returns {number[]}
 */
// Made once: Boa compiles a regular expression literal again each time it is evaluated.
var V4_TAIL = /^(?:.*:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/

export function ipBytes(text) {
  var v4 = text.match(V4_TAIL)
  var tail = v4 ? v4.slice(1).map(Number) : []
  if (v4 && text.indexOf(':') < 0) return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff].concat(tail)
  var head = v4 ? text.substring(0, text.lastIndexOf(':') + 1) + '0:0' : text
  var halves = head.split('::')
  /** @param {string} s */
  var groups = s => s === '' ? [] : s.split(':').map(g => Number.parseInt(g, 16))
  var left = groups(halves[0])
  var right = halves.length > 1 ? groups(halves[1]) : []
  var all = left.concat(new Array(8 - left.length - right.length).fill(0), right)
  /** @type {number[]} */
  var bytes = []
  all.forEach(g => bytes.push(g >> 8, g & 0xff))
  return v4 ? bytes.slice(0, 12).concat(tail) : bytes
}

/**
 * An address or prefix in text ('10.0.0.0/8', 'fd00::/8', '169.254.169.254') as
 * { text, ip, bits }, its length counted in the 16 bytes, so that an IPv4 prefix covers
 * IPv4-mapped destinations too. `what` names the setting in the error for a bad one.
 * @param {string} text
 * @param {string} what
 */
export function prefix(text, what) {
  var slash = text.indexOf('/')
  var addr = slash < 0 ? text : text.substring(0, slash)
  var v4 = addr.indexOf(':') < 0
  var bits = slash < 0 ? 128 : Number(text.substring(slash + 1)) + (v4 ? 96 : 0)
  var ip = ipBytes(addr)
  var valid = ip.length === 16 && ip.every(b => Number.isInteger(b) && b >= 0 && b <= 255)
  if (!valid || !Number.isInteger(bits) || bits < (v4 ? 96 : 0) || bits > 128) {
    throw new Error(`${what}: not an address or prefix: ${text}`)
  }
  return { text: text, ip: ip, bits: bits }
}
