/*
 * aggregate.h -- how repeated (user, item) pairs combine when a matrix is
 * built (from events, from triplets): the enum and its one name table.
 */
#ifndef RP_AGGREGATE_H
#define RP_AGGREGATE_H

enum { RP_AGG_SUM = 0, RP_AGG_MAX, RP_AGG_COUNT, RP_AGG_LAST };
/* "sum", "max", "count", "last" (by RP_AGG_* value), NULL-terminated */
extern const char *const rp_agg_names[];

#endif
