// SPDX-License-Identifier: GPL-2.0
//
// Transparent TCP proxying for one cgroup, for Weir's samples/bpf/transparent-proxy.
//
// cg_connect4 sends every IPv4 TCP connect made in the cgroup to 127.0.0.1:<proxy_port> and
// remembers the original destination under the socket cookie. cg_sock_ops learns which local
// endpoint that client socket got, and cg_sock_opt answers getsockopt(SOL_IP,
// SO_ORIGINAL_DST) on the proxy's accepted socket from those two maps. Entries are removed
// when the client socket reaches TCP_CLOSE; the maps are LRU maps as a second line of
// defence, so sockets that never connect cannot fill them up.
//
// Build: clang -target bpf -O2 -g -I/usr/include/$(gcc -dumpmachine) -c transparent-proxy.c
// (or `cargo xtask build-ebpf`).

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// From linux/netfilter_ipv4.h and glibc, whose headers drag in glibc headers that do not build for BPF.
#define SOL_IP 0
#define SO_ORIGINAL_DST 80
#define AF_INET 2

#define MAX_CONNECTIONS 65536

// Written by the proxy at map_config[0]. Fields left at zero are not used: a proxy excludes
// itself by process id (pipy_pid), by cgroup id (pipy_cgroup_id), or both.
struct Config {
  __u16 proxy_port;
  __u64 pipy_pid;
  __u64 pipy_cgroup_id;
};

// Original destination of a redirected connect, host byte order.
struct Socket {
  __u32 src_addr;
  __u32 dst_addr;
  __u16 src_port;
  __u16 dst_port;
};

// A client's local endpoint as the proxy sees it as the peer: address in network byte order,
// port in host byte order. Keying by address as well as port keeps two clients on different
// loopback addresses apart.
struct Peer {
  __u32 addr;
  __u32 port;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct Config);
} map_config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, MAX_CONNECTIONS);
  __type(key, __u64);
  __type(value, struct Socket);
} map_socks SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, MAX_CONNECTIONS);
  __type(key, struct Peer);
  __type(value, __u64);
} map_ports SEC(".maps");

SEC("cgroup/connect4")
int cg_connect4(struct bpf_sock_addr *ctx) {
  if (ctx->user_family != AF_INET) return 1;
  if (ctx->protocol != IPPROTO_TCP) return 1;

  __u32 zero = 0;
  struct Config *conf = bpf_map_lookup_elem(&map_config, &zero);
  if (!conf || conf->proxy_port == 0) return 1;
  if (conf->pipy_pid && (bpf_get_current_pid_tgid() >> 32) == conf->pipy_pid) return 1;
  if (conf->pipy_cgroup_id && bpf_get_current_cgroup_id() == conf->pipy_cgroup_id) return 1;

  __u32 dst_addr = bpf_ntohl(ctx->user_ip4);
  __u16 dst_port = bpf_ntohs((__u16)ctx->user_port);

  // A connect straight to the proxy must stay one: redirecting it would only make the proxy
  // look up an original destination that is itself.
  if ((dst_addr >> 24) == 127 && dst_port == conf->proxy_port) return 1;

  __u64 cookie = bpf_get_socket_cookie(ctx);
  struct Socket sock = {
    .dst_addr = dst_addr,
    .dst_port = dst_port,
  };
  if (bpf_map_update_elem(&map_socks, &cookie, &sock, BPF_ANY)) return 1;

  ctx->user_ip4 = bpf_htonl(0x7f000001);
  ctx->user_port = bpf_htons(conf->proxy_port);
  return 1;
}

static void forget(struct bpf_sock_ops *ctx, __u64 cookie) {
  struct Peer peer = { .addr = ctx->local_ip4, .port = ctx->local_port };
  __u64 *owner = bpf_map_lookup_elem(&map_ports, &peer);
  if (owner && *owner == cookie) bpf_map_delete_elem(&map_ports, &peer);
  bpf_map_delete_elem(&map_socks, &cookie);
}

SEC("sockops")
int cg_sock_ops(struct bpf_sock_ops *ctx) {
  if (ctx->family != AF_INET) return 1;

  __u32 op = ctx->op;
  if (op != BPF_SOCK_OPS_TCP_CONNECT_CB && op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
      op != BPF_SOCK_OPS_STATE_CB)
    return 1;

  __u64 cookie = bpf_get_socket_cookie(ctx);
  struct Socket *sock = bpf_map_lookup_elem(&map_socks, &cookie);
  if (!sock) return 1;

  switch (op) {
  case BPF_SOCK_OPS_TCP_CONNECT_CB:
    // Ask for state changes now, so that a connect that never completes is cleaned up too.
    bpf_sock_ops_cb_flags_set(ctx, ctx->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
    break;
  case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB: {
    sock->src_addr = bpf_ntohl(ctx->local_ip4);
    sock->src_port = ctx->local_port;
    struct Peer peer = { .addr = ctx->local_ip4, .port = ctx->local_port };
    bpf_map_update_elem(&map_ports, &peer, &cookie, BPF_ANY);
    break;
  }
  case BPF_SOCK_OPS_STATE_CB:
    if (ctx->args[1] == BPF_TCP_CLOSE) forget(ctx, cookie);
    break;
  }
  return 1;
}

SEC("cgroup/getsockopt")
int cg_sock_opt(struct bpf_sockopt *ctx) {
  // Everything but SO_ORIGINAL_DST must look as if this program did not exist: return 1 and
  // leave ctx alone, so the kernel's own result goes back to the caller.
  if (ctx->level != SOL_IP || ctx->optname != SO_ORIGINAL_DST) return 1;

  struct bpf_sock *sk = ctx->sk;
  if (!sk) return 1;
  if (sk->family != AF_INET || sk->protocol != IPPROTO_TCP) return 1;

  struct Peer peer = { .addr = sk->dst_ip4, .port = bpf_ntohs(sk->dst_port) };
  __u64 *cookie = bpf_map_lookup_elem(&map_ports, &peer);
  if (!cookie) return 1;
  struct Socket *sock = bpf_map_lookup_elem(&map_socks, cookie);
  if (!sock) return 1;

  struct sockaddr_in *sa = ctx->optval;
  if ((void *)(sa + 1) > ctx->optval_end) return 1;

  __builtin_memset(sa, 0, sizeof(*sa));
  sa->sin_family = AF_INET;
  sa->sin_port = bpf_htons(sock->dst_port);
  sa->sin_addr.s_addr = bpf_htonl(sock->dst_addr);

  // Two separate stores: LLVM may merge adjacent ctx fields into one 64-bit store, which the
  // verifier rejects for bpf_sockopt.
  *(volatile __s32 *)&ctx->optlen = sizeof(*sa);
  *(volatile __s32 *)&ctx->retval = 0;
  return 1;
}

char LICENSE[] SEC("license") = "GPL";
