// Entries of map_ports that nobody will ask for.
//
// The programs remove an entry when the proxy asks for it, or when the client's socket closes
// before the proxy has accepted it. The second relies on the kernel calling cg_sock_ops as
// that socket closes, and now and then it does not: about one close in a few million goes
// unseen while other cgroups are being made or removed on the host (measured on Linux 6.18:
// a loop of mkdir and rmdir of an empty cgroup beside the intercepted one is enough). Such
// an entry would stay until a connect from the same address and port replaces it, and a
// host that sees many client addresses would slowly fill the map with them.
//
// An entry is filed as the client's SYN leaves and asked for as the proxy accepts: it lives
// for milliseconds. So one found again, with the same socket cookie, a whole period later is
// stale: sweepStale removes it. A client kept waiting in the accept queue for that long (a
// proxy stopped or stalled) loses its destination and is closed when accepted.

/**
 * Every `seconds`, removes the entries of `map` (map_ports) that the previous round found.
 * @param {any} map the bpf map map_ports
 * @param {number} seconds the period
 */
export function sweepStale(map, seconds) {
  var seen = {}
  function round() {
    new Timeout(`${seconds}s`).wait().then(() => {
      var now = {}
      for (var [key, value] of map.entries()) {
        var id = `${key.ip.join('.')} ${key.port} ${value.cookie}`
        if (seen[id]) {
          map.delete(key)
        } else {
          now[id] = true
        }
      }
      seen = now
      round()
    })
  }
  round()
}

/**
 * The sweep period in seconds from `text` (the environment variable `name`), 60 if empty.
 * @param {string | undefined} text
 * @param {string} name
 */
export function sweepPeriod(text, name) {
  if (!text) return 60
  var n = Number(text)
  if (!(n > 0) || n > 86400) throw new Error(`${name}=${text}: not a number of seconds between 0 and 86400`)
  return n
}
