// SPDX-License-Identifier: GPL-2.0
//
// A test object for runtime/src/bpf/text.rs: a program written as Pipy's samples write them,
// a plain function in .text with no SEC(), whose type only the script gives, and two in
// sections aya does not know (libbpf's "tc" and "action"). count_all counts the packets it
// sees in `seen` so a test can tell its map reference was relocated.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} seen SEC(".maps");

int count_all(struct __sk_buff *skb) {
  __u32 zero = 0;
  __u64 *n = bpf_map_lookup_elem(&seen, &zero);
  if (n) __sync_fetch_and_add(n, 1);
  return skb->len;
}

SEC("tc")
int tc_pass(struct __sk_buff *skb) {
  __u32 zero = 0;
  __u64 *n = bpf_map_lookup_elem(&seen, &zero);
  if (n) __sync_fetch_and_add(n, 1);
  return 0;
}

SEC("action")
int act_pass(struct __sk_buff *skb) {
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
