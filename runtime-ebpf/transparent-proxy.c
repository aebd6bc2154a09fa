// SPDX-License-Identifier: GPL-2.0
//
// Transparent TCP proxying for one cgroup, for Weir's samples/bpf/transparent-proxy.
//
// cg_connect4 and cg_connect6 send every TCP connect made in the cgroup (IPv4, IPv4-mapped
// IPv6 and native IPv6) to the proxy on loopback and remember the original destination in
// the socket's own storage. When the connect goes out, cg_sock_ops files it under the client's local
// address and port, which is what the proxy sees as the peer of the connection it accepts.
// The proxy takes it from there: from user space through map_ports (main.js), or with
// getsockopt(SO_ORIGINAL_DST) answered by cg_sock_opt (main-article.js). Either way the entry
// is removed once the proxy has asked, so a client that sends and closes before the proxy
// has even accepted loses nothing, and the maps stay small. An entry the proxy will never
// ask about is removed when the client's socket closes without having reached the accept
// queue for good: a connect abandoned, refused or timed out in SYN_SENT, or a connection
// reset. A socket that sent its data and closed also reaches TCP_CLOSE, as it leaves
// FIN_WAIT2 or CLOSING for its TIME_WAIT stand-in, possibly before the proxy has accepted:
// its entry stays for the proxy. The kernel does not call cg_sock_ops at every such close:
// about one in a few million goes unseen while cgroups are made or removed elsewhere on the
// host. The proxy sweeps what is left (samples/bpf/transparent-proxy/sweep.js).
//
// Scope: map_scope_ports, map_scope_cidrs and map_scope_uids say which connects are in it
// (SCOPE_INCLUDE) and which are not (SCOPE_EXCLUDE), by destination port, destination
// address (longest prefix wins) and the connecting process's uid; a connect out of scope by
// any of the three goes where it was going. What a map does not list is in scope, unless
// the Config says that only what is included is. Empty maps (the default) leave everything
// in scope, as the article does. The proxy writes them, and may rewrite them while it runs.
//
// Left alone: the proxy's own connects (by its cgroup, or by its process id, both written by
// the proxy into map_config before it attaches), connects to the proxy port itself, sockets
// of other network namespaces and sockets the kernel made for itself.
//
// Build: clang -target bpf -O2 -g -I/usr/include/$(gcc -dumpmachine) -c transparent-proxy.c
// (or `cargo xtask build-ebpf`).

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// From linux/netfilter_ipv4.h, linux/netfilter_ipv6/ip6_tables.h and glibc, whose headers
// drag in glibc headers that do not build for BPF.
#define SOL_IP 0
#define SOL_IPV6 41
#define SO_ORIGINAL_DST 80
#define IP6T_SO_ORIGINAL_DST 80
#define AF_INET 2
#define AF_INET6 10

#define MAX_CONNECTIONS 65536

// One 32-bit load: LLVM merges neighbouring ctx fields into 64-bit loads, which the verifier
// rejects for the address arrays of the BPF contexts.
#define LOAD32(field) (*(volatile __u32 *)&(field))

// Just the fields used of the kernel's own structs; the loader relocates their offsets to the
// running kernel's (CO-RE), so nothing here depends on one kernel's layout.
struct file;
struct tcp_sock;
struct socket {
  struct file *file;
} __attribute__((preserve_access_index));
struct sock {
  struct socket *sk_socket;
} __attribute__((preserve_access_index));

// Written by the proxy at map_config[0]. A zero field is not used.
struct Config {
  // Where the proxy listens: 127.0.0.1 (and ::ffff:127.0.0.1) always, ::1 when ipv6 is set.
  __u16 proxy_port;
  __u16 ipv6;
  // The proxy's process id as its own PID namespace numbers it (what getpid() tells the
  // proxy), and that namespace's device and inode (of /proc/self/ns/pid): connects made by
  // this process are the proxy's own (main.js). Said by the proxy itself, so no other
  // process can claim it, and right inside a container, where the kernel's ids differ.
  __u32 proxy_tgid;
  // Connects from this cgroup are the proxy's own and are left alone (main-article.js).
  __u64 proxy_cgroup_id;
  // Only sockets of the proxy's network namespace are redirected: in another one, loopback
  // is another host's.
  __u64 netns_cookie;
  __u64 pidns_dev;
  __u64 pidns_ino;
  // Set: a port, address or uid that its scope map does not include is out of scope.
  __u8 only_included_ports;
  __u8 only_included_cidrs;
  __u8 only_included_uids;
  __u8 pad[5];
};

#define SCOPE_INCLUDE 1
#define SCOPE_EXCLUDE 2
#define SCOPE_ENTRIES 4096

// An address prefix of map_scope_cidrs, in the layout of struct Addr's ip: an IPv4 prefix
// of n bits is ::ffff:a.b.c.d/(96 + n), so it covers IPv4-mapped destinations too.
struct Prefix {
  __u32 prefixlen;
  __u8 ip[16];
};

// An endpoint: IPv6 address in network byte order, IPv4 as ::ffff:a.b.c.d; port in host byte
// order. The same layout for the original destination and for the client's local endpoint,
// so that an IPv4 client and an IPv4-mapped IPv6 client look the same to the proxy, which
// accepts both on 127.0.0.1.
struct Addr {
  __u8 ip[16];
  __u16 port;
  __u16 pad;
} __attribute__((aligned(4)));

// An original destination as map_ports keeps it, with the cookie of the client's socket:
// its close removes its own entry, never a later one of the same endpoint.
struct Orig {
  __u8 ip[16];
  __u16 port;
  __u16 pad;
  __u32 pad2;
  __u64 cookie;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct Config);
} map_config SEC(".maps");

// Destination port (host byte order) -> SCOPE_INCLUDE or SCOPE_EXCLUDE.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, SCOPE_ENTRIES);
  __type(key, __u16);
  __type(value, __u8);
} map_scope_ports SEC(".maps");

// Destination prefix -> SCOPE_INCLUDE or SCOPE_EXCLUDE; the longest matching prefix decides.
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(max_entries, SCOPE_ENTRIES);
  __type(key, struct Prefix);
  __type(value, __u8);
} map_scope_cidrs SEC(".maps");

// The connecting process's uid -> SCOPE_INCLUDE or SCOPE_EXCLUDE.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, SCOPE_ENTRIES);
  __type(key, __u32);
  __type(value, __u8);
} map_scope_uids SEC(".maps");

// Original destination of a socket, from the connect until the SYN goes out: storage of the
// socket itself, so nothing can evict it and it goes with the socket whatever becomes of it
// (a connect that fails before its SYN leaves nothing behind).
struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct Addr);
} map_socks SEC(".maps");

// Client's local endpoint -> original destination, until the proxy has asked. A plain hash,
// not an LRU one: an LRU map evicts under churn long before it is full (its free nodes sit
// in per-CPU lists), and what it evicted was a client still waiting to be accepted. Every
// entry is removed by the proxy's question or by the client's close, so it never fills
// unless 65,536 connects wait at once; then the newest finds no entry, never an older one.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, MAX_CONNECTIONS);
  __type(key, struct Addr);
  __type(value, struct Orig);
} map_ports SEC(".maps");

static __always_inline void set_v4(struct Addr *a, __u32 ip4) {
  __u32 *w = (__u32 *)a->ip;
  w[0] = 0;
  w[1] = 0;
  w[2] = bpf_htonl(0xffff);
  w[3] = ip4;
}

static __always_inline void set_v6(struct Addr *a, __u32 w0, __u32 w1, __u32 w2, __u32 w3) {
  __u32 *w = (__u32 *)a->ip;
  w[0] = w0;
  w[1] = w1;
  w[2] = w2;
  w[3] = w3;
}

// 127.0.0.0/8, and 0.0.0.0, which connect() also takes to mean this host.
static __always_inline int is_loopback4(__u32 ip4) {
  __u32 h = bpf_ntohl(ip4);
  return (h >> 24) == 127 || h == 0;
}

// A socket the kernel made for itself (NFS, CIFS, Ceph, NVMe/TCP): it has no file, where
// every socket of a process has one.
static __always_inline int kernel_socket(struct bpf_sock_addr *ctx) {
  struct bpf_sock *bsk = ctx->sk;
  if (!bsk) return 0;
  struct sock *sk = (struct sock *)bpf_skc_to_tcp_sock(bsk);
  if (!sk) return 0;
  struct socket *sock = sk->sk_socket;
  return !sock || !sock->file;
}

// Whether the current process is the proxy's. A process of another PID namespace is not
// (the helper fails for it), whatever its id there.
static __always_inline int is_proxy_process(struct Config *conf) {
  struct bpf_pidns_info ns;
  if (bpf_get_ns_current_pid_tgid(conf->pidns_dev, conf->pidns_ino, &ns, sizeof(ns))) return 0;
  return ns.tgid == conf->proxy_tgid;
}

// Whether a scope map's answer (null: not listed) puts a connect in scope.
static __always_inline int in_scope(__u8 *rule, __u8 only_included) {
  if (rule) return *rule == SCOPE_INCLUDE;
  return !only_included;
}

static __always_inline int uid_in_scope(struct Config *conf) {
  __u32 uid = (__u32)bpf_get_current_uid_gid();
  return in_scope(bpf_map_lookup_elem(&map_scope_uids, &uid), conf->only_included_uids);
}

// Whether a destination (ip as struct Addr has it, port in host byte order) is in scope.
static __always_inline int destination_in_scope(struct Config *conf, struct Addr *dst) {
  __u16 port = dst->port;
  if (!in_scope(bpf_map_lookup_elem(&map_scope_ports, &port), conf->only_included_ports)) return 0;
  struct Prefix key;
  key.prefixlen = 128;
  __builtin_memcpy(key.ip, dst->ip, sizeof(key.ip));
  return in_scope(bpf_map_lookup_elem(&map_scope_cidrs, &key), conf->only_included_cidrs);
}

// The configuration, if this connect is one to redirect at all.
static __always_inline struct Config *config_for(struct bpf_sock_addr *ctx) {
  if (ctx->protocol != IPPROTO_TCP) return 0;
  __u32 zero = 0;
  struct Config *conf = bpf_map_lookup_elem(&map_config, &zero);
  if (!conf || conf->proxy_port == 0) return 0;
  if (conf->proxy_cgroup_id && bpf_get_current_cgroup_id() == conf->proxy_cgroup_id) return 0;
  if (conf->proxy_tgid && is_proxy_process(conf)) return 0;
  if (conf->netns_cookie && bpf_get_netns_cookie(ctx) != conf->netns_cookie) return 0;
  if (kernel_socket(ctx)) return 0;
  if (!uid_in_scope(conf)) return 0;
  return conf;
}

static __always_inline int remember(struct bpf_sock_addr *ctx, struct Addr *dst) {
  if (!ctx->sk) return -1;
  struct Addr *kept = bpf_sk_storage_get(&map_socks, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
  if (!kept) return -1;
  *kept = *dst;
  return 0;
}

SEC("cgroup/connect4")
int cg_connect4(struct bpf_sock_addr *ctx) {
  struct Config *conf = config_for(ctx);
  if (!conf) return 1;

  __u32 ip4 = ctx->user_ip4;
  __u16 port = bpf_ntohs((__u16)ctx->user_port);
  // A connect straight to the proxy must stay one: redirecting it would only make the proxy
  // look up an original destination that is itself.
  if (is_loopback4(ip4) && port == conf->proxy_port) return 1;

  struct Addr dst;
  __builtin_memset(&dst, 0, sizeof(dst));
  set_v4(&dst, ip4);
  dst.port = port;
  if (!destination_in_scope(conf, &dst)) return 1;
  if (remember(ctx, &dst)) return 1;

  ctx->user_ip4 = bpf_htonl(0x7f000001);
  ctx->user_port = bpf_htons(conf->proxy_port);
  return 1;
}

SEC("cgroup/connect6")
int cg_connect6(struct bpf_sock_addr *ctx) {
  struct Config *conf = config_for(ctx);
  if (!conf) return 1;

  __u32 w0 = LOAD32(ctx->user_ip6[0]), w1 = LOAD32(ctx->user_ip6[1]);
  __u32 w2 = LOAD32(ctx->user_ip6[2]), w3 = LOAD32(ctx->user_ip6[3]);
  __u16 port = bpf_ntohs((__u16)ctx->user_port);
  int mapped = w0 == 0 && w1 == 0 && w2 == bpf_htonl(0xffff);
  int loopback = mapped ? is_loopback4(w3) : (w0 | w1 | w2) == 0 && (w3 == bpf_htonl(1) || w3 == 0);
  if (loopback && port == conf->proxy_port) return 1;
  // Native IPv6 goes to the proxy's [::1] listener, which it may not have.
  if (!mapped && !conf->ipv6) return 1;

  struct Addr dst;
  __builtin_memset(&dst, 0, sizeof(dst));
  set_v6(&dst, w0, w1, w2, w3);
  dst.port = port;
  if (!destination_in_scope(conf, &dst)) return 1;
  if (remember(ctx, &dst)) return 1;

  if (mapped) {
    ctx->user_ip6[3] = bpf_htonl(0x7f000001);
  } else {
    ctx->user_ip6[0] = 0;
    ctx->user_ip6[1] = 0;
    ctx->user_ip6[2] = 0;
    ctx->user_ip6[3] = bpf_htonl(1);
  }
  ctx->user_port = bpf_htons(conf->proxy_port);
  return 1;
}

// The client's local endpoint, as map_ports keys it.
static __always_inline void local_endpoint(struct bpf_sock_ops *ctx, struct Addr *a) {
  __builtin_memset(a, 0, sizeof(*a));
  if (ctx->family == AF_INET6) {
    // An IPv4-mapped connect has ::ffff:127.0.0.1 here already.
    set_v6(a, LOAD32(ctx->local_ip6[0]), LOAD32(ctx->local_ip6[1]), LOAD32(ctx->local_ip6[2]),
           LOAD32(ctx->local_ip6[3]));
  } else {
    set_v4(a, ctx->local_ip4);
  }
  a->port = ctx->local_port;
}

// The local port is chosen before the SYN is sent: file the destination under it now, so
// that it no longer matters what the client does afterwards, and ask to hear of the
// socket's state changes to forget it if the proxy never asks.
static __always_inline void file_destination(struct bpf_sock_ops *ctx) {
  struct bpf_sock *sk = ctx->sk;
  if (!sk) return;
  struct Addr *dst = bpf_sk_storage_get(&map_socks, sk, 0, 0);
  if (!dst) return;
  __u64 cookie = bpf_get_socket_cookie(ctx);
  struct Orig orig;
  __builtin_memset(&orig, 0, sizeof(orig));
  __builtin_memcpy(orig.ip, dst->ip, sizeof(orig.ip));
  orig.port = dst->port;
  orig.cookie = cookie;
  struct Addr peer;
  local_endpoint(ctx, &peer);
  bpf_map_update_elem(&map_ports, &peer, &orig, BPF_ANY);
  bpf_sk_storage_delete(&map_socks, sk);
  bpf_sock_ops_cb_flags_set(ctx, ctx->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
}

// The client's socket is closed and its connection will never be accepted, or is gone
// (see the top): its entry, if the proxy has not taken it.
static __always_inline void forget_destination(struct bpf_sock_ops *ctx) {
  __u32 was = ctx->args[0];
  if (was == BPF_TCP_FIN_WAIT2 || was == BPF_TCP_CLOSING) return;
  struct Addr peer;
  local_endpoint(ctx, &peer);
  struct Orig *orig = bpf_map_lookup_elem(&map_ports, &peer);
  if (orig && orig->cookie == bpf_get_socket_cookie(ctx)) bpf_map_delete_elem(&map_ports, &peer);
}

SEC("sockops")
int cg_sock_ops(struct bpf_sock_ops *ctx) {
  if (ctx->op == BPF_SOCK_OPS_TCP_CONNECT_CB) {
    file_destination(ctx);
  } else if (ctx->op == BPF_SOCK_OPS_STATE_CB && ctx->args[1] == BPF_TCP_CLOSE) {
    forget_destination(ctx);
  }
  return 1;
}

// Answers SO_ORIGINAL_DST (sockaddr_in) or IP6T_SO_ORIGINAL_DST (sockaddr_in6) on a
// connection the proxy accepted, and forgets the entry. 0 if this call is not one of those.
static __always_inline int answer(struct bpf_sockopt *ctx) {
  if (ctx->optname != SO_ORIGINAL_DST) return 0;
  int level = ctx->level;
  if (level != SOL_IP && level != SOL_IPV6) return 0;
  struct bpf_sock *sk = ctx->sk;
  if (!sk || sk->protocol != IPPROTO_TCP) return 0;

  struct Addr peer;
  __builtin_memset(&peer, 0, sizeof(peer));
  if (sk->family == AF_INET6) {
    set_v6(&peer, LOAD32(sk->dst_ip6[0]), LOAD32(sk->dst_ip6[1]), LOAD32(sk->dst_ip6[2]),
           LOAD32(sk->dst_ip6[3]));
  } else {
    set_v4(&peer, sk->dst_ip4);
  }
  peer.port = bpf_ntohs(sk->dst_port);
  struct Orig *dst = bpf_map_lookup_elem(&map_ports, &peer);
  if (!dst) return 0;
  __u32 *w = (__u32 *)dst->ip;

  if (level == SOL_IP) {
    // An IPv6 destination has no sockaddr_in.
    if (w[0] || w[1] || w[2] != bpf_htonl(0xffff)) return 0;
    struct sockaddr_in *sa = ctx->optval;
    if ((void *)(sa + 1) > ctx->optval_end) return 0;
    __builtin_memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = bpf_htons(dst->port);
    sa->sin_addr.s_addr = w[3];
    *(volatile __s32 *)&ctx->optlen = sizeof(*sa);
  } else {
    struct sockaddr_in6 *sa = ctx->optval;
    if ((void *)(sa + 1) > ctx->optval_end) return 0;
    __builtin_memset(sa, 0, sizeof(*sa));
    sa->sin6_family = AF_INET6;
    sa->sin6_port = bpf_htons(dst->port);
    sa->sin6_addr.in6_u.u6_addr32[0] = w[0];
    sa->sin6_addr.in6_u.u6_addr32[1] = w[1];
    sa->sin6_addr.in6_u.u6_addr32[2] = w[2];
    sa->sin6_addr.in6_u.u6_addr32[3] = w[3];
    *(volatile __s32 *)&ctx->optlen = sizeof(*sa);
  }
  // A separate store: LLVM may merge adjacent ctx fields into one 64-bit store, which the
  // verifier rejects for bpf_sockopt.
  *(volatile __s32 *)&ctx->retval = 0;
  bpf_map_delete_elem(&map_ports, &peer);
  return 1;
}

SEC("cgroup/getsockopt")
int cg_sock_opt(struct bpf_sockopt *ctx) {
  if (answer(ctx)) return 1;
  // Everything else must look as if this program did not exist. A result larger than the
  // page the program is shown is only passed on if optlen is set to 0 (before 6.5 the
  // caller gets EFAULT otherwise); smaller ones pass on untouched.
  if (ctx->optlen > (__s32)((long)ctx->optval_end - (long)ctx->optval)) ctx->optlen = 0;
  return 1;
}

char LICENSE[] SEC("license") = "GPL";
