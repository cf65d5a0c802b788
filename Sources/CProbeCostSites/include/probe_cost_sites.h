#ifndef UPROBE_TRACE_PROBE_COST_SITES_H
#define UPROBE_TRACE_PROBE_COST_SITES_H

// Two functions whose first instruction is one of each uprobe cost class, for
// `ProbeCost.measure` (Sources/Attach/ProbeCost.swift): a uprobe on the first is
// emulated by the kernel (push %rbp), on the second single-stepped (sub $8,%rsp).
// Written in assembly so no compiler can change the first instruction (endbr64,
// frame setup, inlining). Both do nothing and return.

void uprobe_trace_cost_emulated(void);
void uprobe_trace_cost_single_stepped(void);

#endif
