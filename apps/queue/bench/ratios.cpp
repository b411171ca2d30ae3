// SPDX-License-Identifier: Apache-2.0
#include "ratios.hpp"

#include "paper.hpp"

namespace emucxl::queue::bench {

Ratios compute_ratios(const Experiment &e)
{
	Ratios r;
	r.remote_over_local_paper = ratio(paper_results[1], paper_results[0]);
	const Result *malloc_q = e.find("malloc", 0);
	const Result *emu[2] = {e.find("emucxl", 0), e.find("emucxl", 1)};
	const Result *numa[2] = {e.find("numa_alloc_onnode", 0), e.find("numa_alloc_onnode", 1)};

	bool malloc_met = true, numa_met = true, numa_run = false;
	for (int node : {0, 1}) {
		if (!emu[node])
			continue;
		// Only a run of the paper's size can be compared with the paper.
		if (e.ops == paper_ops)
			r.paper_over_emucxl[node] = ratio(paper_results[node], emu[node]->times);
		if (malloc_q) {
			r.emucxl_over_malloc[node] = ratio(emu[node]->times, malloc_q->times);
			malloc_met = malloc_met && r.emucxl_over_malloc[node]->total_best <= malloc_target_max;
		}
		if (numa[node]) {
			numa_run = true;
			r.numa_over_emucxl[node] = ratio(numa[node]->times, emu[node]->times);
			numa_met = numa_met && r.numa_over_emucxl[node]->total_best >= numa_target_min;
		}
	}
	r.malloc_target_met = malloc_q && emu[0] && emu[1] && malloc_met;
	if (numa_run)
		r.numa_target_met = numa_met;
	if (emu[0] && emu[1])
		r.remote_over_local_emucxl = ratio(emu[1]->times, emu[0]->times);
	if (numa[0] && numa[1])
		r.remote_over_local_numa = ratio(numa[1]->times, numa[0]->times);
	return r;
}

} // namespace emucxl::queue::bench
