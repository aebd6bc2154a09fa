// SPDX-License-Identifier: GPL-2.0
//
// A test object for bpf.attach and per-CPU maps (tests/tests/bpf_attach.rs). Like Pipy's
// samples, its program is a plain function in .text with no SEC(): only the script's
// Program.load(type, attachType) says it is a cgroup connect4 program. It counts every
// connect() of the cgroup per CPU, by destination port and by uid, and sends connects to
// config.from_port to config.to_port instead, so a test can see it is attached.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct config {
  __u16 from_port;
  __u16 to_port;
};

struct counts {
  __u64 connects;
  __u64 redirected;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct config);
} config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} total SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 64);
  __type(key, __u16);
  __type(value, struct counts);
} by_port SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u64);
} by_uid SEC(".maps");

int count_connect4(struct bpf_sock_addr *ctx) {
  __u32 zero = 0;
  __u64 one = 1;
  __u64 *n = bpf_map_lookup_elem(&total, &zero);
  if (n) __sync_fetch_and_add(n, 1);

  __u32 uid = (__u32)bpf_get_current_uid_gid();
  n = bpf_map_lookup_elem(&by_uid, &uid);
  if (n) __sync_fetch_and_add(n, 1);
  else bpf_map_update_elem(&by_uid, &uid, &one, BPF_NOEXIST);

  __u16 port = bpf_ntohs(ctx->user_port);
  struct counts *c = bpf_map_lookup_elem(&by_port, &port);
  if (!c) {
    struct counts init = { 0, 0 };
    bpf_map_update_elem(&by_port, &port, &init, BPF_NOEXIST);
    c = bpf_map_lookup_elem(&by_port, &port);
  }
  if (c) __sync_fetch_and_add(&c->connects, 1);

  struct config *cfg = bpf_map_lookup_elem(&config, &zero);
  if (cfg && cfg->from_port && port == cfg->from_port) {
    ctx->user_port = bpf_htons(cfg->to_port);
    if (c) __sync_fetch_and_add(&c->redirected, 1);
  }
  return 1;
}

char LICENSE[] SEC("license") = "GPL";
