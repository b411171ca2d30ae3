// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cxltiming: a QEMU TCG plugin that makes guest memory behave like the
 * timing profile's two tiers (vm/README.md, "Timing").
 *
 * Every guest load and store (user and kernel alike) goes through a model of
 * a last-level cache (per vCPU, set-associative, LRU, 64-byte lines). Only
 * what misses it costs memory time, charged to the NUMA node its
 * guest-physical address belongs to:
 *   - a miss that does not continue a sequential stream pays the node's
 *     idle latency (a dependent load cannot hide it);
 *   - a miss that continues one of the node's recent streams (the line
 *     after a stream's last miss, or the first line of a 4 KiB page when a
 *     stream just left the last line of a page: consecutive virtual pages
 *     are rarely consecutive guest-physical pages) is what hardware prefetch
 *     overlaps: its transfer occupies the node's channel for the line's
 *     time at the node's bandwidth (64 B / GB/s), and the vCPU waits only
 *     until its line has arrived. Prefetch keeps up to PREFETCH_LINES
 *     transfers in flight ahead of the loads, so time the vCPU spent on
 *     other work (compute, a TLB refill, the host taking the CPU away) is
 *     time the channel kept transferring, up to that depth: a stream runs
 *     at the node's bandwidth or at its own compute speed, whichever is
 *     slower, and never faster than the bandwidth over any stretch longer
 *     than PREFETCH_LINES lines. STREAMS streams per node are tracked,
 *     LRU-replaced;
 *   - a dirty line evicted pays its write-back's transfer time at its node's
 *     bandwidth: on the victim's channel for a streamed miss (a store stream
 *     moves twice the bytes), added to the latency for a latency miss.
 * The charge is real time: the vCPU spins until it is paid, so every clock
 * the guest has (TSC, HPET, ...) sees it. TCG itself already spends time
 * between misses. For a latency miss that time counts towards the charge up
 * to a cap that starts at lat_overhead (1.5x what vm/run's per-run
 * calibration boot with inject=0 measured) and follows TCG's own time per
 * miss as the run measures it (struct own_cost; adapt=0 keeps it fixed), so
 * a dependent load costs the profile's latency however fast or loaded the
 * host is at that moment, as long as TCG alone is faster than the target;
 * beyond the cap it is compute, which a dependent load does not overlap.
 * Where TCG alone is slower than the profile's local latency, vm/run passes
 * scale > 1: latencies are then stretched by the same factor on both tiers
 * (ratios stay the profile's); bandwidths are absolute.
 *
 * Arguments (key=value): remote=START-END (hex guest-physical range of the
 * remote node, repeatable), local_ns, remote_ns, local_gbs, remote_gbs,
 * scale, lat_overhead (ns), llc_kib (default 2048),
 * ways (default 16, at most 16), inject (1, or 0 to model without delaying), adapt (1,
 * or 0 for a fixed cap), report=PATH.
 * At exit it writes per-node miss counts, how many latency misses found TCG
 * slower than the cap (compute before them, or a busy host: those misses
 * cost more than the profile says) and the range the cap took, as one line
 * to PATH (vm/run prints it) and QEMU's log.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <qemu-plugin.h>

#include "cache_model.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define LINE_SHIFT 6
#define LINE_BYTES (1u << LINE_SHIFT) /* 64 B */
#define MAX_RANGES 4
#define MAX_VCPUS 64
#define STREAMS 8     /* concurrent sequential streams tracked per node */
#define PAGE_LINES 64 /* lines in a 4 KiB page */
/*
 * How far prefetch runs ahead of a stream's loads, in lines: what a
 * channel may have transferred while the vCPU was busy elsewhere. 16 lines
 * (1 KiB) is a typical L2 streamer's reach on current server cores.
 */
#define PREFETCH_LINES 16

enum { LOCAL = 0, REMOTE = 1, NODES = 2 };

/*
 * The host's speed drifts over minutes (a busy neighbour, frequency), and
 * a cap from a calibration boot minutes earlier would then be wrong. So each
 * vCPU keeps measuring TCG's own time per latency miss: every OWN_WINDOW
 * misses, the cap becomes OWN_CAP_FACTOR times the window's OWN_PERCENTILE
 * (a low percentile: misses that follow compute are slower, back-to-back
 * misses show what TCG alone costs), bounded to [1/OWN_CAP_BOUND,
 * OWN_CAP_BOUND] times the calibrated cap so that a compute-bound stretch
 * cannot hide memory time behind a cap that grew with it.
 */
#define OWN_BIN_NS 8
#define OWN_BINS 512 /* up to 4 us per miss */
#define OWN_WINDOW 65536
#define OWN_PERCENTILE 20
#define OWN_CAP_FACTOR 1.5
#define OWN_CAP_BOUND 1.5

struct own_cost {
	uint32_t hist[OWN_BINS];
	uint32_t n;
	double cap;      /* ns of TCG's own time a miss may count */
	double min_cap, max_cap; /* the range it took, for the exit summary */
};

struct range {
	uint64_t start, end; /* [start, end) */
};

/* The profile, in ns per event, after scaling and overhead subtraction. */
static struct {
	struct range remote[MAX_RANGES];
	int nremote;
	double lat_ns[NODES];  /* idle latency */
	double line_ns[NODES]; /* one line at the node's bandwidth */
	double scale;
	double lat_overhead;
	struct cache_geometry cache;
	unsigned llc_kib, ways;
	int inject, adapt;
	char report[512];
} cfg = { .scale = 1.0, .ways = 16, .inject = 1, .adapt = 1 };

/* One vCPU's cache and clock; touched only by that vCPU's thread. */
struct vcpu {
	struct cache_set *set; /* cfg.cache.sets of them (cache_model.h) */
	uint32_t clock;    /* miss counter: the streams' LRU clock */
	/*
	 * The line of the previous access and whether it is dirty: an access
	 * to the same line again (the next field, the next word of a stream,
	 * the stack) finds it most recently used already, so the set need not
	 * be searched (most accesses take this path).
	 */
	uint64_t last_line;
	bool last_dirty;
	uint64_t stream_last[NODES][STREAMS]; /* last line of each stream */
	uint32_t stream_stamp[NODES][STREAMS];
	double last_end;   /* CLOCK_MONOTONIC ns when the previous miss was paid */
	double channel_free[NODES]; /* when this vCPU's transfers on each node end */
	struct own_cost own; /* TCG's own time per latency miss, as it is now */
	uint64_t misses[NODES], streams[NODES], writebacks[NODES];
	uint64_t over_cap; /* latency misses whose own TCG time exceeded the cap */
	uint64_t accesses;
};

static struct vcpu vcpus[MAX_VCPUS];

static int node_of(uint64_t pa)
{
	for (int i = 0; i < cfg.nremote; i++)
		if (pa >= cfg.remote[i].start && pa < cfg.remote[i].end)
			return REMOTE;
	return LOCAL;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Record one miss's own time; at the end of a window, move the cap. */
static void own_record(struct own_cost *c, double own_ns, double calibrated)
{
	unsigned bin = own_ns <= 0 ? 0 : (unsigned)(own_ns / OWN_BIN_NS);
	uint32_t want, seen = 0;
	double cap;

	c->hist[bin < OWN_BINS ? bin : OWN_BINS - 1]++;
	if (++c->n < OWN_WINDOW)
		return;
	want = OWN_WINDOW / 100 * OWN_PERCENTILE;
	for (bin = 0; bin < OWN_BINS; bin++) {
		seen += c->hist[bin];
		if (seen >= want)
			break;
	}
	cap = OWN_CAP_FACTOR * (bin + 0.5) * OWN_BIN_NS;
	if (cap > calibrated * OWN_CAP_BOUND)
		cap = calibrated * OWN_CAP_BOUND;
	if (cap < calibrated / OWN_CAP_BOUND)
		cap = calibrated / OWN_CAP_BOUND;
	c->cap = cap;
	if (cap < c->min_cap)
		c->min_cap = cap;
	if (cap > c->max_cap)
		c->max_cap = cap;
	memset(c->hist, 0, sizeof(c->hist));
	c->n = 0;
}

/* Spin until @until (sleeping is far coarser than these delays). */
static void wait_until(struct vcpu *v, double now, double until)
{
	if (!cfg.inject || now >= until) {
		v->last_end = now;
		return;
	}
	while (now < until)
		now = now_ns();
	/* The overshoot (one clock read) counts towards the next miss. */
	v->last_end = until;
}

/*
 * Charge a latency miss: the time since the previous miss ended (TCG's own
 * work) counts towards it up to the current cap, the rest is spun away. A
 * pointer chase then takes the target per load whatever the host's load
 * is, as long as TCG alone stays under the cap; compute before a dependent
 * load (beyond the cap) adds to it, as on hardware.
 */
static void charge_latency(struct vcpu *v, double target_ns)
{
	struct own_cost *c = &v->own;
	double now = now_ns(), own = now - v->last_end;

	if (cfg.adapt)
		own_record(c, own, cfg.lat_overhead);
	if (own > c->cap) {
		own = c->cap;
		v->over_cap++;
	}
	wait_until(v, now, now + target_ns - own);
}

/*
 * Queue one line's transfer on @node's channel, which prefetch kept busy
 * at most PREFETCH_LINES lines back from now; returns when it ends.
 */
static double transfer(struct vcpu *v, int node, double now)
{
	double ahead = now - PREFETCH_LINES * cfg.line_ns[node];

	if (v->channel_free[node] < ahead)
		v->channel_free[node] = ahead;
	v->channel_free[node] += cfg.line_ns[node];
	return v->channel_free[node];
}

/* Charge a streamed miss (and its write-back): wait until its line is in. */
static void charge_stream(struct vcpu *v, int node, int wb_node)
{
	double now = now_ns(), done;

	if (wb_node >= 0)
		transfer(v, wb_node, now); /* posted: it only occupies the channel */
	done = transfer(v, node, now);
	wait_until(v, now, done);
}

/*
 * Does a miss on @line continue one of @node's streams? Either way the
 * stream (the matching one, or the least recently used) now ends at @line.
 */
static bool continues_stream(struct vcpu *v, int node, uint64_t line)
{
	uint64_t *last = v->stream_last[node];
	uint32_t *stamp = v->stream_stamp[node], oldest = UINT32_MAX;
	int lru = 0;

	for (int i = 0; i < STREAMS; i++) {
		bool next = line == last[i] + 1;
		bool next_page = line % PAGE_LINES == 0 &&
				 last[i] % PAGE_LINES == PAGE_LINES - 1;

		if (next || next_page) {
			last[i] = line;
			stamp[i] = v->clock;
			return true;
		}
		if (stamp[i] < oldest) {
			oldest = stamp[i];
			lru = i;
		}
	}
	last[lru] = line;
	stamp[lru] = v->clock;
	return false;
}

/* Look a line up; on a miss (it is filled, evicting LRU) charge memory. */
static void access_line(struct vcpu *v, uint64_t line, int node, bool store)
{
	int wb_node;

	if (line == v->last_line && (v->last_dirty || !store))
		return; /* already the most recently used line of its set */
	v->last_line = line;
	switch (cache_access(v->set, &cfg.cache, line, node == REMOTE, store, &v->last_dirty,
			     &wb_node)) {
	case CACHE_HIT:
		return;
	case CACHE_UNMODELLED:
		v->last_line = UINT64_MAX;
		return;
	case CACHE_MISS:
		break;
	}
	if (wb_node >= 0)
		v->writebacks[wb_node]++;
	v->clock++;
	v->misses[node]++;
	if (continues_stream(v, node, line)) {
		v->streams[node]++;
		charge_stream(v, node, wb_node);
	} else {
		charge_latency(v, cfg.lat_ns[node] + (wb_node >= 0 ? cfg.line_ns[wb_node] : 0));
	}
}

/*
 * The largest single guest memory access TCG makes on x86 (an AVX2 load or
 * store: 32 bytes). An access that starts at most LINE_BYTES - MAX_ACCESS
 * into its line cannot cross into the next one, so its size need not be
 * asked for.
 */
#define MAX_ACCESS 32

static inline void on_access(unsigned int cpu, qemu_plugin_meminfo_t info, uint64_t vaddr,
			     bool store)
{
	struct qemu_plugin_hwaddr *hw = qemu_plugin_get_hwaddr(info, vaddr);
	struct vcpu *v = &vcpus[cpu % MAX_VCPUS];
	uint64_t pa, first, last;
	int node;

	/* I/O regions (devices, a CXL window under TCG) are not RAM. */
	if (!hw || qemu_plugin_hwaddr_is_io(hw))
		return;
	pa = qemu_plugin_hwaddr_phys_addr(hw);
	node = node_of(pa);
	v->accesses++;
	first = pa >> LINE_SHIFT;
	access_line(v, first, node, store);
	if ((pa & (LINE_BYTES - 1)) <= LINE_BYTES - MAX_ACCESS)
		return;
	last = (pa + (1u << qemu_plugin_mem_size_shift(info)) - 1) >> LINE_SHIFT;
	for (uint64_t l = first + 1; l <= last; l++)
		access_line(v, l, node, store);
}

/* Loads and stores have callbacks of their own: no call asks which it is. */
static void on_load(unsigned int cpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
	(void)udata;
	on_access(cpu, info, vaddr, false);
}

static void on_store(unsigned int cpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
	(void)udata;
	on_access(cpu, info, vaddr, true);
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb);

	(void)id;
	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);

		qemu_plugin_register_vcpu_mem_cb(insn, on_load, QEMU_PLUGIN_CB_NO_REGS,
						 QEMU_PLUGIN_MEM_R, NULL);
		qemu_plugin_register_vcpu_mem_cb(insn, on_store, QEMU_PLUGIN_CB_NO_REGS,
						 QEMU_PLUGIN_MEM_W, NULL);
	}
}

static void on_vcpu_init(qemu_plugin_id_t id, unsigned int cpu)
{
	struct vcpu *v = &vcpus[cpu % MAX_VCPUS];

	(void)id;
	v->set = aligned_alloc(_Alignof(struct cache_set), (size_t)cfg.cache.sets * sizeof(*v->set));
	if (!v->set) {
		fprintf(stderr, "cxltiming: out of memory for vCPU %u's cache model\n", cpu);
		abort();
	}
	for (unsigned i = 0; i < cfg.cache.sets; i++)
		cache_set_init(&v->set[i], cfg.cache.ways);
	for (int n = 0; n < NODES; n++)
		for (int i = 0; i < STREAMS; i++)
			v->stream_last[n][i] = UINT64_MAX - 1;
	v->last_line = UINT64_MAX; /* no line yet */
	v->own.cap = cfg.lat_overhead;
	v->own.min_cap = v->own.max_cap = v->own.cap;
}

static void on_plugin_exit(qemu_plugin_id_t id, void *udata)
{
	uint64_t m[NODES] = { 0 }, s[NODES] = { 0 }, wb[NODES] = { 0 }, acc = 0, oc = 0;
	double lo = cfg.lat_overhead, hi = cfg.lat_overhead;
	char buf[768];

	(void)id;
	(void)udata;
	for (int c = 0; c < MAX_VCPUS; c++) {
		for (int n = 0; n < NODES; n++) {
			m[n] += vcpus[c].misses[n];
			s[n] += vcpus[c].streams[n];
			wb[n] += vcpus[c].writebacks[n];
		}
		acc += vcpus[c].accesses;
		oc += vcpus[c].over_cap;
		if (vcpus[c].accesses && vcpus[c].own.min_cap < lo)
			lo = vcpus[c].own.min_cap;
		if (vcpus[c].accesses && vcpus[c].own.max_cap > hi)
			hi = vcpus[c].own.max_cap;
	}
	snprintf(buf, sizeof(buf),
		 "cxltiming: %" PRIu64 " accesses; node0 misses %" PRIu64 " (%" PRIu64
		 " streaming) write-backs %" PRIu64 "; node1 misses %" PRIu64 " (%" PRIu64
		 " streaming) write-backs %" PRIu64 "; %" PRIu64
		 " latency misses found TCG slower than the cap; cap per latency miss"
		 " %.0f-%.0f ns (calibrated %.0f)\n",
		 acc, m[0], s[0], wb[0], m[1], s[1], wb[1], oc, lo, hi, cfg.lat_overhead);
	qemu_plugin_outs(buf);
	if (cfg.report[0]) {
		FILE *f = fopen(cfg.report, "w");

		if (f) {
			fputs(buf, f);
			fclose(f);
		}
	}
}

static int parse_double(const char *s, double *out)
{
	char *end;

	*out = strtod(s, &end);
	return end != s && *end == '\0' && *out >= 0;
}

static int parse_arg(const char *arg)
{
	const char *eq = strchr(arg, '=');
	char key[32];
	double d;
	size_t klen;

	if (!eq || (klen = (size_t)(eq - arg)) >= sizeof(key))
		return -1;
	memcpy(key, arg, klen);
	key[klen] = '\0';
	if (!strcmp(key, "remote")) {
		struct range r;
		char *end;

		if (cfg.nremote == MAX_RANGES)
			return -1;
		r.start = strtoull(eq + 1, &end, 16);
		if (*end != '-')
			return -1;
		r.end = strtoull(end + 1, &end, 16);
		if (*end || r.end <= r.start)
			return -1;
		cfg.remote[cfg.nremote++] = r;
		return 0;
	}
	if (!strcmp(key, "report")) {
		if (strlen(eq + 1) >= sizeof(cfg.report))
			return -1;
		strcpy(cfg.report, eq + 1);
		return 0;
	}
	if (!parse_double(eq + 1, &d))
		return -1;
	if (!strcmp(key, "local_ns"))
		cfg.lat_ns[LOCAL] = d;
	else if (!strcmp(key, "remote_ns"))
		cfg.lat_ns[REMOTE] = d;
	else if (!strcmp(key, "local_gbs") && d > 0)
		cfg.line_ns[LOCAL] = LINE_BYTES / d;
	else if (!strcmp(key, "remote_gbs") && d > 0)
		cfg.line_ns[REMOTE] = LINE_BYTES / d;
	else if (!strcmp(key, "scale") && d >= 1)
		cfg.scale = d;
	else if (!strcmp(key, "lat_overhead"))
		cfg.lat_overhead = d;
	else if (!strcmp(key, "llc_kib") && d >= 64 && d <= 1 << 20)
		cfg.llc_kib = (unsigned)d;
	else if (!strcmp(key, "ways") && d >= 1 && d <= CACHE_MAX_WAYS)
		cfg.ways = (unsigned)d;
	else if (!strcmp(key, "inject") && (d == 0 || d == 1))
		cfg.inject = (int)d;
	else if (!strcmp(key, "adapt") && (d == 0 || d == 1))
		cfg.adapt = (int)d;
	else
		return -1;
	return 0;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
					   int argc, char **argv)
{
	unsigned kib, sets;

	if (!info->system_emulation) {
		fprintf(stderr, "cxltiming: needs system emulation (guest-physical addresses)\n");
		return -1;
	}
	for (int i = 0; i < argc; i++) {
		if (parse_arg(argv[i])) {
			fprintf(stderr, "cxltiming: bad argument '%s' (see vm/plugin/cxltiming.c)\n",
				argv[i]);
			return -1;
		}
	}
	if (!cfg.nremote || !cfg.lat_ns[LOCAL] || !cfg.lat_ns[REMOTE] ||
	    !cfg.line_ns[LOCAL] || !cfg.line_ns[REMOTE]) {
		fprintf(stderr, "cxltiming: needs remote=, local_ns=, remote_ns=, local_gbs=, remote_gbs=\n");
		return -1;
	}
	if (info->system.max_vcpus > MAX_VCPUS) {
		fprintf(stderr, "cxltiming: at most %d vCPUs\n", MAX_VCPUS);
		return -1;
	}
	kib = cfg.llc_kib ? cfg.llc_kib : 2048;
	sets = kib * 1024 / LINE_BYTES / cfg.ways;
	if (!cache_geometry_init(&cfg.cache, sets, cfg.ways)) {
		fprintf(stderr, "cxltiming: llc_kib/ways must give a power-of-two set count\n");
		return -1;
	}
	for (int n = 0; n < NODES; n++)
		cfg.lat_ns[n] *= cfg.scale;
	qemu_plugin_register_vcpu_init_cb(id, on_vcpu_init);
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
	qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
	return 0;
}
