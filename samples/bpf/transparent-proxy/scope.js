// Which connects of CGROUP are intercepted (see README.md, "Scope"), from a YAML or JSON file:
//
//   ports: { exclude: [22, 5432] }          # or include: [80, 443]: only those
//   cidrs: { exclude: [10.0.0.0/8, 'fd00::/8'], include: [10.1.0.0/16] }
//   uids: { exclude: [0] }
//
// A connect out of scope by any of the three goes where it was going, untouched by Weir.
// For addresses the longest prefix listed decides. Where a kind has an `include` list, what
// it does not list is out of scope; otherwise everything not excluded is in. No file, or
// an empty one: everything is in scope.

import { prefix } from './address.js'

var INCLUDE = 1
var EXCLUDE = 2
// As many entries as the programs' scope maps hold.
var MAX_ENTRIES = 4096
var KINDS = ['ports', 'cidrs', 'uids']

/**
 * @typedef {{ key: any, text: string, rule: number }} Entry
 * @typedef {{ entries: Entry[], onlyIncluded: boolean }} Kind
 * @typedef {{ ports: Kind, cidrs: Kind, uids: Kind }} Scope
 */

/**
 * A value of the file as a map key of its kind, or an Error naming it.
 * @param {string} kind
 * @param {any} v
 * @param {string} where
 */
function keyOf(kind, v, where) {
  if (kind === 'cidrs') {
    var p = prefix(String(v), where)
    return { key: { prefixlen: p.bits, ip: p.ip }, text: p.text }
  }
  var max = kind === 'ports' ? 65535 : 4294967295
  if (!Number.isInteger(v) || v < (kind === 'ports' ? 1 : 0) || v > max) {
    throw new Error(`${where}: not a ${kind === 'ports' ? 'port' : 'uid'}: ${JSON.stringify(v)}`)
  }
  // A scalar key of a BPF map is written as an object with the one field `i`.
  return { key: { i: v }, text: String(v) }
}

/**
 * One kind's part of the file: { include?: [...], exclude?: [...] }.
 * @param {string} file
 * @param {string} kind
 * @param {any} part
 * @returns {Kind}
 */
function readKind(file, kind, part) {
  if (part === undefined || part === null) return { entries: [], onlyIncluded: false }
  if (typeof part !== 'object' || Array.isArray(part)) {
    throw new Error(`${file}: ${kind}: expected { include: [...], exclude: [...] }`)
  }
  /** @type {Entry[]} */
  var entries = []
  /** @type {Record<string, string>} */
  var seen = {}
  for (var list of Object.keys(part)) {
    if (list !== 'include' && list !== 'exclude') throw new Error(`${file}: ${kind}: unknown list '${list}'`)
    var values = part[list] || []
    if (!Array.isArray(values)) throw new Error(`${file}: ${kind}.${list}: expected a list`)
    for (var v of values) {
      var k = keyOf(kind, v, `${file}: ${kind}.${list}`)
      var id = JSON.stringify(k.key)
      if (seen[id] && seen[id] !== list) throw new Error(`${file}: ${kind}: ${k.text} is both included and excluded`)
      seen[id] = list
      entries.push({ key: k.key, text: k.text, rule: list === 'include' ? INCLUDE : EXCLUDE })
    }
  }
  if (entries.length > MAX_ENTRIES) throw new Error(`${file}: ${kind}: ${entries.length} entries, at most ${MAX_ENTRIES}`)
  return { entries: entries, onlyIncluded: entries.some(e => e.rule === INCLUDE) }
}

/**
 * The scope a file says; everything when `file` is empty. Throws an Error naming the file
 * and the value when the file cannot be read or says something that is not a scope.
 * @param {string} file
 * @returns {Scope}
 */
export function readScope(file) {
  var text = file ? os.readFile(file) : null
  if (file && text === null) throw new Error(`${file}: cannot read the scope file`)
  var doc
  try {
    doc = text ? YAML.parse(text.toString()) : null
  } catch (e) {
    throw new Error(`${file}: ${e.message}`)
  }
  if (doc === null || doc === undefined) doc = {}
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${file}: expected ports, cidrs and uids`)
  for (var k of Object.keys(doc)) {
    if (KINDS.indexOf(k) < 0) throw new Error(`${file}: unknown setting '${k}' (expected ports, cidrs or uids)`)
  }
  return {
    ports: readKind(file, 'ports', doc.ports),
    cidrs: readKind(file, 'cidrs', doc.cidrs),
    uids: readKind(file, 'uids', doc.uids),
  }
}

/**
 * A scope as one line for the log.
 * @param {Scope} scope
 */
export function describeScope(scope) {
  var parts = KINDS.map(kind => {
    /** @type {Kind} */
    var k = scope[/** @type {'ports'|'cidrs'|'uids'} */ (kind)]
    var inc = k.entries.filter(e => e.rule === INCLUDE).map(e => e.text)
    var exc = k.entries.filter(e => e.rule === EXCLUDE).map(e => e.text)
    var s = (inc.length ? ` only ${inc.join(',')}` : '') + (exc.length ? ` not ${exc.join(',')}` : '')
    return s ? `${kind}${s}` : ''
  }).filter(s => s)
  return parts.length ? parts.join('; ') : 'everything'
}

/**
 * Writes a scope into the programs' maps, replacing the one there: new and changed entries
 * first, then the ones that went, then which kinds include only what they list. A connect
 * made meanwhile sees, for each entry, the old rule or the new one.
 * @param {any} obj the bpf.object of transparent-proxy.o
 * @param {Scope} scope
 */
export function applyScope(obj, scope) {
  for (var kind of KINDS) {
    var map = obj.maps.find(/** @param {any} m */ m => m.name === `map_scope_${kind}`)
    var entries = scope[/** @type {'ports'|'cidrs'|'uids'} */ (kind)].entries
    var wanted = entries.map(e => JSON.stringify(e.key))
    entries.forEach(e => map.update(e.key, { i: e.rule }))
    for (var old of map.entries()) {
      if (wanted.indexOf(JSON.stringify(old[0])) < 0) map.delete(old[0])
    }
  }
  var config = obj.maps.find(/** @param {any} m */ m => m.name === 'map_config')
  var c = config.lookup({ i: 0 })
  c.only_included_ports = scope.ports.onlyIncluded ? 1 : 0
  c.only_included_cidrs = scope.cidrs.onlyIncluded ? 1 : 0
  c.only_included_uids = scope.uids.onlyIncluded ? 1 : 0
  config.update({ i: 0 }, c)
}
