/* syscall_names.bpf.c — the running kernel's syscall names by number, read
 * once at start, never attached. The kernel keeps a `struct syscall_metadata`
 * per syscall (name "sys_getppid", syscall_nr filled at boot from its own
 * table) and pointers to all of them between __start_syscalls_metadata and
 * __stop_syscalls_metadata; this program (BPF_PROG_TYPE_SYSCALL, run with
 * BPF_PROG_TEST_RUN) copies each name into system_syscall_names[nr]. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define UT_SYSCALL_NR_MAX 1024
#define UT_SYSCALL_NAME_MAX 32

struct syscall_name {
    char name[UT_SYSCALL_NAME_MAX];
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, UT_SYSCALL_NR_MAX);
    __type(key, __u32);
    __type(value, struct syscall_name);
} system_syscall_names SEC(".maps");

/* Metadata entries found (0: the kernel has no syscall metadata, i.e. no CONFIG_FTRACE_SYSCALLS). */
__u32 system_syscall_meta_count = 0;

struct walk {
    __u64 start;
};

/* One metadata pointer: index i of the section. */
static long copy_name(__u32 i, struct walk *w) {
    struct syscall_metadata *meta = 0;
    if (bpf_probe_read_kernel(&meta, sizeof(meta), (void *)(w->start + 8 * (__u64)i)) < 0 || !meta) return 0;
    int nr = BPF_CORE_READ(meta, syscall_nr);
    const char *name = BPF_CORE_READ(meta, name);
    if (nr < 0 || nr >= UT_SYSCALL_NR_MAX || !name) return 0;
    __u32 key = nr;
    struct syscall_name *slot = bpf_map_lookup_elem(&system_syscall_names, &key);
    if (slot) bpf_probe_read_kernel_str(slot->name, sizeof(slot->name), name);
    return 0;
}

SEC("syscall")
int system_read_syscall_names(void *ctx) {
    __u64 start = 0, stop = 0;
    if (bpf_kallsyms_lookup_name("__start_syscalls_metadata", sizeof("__start_syscalls_metadata"), 0, &start) < 0) return 1;
    if (bpf_kallsyms_lookup_name("__stop_syscalls_metadata", sizeof("__stop_syscalls_metadata"), 0, &stop) < 0) return 1;
    if (stop <= start) return 1;
    __u32 count = (stop - start) / 8;
    system_syscall_meta_count = count;
    struct walk w = { .start = start };
    bpf_loop(count < 4 * UT_SYSCALL_NR_MAX ? count : 4 * UT_SYSCALL_NR_MAX, copy_name, &w, 0);
    return 0;
}
