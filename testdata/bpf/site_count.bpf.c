/*
 * site_count.bpf.c — test fixture, not part of uprobe-trace: counts uprobe
 * hits per attach cookie, so a test can tell the sites of one uprobe_multi
 * link apart (Tests/AttachTests/UprobeMultiBPFTests.swift).
 *
 * Built by ../build.sh into bin/site_count.bpf.o. No program in bpf/ reads
 * its cookie, and a counter has no place in the product's objects: hence a
 * fixture of its own.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* hits[cookie]: how often the site with that cookie fired. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 256);
    __type(key, __u32);
    __type(value, __u64);
} site_hits SEC(".maps");

/* Any uprobe or uretprobe site: adds one to hits[bpf_get_attach_cookie()]
 * (cookies >= 256 are not counted). Registers are not read. */
SEC("uprobe")
int count_site(void *ctx) {
    __u32 key = (__u32)bpf_get_attach_cookie(ctx);
    __u64 *n = bpf_map_lookup_elem(&site_hits, &key);
    if (n)
        __sync_fetch_and_add(n, 1);
    return 0;
}
