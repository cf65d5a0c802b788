// The TraceEvents target is the header; this file only makes it a C target
// (and compiles the header's _Static_asserts with the host compiler).
#include "trace_events.h"
