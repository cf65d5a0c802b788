/* placeholder: replaced by the Attach helper */
#include "common.bpf.h"
