// SPDX-License-Identifier: GPL-2.0
//
// Moves TCP traffic for one port to another, for Weir's samples/bpf/port-interceptor: on
// the way in, a segment to an intercepted port is readdressed to the interceptor's port; on
// the way out, the interceptor's replies get the intercepted port back as their source, so
// the peer never sees the switch. One program serves both directions of a tc clsact qdisc.
//
// Build: clang -target bpf -O2 -g -I/usr/include/$(gcc -dumpmachine) -c port-interceptor.c
// (or `cargo xtask build-ebpf`).

#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// Ports in host order, as main.js writes them.
struct port {
  __u16 i;
};

// intercepted port -> interceptor port, for segments coming in.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 128);
  __type(key, struct port);
  __type(value, struct port);
} inbound SEC(".maps");

// interceptor port -> intercepted port, for segments going out.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 128);
  __type(key, struct port);
  __type(value, struct port);
} outbound SEC(".maps");

// Rewrites the 16-bit port at `offset` from `from` to `to` (network order), keeping the
// TCP checksum right whether the stack has finished it or will (CHECKSUM_PARTIAL).
static __always_inline void rewrite_port(struct __sk_buff *skb, __u32 offset, __u16 from, __u16 to) {
  __u32 check = ETH_HLEN + sizeof(struct iphdr) + offsetof(struct tcphdr, check);
  bpf_l4_csum_replace(skb, check, from, to, sizeof(to));
  bpf_skb_store_bytes(skb, offset, &to, sizeof(to), 0);
}

SEC("tc")
int intercept(struct __sk_buff *skb) {
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;

  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) return TC_ACT_OK;
  struct iphdr *ip = (void *)(eth + 1);
  // Options would move the TCP header; segments with them are left alone.
  if ((void *)(ip + 1) > end || ip->ihl != 5 || ip->protocol != IPPROTO_TCP) return TC_ACT_OK;
  struct tcphdr *tcp = (void *)(ip + 1);
  if ((void *)(tcp + 1) > end) return TC_ACT_OK;

  // A segment that arrived on a device has its index; one the host sends has none.
  int incoming = skb->ingress_ifindex != 0;
  __u16 port = incoming ? tcp->dest : tcp->source;
  struct port key = {.i = bpf_ntohs(port)};
  struct port *to = incoming ? bpf_map_lookup_elem(&inbound, &key) : bpf_map_lookup_elem(&outbound, &key);
  if (!to) return TC_ACT_OK;

  __u32 field = incoming ? offsetof(struct tcphdr, dest) : offsetof(struct tcphdr, source);
  rewrite_port(skb, ETH_HLEN + sizeof(struct iphdr) + field, port, bpf_htons(to->i));
  return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
