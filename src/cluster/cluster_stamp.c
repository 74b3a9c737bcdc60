/*
 * cluster_stamp.c — the leader's stamp (see cluster_stamp.h for the rule).
 */
#include "src/cluster/cluster_stamp.h"

uint64_t cluster_stamp_next(const struct cluster_stamp_in *in, int *skewed)
{
	uint64_t stamp = in->wall, floor;

	*skewed = 0;
	if (in->base != 0) {
		uint64_t elapsed =
		    in->mono > in->base_mono ? in->mono - in->base_mono : 0;
		uint64_t expect = in->base + elapsed;
		uint64_t lo =
		    expect > in->allowance ? expect - in->allowance : 0;

		if (in->wall < lo || in->wall > expect + in->allowance) {
			stamp = expect;
			*skewed = 1;
		}
	}
	floor = in->last > in->base ? in->last : in->base;
	return stamp < floor ? floor : stamp;
}
