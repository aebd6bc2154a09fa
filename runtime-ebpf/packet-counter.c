// SPDX-License-Identifier: GPL-2.0
//
// Counts the IPv4 packets arriving on an interface by source address, for Weir's
// samples/bpf/packet-counter. The program only counts: every packet is passed on.
//
// Build: clang -target bpf -O2 -g -I/usr/include/$(gcc -dumpmachine) -c packet-counter.c
// (or `cargo xtask build-ebpf`).

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// The source address as bytes (how main.js prints it) and as the word the header holds.
struct addr {
  union {
    __u8 u8[4];
    __u32 u32;
  } ip;
};

// LRU: a flood from many sources evicts the quietest instead of failing to count.
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 1024);
  __type(key, struct addr);
  __type(value, __u32);
} packets SEC(".maps");

SEC("xdp")
int count_packets(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;

  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) return XDP_PASS;
  struct iphdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > end) return XDP_PASS;

  struct addr key = {.ip.u32 = ip->saddr};
  __u32 *count = bpf_map_lookup_elem(&packets, &key);
  if (count) {
    __sync_fetch_and_add(count, 1);
  } else {
    __u32 one = 1;
    // Two CPUs may both miss: BPF_NOEXIST lets one insert, and the other counts again.
    if (bpf_map_update_elem(&packets, &key, &one, BPF_NOEXIST) != 0) {
      count = bpf_map_lookup_elem(&packets, &key);
      if (count) __sync_fetch_and_add(count, 1);
    }
  }
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
