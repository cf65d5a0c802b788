#include "probe_cost_sites.h"

#if defined(__x86_64__)
__asm__(
    ".text\n"
    ".p2align 4\n"
    ".globl uprobe_trace_cost_emulated\n"
    ".type uprobe_trace_cost_emulated,@function\n"
    "uprobe_trace_cost_emulated:\n"
    "    push %rbp\n"
    "    pop %rbp\n"
    "    ret\n"
    ".size uprobe_trace_cost_emulated, .-uprobe_trace_cost_emulated\n"
    ".p2align 4\n"
    ".globl uprobe_trace_cost_single_stepped\n"
    ".type uprobe_trace_cost_single_stepped,@function\n"
    "uprobe_trace_cost_single_stepped:\n"
    "    sub $8, %rsp\n"
    "    add $8, %rsp\n"
    "    ret\n"
    ".size uprobe_trace_cost_single_stepped, .-uprobe_trace_cost_single_stepped\n");
#else
// Other architectures: plain functions, so the package links; the measurement
// reports x86-64 classes only.
void uprobe_trace_cost_emulated(void) {}
void uprobe_trace_cost_single_stepped(void) {}
#endif
