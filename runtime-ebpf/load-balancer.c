// SPDX-License-Identifier: GPL-2.0
//
// A layer-4 load balancer in XDP, for Weir's samples/bpf/load-balancer. A TCP or UDP packet
// to a balanced address and port starts a flow: the next upstream on the balancer's ring
// (filled by main.js by weight) is picked, the packet is readdressed from this host to the
// upstream and sent out of the link that reaches it, and both directions of the flow are
// remembered so that later packets (and the upstream's replies, readdressed back to the
// client) take the same way. main.js keeps the links, neighbours and routes in step with
// the kernel's, from rtnetlink.
//
// Build: clang -target bpf -O2 -g -I/usr/include/$(gcc -dumpmachine) -c load-balancer.c
// (or `cargo xtask build-ebpf`).

#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// Slots on a balancer's ring; a power of two, so a slot is picked with a mask.
#define RING 64

// An IPv4 address as the packet holds it; scripts write its bytes.
struct ipv4 {
  __u8 u8[4];
};

// Ports are in host order, as scripts write them.
struct endpoint {
  struct ipv4 ip;
  __u16 port;
};

struct link {
  __u8 mac[ETH_ALEN];
  struct ipv4 ip;
};

struct neighbour {
  __u32 index;
  __u8 mac[ETH_ALEN];
};

struct route {
  __u32 prefixlen;
  struct ipv4 ip;
};

struct service {
  struct endpoint addr;
  __u8 proto;
};

struct balancer {
  __u32 ring[RING];
  __u32 next;
};

// A flow seen from one side: a packet from `src` to `dst`.
struct flow {
  struct endpoint src;
  struct endpoint dst;
  __u8 proto;
};

// What a packet of a flow becomes, and where it goes.
struct rewrite {
  struct endpoint src;
  struct endpoint dst;
  __u32 index;
  __u8 src_mac[ETH_ALEN];
  __u8 dst_mac[ETH_ALEN];
};

// ifindex -> the link's own addresses.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, struct link);
} links SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, struct ipv4);
  __type(value, struct neighbour);
} neighbours SEC(".maps");

// Destination prefix -> gateway.
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 256);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct route);
  __type(value, struct ipv4);
} routes SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 256);
  __type(key, struct service);
  __type(value, struct balancer);
} balancers SEC(".maps");

// Upstream id (what rings hold) -> its address.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, struct endpoint);
} upstreams SEC(".maps");

// LRU: flows nobody closes age out.
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct flow);
  __type(value, struct rewrite);
} flows SEC(".maps");

// Folds a 32-bit one's complement sum into the 16 bits of a checksum field.
static __always_inline __u16 fold(__u32 sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return ~sum;
}

// Updates checksum `sum` for a 32-bit word of what it covers changing from `from` to `to`.
static __always_inline void recheck(__u16 *sum, __u32 from, __u32 to) {
  *sum = fold(bpf_csum_diff(&from, sizeof(from), &to, sizeof(to), (__u16)~*sum));
}

struct packet {
  struct ethhdr *eth;
  struct iphdr *ip;
  // Source and destination ports, as one word (they sit together in TCP and UDP headers).
  __u32 *ports;
  // The L4 checksum, or null for a UDP packet that carries none.
  __u16 *check;
  int syn;
};

static __always_inline int parse(struct xdp_md *ctx, struct packet *p) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  p->eth = data;
  if ((void *)(p->eth + 1) > end || p->eth->h_proto != bpf_htons(ETH_P_IP)) return 0;
  p->ip = (void *)(p->eth + 1);
  if ((void *)(p->ip + 1) > end || p->ip->ihl != 5) return 0;
  void *l4 = p->ip + 1;
  if (p->ip->protocol == IPPROTO_TCP) {
    struct tcphdr *tcp = l4;
    if ((void *)(tcp + 1) > end) return 0;
    p->check = &tcp->check;
    p->syn = tcp->syn && !tcp->ack;
  } else if (p->ip->protocol == IPPROTO_UDP) {
    struct udphdr *udp = l4;
    if ((void *)(udp + 1) > end) return 0;
    p->check = udp->check ? &udp->check : 0;
    p->syn = 0;
  } else {
    return 0;
  }
  p->ports = l4;
  return 1;
}

static __always_inline __u32 ports_of(struct endpoint *src, struct endpoint *dst) {
  __u16 ports[2] = {bpf_htons(src->port), bpf_htons(dst->port)};
  __u32 word;
  __builtin_memcpy(&word, ports, sizeof(word));
  return word;
}

// Readdresses the packet as `r` says and sends it out of `r->index`.
static __always_inline int forward(struct xdp_md *ctx, struct packet *p, struct rewrite *r) {
  __u32 saddr, daddr, ports = ports_of(&r->src, &r->dst);
  __builtin_memcpy(&saddr, r->src.ip.u8, 4);
  __builtin_memcpy(&daddr, r->dst.ip.u8, 4);
  recheck(&p->ip->check, p->ip->saddr, saddr);
  recheck(&p->ip->check, p->ip->daddr, daddr);
  if (p->check) {
    // The L4 checksum covers the addresses too (the pseudo-header).
    recheck(p->check, p->ip->saddr, saddr);
    recheck(p->check, p->ip->daddr, daddr);
    recheck(p->check, *p->ports, ports);
  }
  p->ip->saddr = saddr;
  p->ip->daddr = daddr;
  *p->ports = ports;
  __builtin_memcpy(p->eth->h_source, r->src_mac, ETH_ALEN);
  __builtin_memcpy(p->eth->h_dest, r->dst_mac, ETH_ALEN);
  if (r->index == ctx->ingress_ifindex) return XDP_TX;
  return bpf_redirect(r->index, 0);
}

// The neighbour through which `ip` is reached: itself, or the gateway of its route.
static __always_inline struct neighbour *next_hop(struct ipv4 *ip) {
  struct neighbour *n = bpf_map_lookup_elem(&neighbours, ip);
  if (n) return n;
  struct route key = {.prefixlen = 32, .ip = *ip};
  struct ipv4 *gateway = bpf_map_lookup_elem(&routes, &key);
  return gateway ? bpf_map_lookup_elem(&neighbours, gateway) : 0;
}

// Starts a flow for a packet to balancer `b`; what the packet becomes goes in `out`.
static __always_inline int start(struct xdp_md *ctx, struct packet *p, struct flow *in, struct balancer *b,
                                 struct rewrite *out) {
  // Not atomic: two CPUs may take the same slot, which only skews the spread a little.
  __u32 slot = b->next++ & (RING - 1);
  struct endpoint *up = bpf_map_lookup_elem(&upstreams, &b->ring[slot]);
  if (!up) return 0;
  struct neighbour *hop = next_hop(&up->ip);
  if (!hop) return 0;
  struct link *via = bpf_map_lookup_elem(&links, &hop->index);
  if (!via) return 0;

  __builtin_memset(out, 0, sizeof(*out));
  out->src.ip = via->ip;
  out->src.port = in->src.port;
  out->dst = *up;
  out->index = hop->index;
  __builtin_memcpy(out->src_mac, via->mac, ETH_ALEN);
  __builtin_memcpy(out->dst_mac, hop->mac, ETH_ALEN);
  bpf_map_update_elem(&flows, in, out, BPF_ANY);

  // The upstream's replies go back to the client, from the balanced address, out of the link
  // the client's packet came in on.
  struct flow back;
  struct rewrite reply;
  __builtin_memset(&back, 0, sizeof(back));
  __builtin_memset(&reply, 0, sizeof(reply));
  back.src = out->dst;
  back.dst = out->src;
  back.proto = in->proto;
  reply.src = in->dst;
  reply.dst = in->src;
  reply.index = ctx->ingress_ifindex;
  __builtin_memcpy(reply.src_mac, p->eth->h_dest, ETH_ALEN);
  __builtin_memcpy(reply.dst_mac, p->eth->h_source, ETH_ALEN);
  bpf_map_update_elem(&flows, &back, &reply, BPF_ANY);
  return 1;
}

SEC("xdp")
int balance(struct xdp_md *ctx) {
  struct packet p;
  if (!parse(ctx, &p)) return XDP_PASS;

  __u16 ports[2];
  __builtin_memcpy(ports, p.ports, sizeof(ports));
  struct flow key;
  __builtin_memset(&key, 0, sizeof(key));
  __builtin_memcpy(key.src.ip.u8, &p.ip->saddr, 4);
  __builtin_memcpy(key.dst.ip.u8, &p.ip->daddr, 4);
  key.src.port = bpf_ntohs(ports[0]);
  key.dst.port = bpf_ntohs(ports[1]);
  key.proto = p.ip->protocol;

  // A SYN always starts a new flow, even where an old one with the same ports was.
  if (!p.syn) {
    struct rewrite *known = bpf_map_lookup_elem(&flows, &key);
    if (known) return forward(ctx, &p, known);
  }

  struct service svc;
  __builtin_memset(&svc, 0, sizeof(svc));
  svc.addr = key.dst;
  svc.proto = key.proto;
  struct balancer *b = bpf_map_lookup_elem(&balancers, &svc);
  if (!b) return XDP_PASS;

  struct rewrite out;
  // No way to the upstream: the client retries, maybe after main.js has learnt one.
  if (!start(ctx, &p, &key, b, &out)) return XDP_DROP;
  return forward(ctx, &p, &out);
}

char LICENSE[] SEC("license") = "GPL";
