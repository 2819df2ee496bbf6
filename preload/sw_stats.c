/* sw_stats.c: the process-wide drop and failure counters. */
#include "sw_common.h"

#include "sw_stats.h"

struct sw_stats sw_stats;
