/*
 * aggregate.c -- the names of the aggregations (aggregate.h).
 */
#include "aggregate.h"

#include <stddef.h>

const char *const rp_agg_names[] = {"sum", "max", "count", "last", NULL};
