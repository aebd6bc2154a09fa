// Run by tests/tests/js_api.rs as `weir tests/scripts/runtime-names.js`: prints the names of
// the JS values a worker's context has, in the notation of js-api/tools/api-names.js, so
// that the test can compare them with the declarations in js-api/. Everything is inside a
// function so that the script adds no globals of its own.

(function () {
  var lines = []

  // Own properties every function has, which declarations do not list.
  var intrinsic = ['length', 'name', 'prototype', 'caller', 'arguments']

  // Stand-ins for the Pipy names Weir does not have (runtime/src/js/unported.rs): they
  // throw when used, and are no name the runtime has.
  var unported = Symbol.for('weir.unported')
  function standIn(holder, k) {
    var v = Object.getOwnPropertyDescriptor(holder, k).value
    return typeof v === 'function' && Object.getOwnPropertyDescriptor(v, unported) !== undefined
  }

  // Namespace-like: a plain object (not an array) with at least one method.
  function hasMethods(v) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return false
    return Object.getOwnPropertyNames(v).some(k => typeof Object.getOwnPropertyDescriptor(v, k).value === 'function')
  }

  // Members of the instances of a class: its prototype's own properties.
  function instanceMembers(f, at) {
    var proto = Object.getOwnPropertyDescriptor(f, 'prototype')
    if (!proto || proto.value === null || typeof proto.value !== 'object') return
    for (var k of Object.getOwnPropertyNames(proto.value)) {
      if (k !== 'constructor' && !standIn(proto.value, k)) lines.push(`member ${at}#${k}`)
    }
  }

  // Properties of a namespace or function; accessors are listed but never called.
  // `walking` holds the objects being walked: `globalThis.globalThis` must not loop.
  var walking = new Set()
  function members(v, at) {
    if (walking.has(v)) return
    walking.add(v)
    for (var k of Object.getOwnPropertyNames(v)) {
      if (typeof v === 'function' && intrinsic.includes(k)) continue
      if (standIn(v, k)) continue
      var where = `${at}.${k}`
      lines.push(`member ${where}`)
      var d = Object.getOwnPropertyDescriptor(v, k)
      if (typeof d.value === 'function') {
        instanceMembers(d.value, where)
        members(d.value, where)
      } else if (hasMethods(d.value)) {
        members(d.value, where)
      }
    }
    walking.delete(v)
  }

  for (var name of Object.getOwnPropertyNames(globalThis)) {
    if (standIn(globalThis, name)) continue
    lines.push(`global ${name}`)
    var d = Object.getOwnPropertyDescriptor(globalThis, name)
    if (typeof d.value === 'function') {
      instanceMembers(d.value, name)
      members(d.value, name)
    } else if (hasMethods(d.value) && d.value !== globalThis) {
      members(d.value, name)
    }
  }

  // The configuration of the legacy style, which is no global.
  var config = Object.getPrototypeOf(pipy())
  for (var k of Object.getOwnPropertyNames(config)) {
    if (k !== 'constructor' && !standIn(config, k)) lines.push(`member pipy()#${k}`)
  }

  println(lines.sort().join('\n'))
})()
