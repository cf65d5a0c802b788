// Fixture for Benchmarks/probe-cost.sh: one function per instruction class, each
// starting with that instruction, written in assembly so the compiler cannot put
// anything (endbr64, a frame setup) in front of it.
//
//   probe_cost list            the function names, one a line
//   probe_cost run NAME CALLS  calls NAME CALLS times; prints "<thread CPU ns> <wall ns>"
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FN(name, body)                                   \
    ".p2align 4\n.globl " #name "\n.type " #name ",@function\n" #name ":\n" body \
    ".size " #name ", .-" #name "\n"

__asm__(".text\n"
    FN(cost_push, "push %rbp\n pop %rbp\n ret\n")
    FN(cost_jmp, "jmp 1f\n 1: ret\n")
    FN(cost_call, "call 1f\n 1: add $8, %rsp\n ret\n")
    FN(cost_jcc, "jbe 1f\n 1: ret\n")
    FN(cost_nop, "nop\n ret\n")
    FN(cost_nop5, ".byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n ret\n")          // nopl 0x0(%rax,%rax,1)
    FN(cost_nopw9, ".byte 0x66, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0\n ret\n")  // nopw 0x0(%rax,%rax,1), gcc's padding
    FN(cost_cmp, "cmp $0, %rdi\n ret\n")
    FN(cost_mov, "mov %rdi, %rax\n ret\n")
    FN(cost_lea, "lea 8(%rsp), %rax\n ret\n")
    FN(cost_sub, "sub $8, %rsp\n add $8, %rsp\n ret\n")
    FN(cost_add, "add $1, %rax\n ret\n")
    FN(cost_xor, "xor %eax, %eax\n ret\n")
    FN(cost_pop, "pop %rcx\n jmp *%rcx\n")                                // returns by hand
    FN(cost_endbr64, "endbr64\n ret\n")
    FN(cost_ret, "ret\n"));

#define DECL(n) void n(void);
DECL(cost_push) DECL(cost_jmp) DECL(cost_call) DECL(cost_jcc) DECL(cost_nop) DECL(cost_nop5)
DECL(cost_nopw9) DECL(cost_cmp) DECL(cost_mov) DECL(cost_lea) DECL(cost_sub) DECL(cost_add)
DECL(cost_xor) DECL(cost_pop) DECL(cost_endbr64) DECL(cost_ret)

static const struct { const char *name; void (*fn)(void); } fns[] = {
    {"cost_push", cost_push}, {"cost_jmp", cost_jmp}, {"cost_call", cost_call}, {"cost_jcc", cost_jcc},
    {"cost_nop", cost_nop}, {"cost_nop5", cost_nop5}, {"cost_nopw9", cost_nopw9}, {"cost_cmp", cost_cmp},
    {"cost_mov", cost_mov}, {"cost_lea", cost_lea}, {"cost_sub", cost_sub}, {"cost_add", cost_add},
    {"cost_xor", cost_xor}, {"cost_pop", cost_pop}, {"cost_endbr64", cost_endbr64}, {"cost_ret", cost_ret},
};

static unsigned long long ns(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return (unsigned long long)t.tv_sec * 1000000000ull + (unsigned long long)t.tv_nsec;
}

int main(int argc, char **argv) {
    size_t n = sizeof fns / sizeof fns[0];
    if (argc == 2 && strcmp(argv[1], "list") == 0) {
        for (size_t i = 0; i < n; i++) puts(fns[i].name);
        return 0;
    }
    if (argc != 4 || strcmp(argv[1], "run") != 0) {
        fprintf(stderr, "usage: probe_cost list | probe_cost run NAME CALLS\n");
        return 2;
    }
    long calls = atol(argv[3]);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(fns[i].name, argv[2]) != 0) continue;
        void (*volatile fn)(void) = fns[i].fn;
        unsigned long long c0 = ns(CLOCK_THREAD_CPUTIME_ID), w0 = ns(CLOCK_MONOTONIC);
        for (long k = 0; k < calls; k++) fn();
        printf("%llu %llu\n", ns(CLOCK_THREAD_CPUTIME_ID) - c0, ns(CLOCK_MONOTONIC) - w0);
        return 0;
    }
    fprintf(stderr, "probe_cost: no function %s\n", argv[2]);
    return 2;
}
