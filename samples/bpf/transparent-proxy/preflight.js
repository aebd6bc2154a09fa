// What main.js checks before it loads anything: each check that fails throws an error
// naming what is missing and how to get it, so Weir stops (exit code 255) with nothing
// loaded or attached, instead of failing later in the verifier or at attach with a bare
// errno.

// main.js's connect programs call bpf_get_ns_current_pid_tgid(), which cgroup programs may
// call from 6.10; SO_NETNS_COOKIE (5.14) is older.
var KERNEL = [6, 10]

// Loading programs needs CAP_BPF, attaching them to a cgroup CAP_NET_ADMIN, and the
// verifier refuses the programs' pointer use without CAP_PERFMON.
/** @type {[string, number][]} */
var CAPABILITIES = [['CAP_BPF', 39], ['CAP_NET_ADMIN', 12], ['CAP_PERFMON', 38]]

/** @returns {string | null} the kernel release (`5.15.0-91-generic`) when older than KERNEL */
function oldKernel() {
  var release = String(os.readFile('/proc/sys/kernel/osrelease')).trim()
  var v = release.split(/[.-]/).map(Number)
  return v[0] < KERNEL[0] || (v[0] === KERNEL[0] && v[1] < KERNEL[1]) ? release : null
}

/**
 * Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on
 * hybrid systems): field 5 of the mountinfo line whose filesystem type is cgroup2.
 * @returns {string}
 */
function cgroup2Root() {
  var lines = os.readFile('/proc/self/mountinfo').toString().split('\n')
  for (var line of lines) {
    var halves = line.split(' - ')
    if (halves.length === 2 && halves[1].split(' ')[0] === 'cgroup2') {
      return line.split(' ')[4]
    }
  }
  throw new Error('no cgroup v2 is mounted (none in /proc/self/mountinfo); mount one, e.g. mount -t cgroup2 none /sys/fs/cgroup')
}

/** @returns {string[]} the capabilities of CAPABILITIES missing from this process's effective set. */
function missingCapabilities() {
  var status = String(os.readFile('/proc/self/status'))
  var hex = (status.match(/^CapEff:\s*([0-9a-f]+)$/m) || [])[1]
  if (!hex) return []
  // 64 bits in hex: two halves, since bit operations in JS take 32 bits.
  var high = Number.parseInt(hex.slice(0, -8) || '0', 16)
  var low = Number.parseInt(hex.slice(-8), 16)
  return CAPABILITIES.filter(([, bit]) => ((bit < 32 ? low >>> bit : high >>> (bit - 32)) & 1) === 0).map(([name]) => name)
}

/**
 * Throws naming the first thing missing: a recent enough kernel, cgroup v2, the cgroup
 * itself, the capabilities. Another program on the same hooks is checked by main.js once
 * its programs are loaded (not attached), as it must tell them from its own.
 * @param {string | undefined} cgroup CGROUP as given; absent: the root of cgroup v2
 * @returns {{ root: string, cgroup: string }}
 */
export function preflight(cgroup) {
  var release = oldKernel()
  if (release) {
    throw new Error(`Linux ${KERNEL.join('.')} or later is needed (cgroup programs call bpf_get_ns_current_pid_tgid); this is ${release}`)
  }
  var root = cgroup2Root()
  var dir = (cgroup || root).replace(/\/+$/, '')
  if (!os.stat(dir + '/cgroup.procs')) {
    throw new Error(`CGROUP ${dir} is not a cgroup v2 directory (cgroup v2 is mounted at ${root})`)
  }
  var missing = missingCapabilities()
  if (missing.length > 0) {
    throw new Error(`this process lacks ${missing.join(', ')}; run as root or grant ${CAPABILITIES.map(c => c[0]).join(', ')} (see deploy/)`)
  }
  return { root: root, cgroup: dir }
}
