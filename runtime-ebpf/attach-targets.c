// SPDX-License-Identifier: GPL-2.0
//
// A test object for bpf.attach's other targets (tests/tests/bpf_attach.rs): a flow dissector,
// attached with no target to the network namespace Weir runs in, and an sk_msg verdict
// program, attached to the fd of the sockmap `socks`. Both are plain .text functions, as
// Pipy's samples write programs, and change nothing: the dissector hands every packet back to
// the kernel's own dissector, the verdict passes every message.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_SOCKMAP);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} socks SEC(".maps");

int dissect(struct __sk_buff *skb) {
  return BPF_FLOW_DISSECTOR_CONTINUE;
}

int msg_pass(struct sk_msg_md *msg) {
  return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
