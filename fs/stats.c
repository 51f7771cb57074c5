/* stats.c - process-wide counters, rendered as `name value` lines. */
#include "cekurafs/stats.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/clock.h"
#include "cekurafs/text.h"

#define MAX_STATUS 600 /* HTTP statuses are 100-599; slot 0 is "no answer" */
#define MAX_ERRNO  256

static atomic_ulong requests[STATS_NENDPOINTS][MAX_STATUS];
static atomic_ulong errors[MAX_ERRNO];
static atomic_ulong cache_hits[STATS_NCACHES];
static atomic_ulong retries, coalesced;
static atomic_long in_flight;
static atomic_long blocked;
static _Atomic double started; /* clock_mono() at stats_reset(); 0 before it */

static const char *const endpoint_names[STATS_NENDPOINTS] = {
	[STATS_LIST] = "list",
	[STATS_AGENT] = "agent",
	[STATS_AUTO_FETCH] = "auto_fetch",
	[STATS_PROGRESS] = "progress",
	[STATS_TOOLS_FETCH] = "tools_fetch",
	[STATS_TOOLS_PROGRESS] = "tools_progress",
	[STATS_HISTORY] = "history",
	[STATS_SCENARIOS] = "scenarios",
	[STATS_RESULTS] = "results",
	[STATS_RESULT] = "result",
	[STATS_END_CALLS] = "end_calls",
	[STATS_RUN] = "run",
};

static const char *const cache_names[STATS_NCACHES] = {
	[STATS_CACHE_LISTING] = "listing", [STATS_CACHE_PROGRESS] = "progress",
	[STATS_CACHE_CONFIG] = "config",   [STATS_CACHE_NEGATIVE] = "negative",
	[STATS_CACHE_HISTORY] = "history", [STATS_CACHE_EVALUATORS] = "evaluators",
	[STATS_CACHE_RESULTS] = "results",
};

void stats_request(enum stats_endpoint ep, long status)
{
	if(ep >= STATS_NENDPOINTS)
		return;
	if(status < 100 || status >= MAX_STATUS)
		status = 0;
	atomic_fetch_add(&requests[ep][status], 1);
}

void stats_in_flight(int delta)
{
	atomic_fetch_add(&in_flight, delta);
}

void stats_blocked(int delta)
{
	atomic_fetch_add(&blocked, delta);
}

void stats_retry(void)
{
	atomic_fetch_add(&retries, 1);
}

void stats_error(int err)
{
	if(err > 0 && err < MAX_ERRNO)
		atomic_fetch_add(&errors[err], 1);
}

void stats_coalesced(void)
{
	atomic_fetch_add(&coalesced, 1);
}

void stats_cache_hit(enum stats_cache c)
{
	if(c < STATS_NCACHES)
		atomic_fetch_add(&cache_hits[c], 1);
}

/* The symbolic name of an errno ("EIO"), or its number. */
static void add_errno(struct text_buf *t, int err, unsigned long count)
{
	const char *name = strerrorname_np(err);

	if(name)
		text_buf_printf(t, "errors_%s %lu\n", name, count);
	else
		text_buf_printf(t, "errors_%d %lu\n", err, count);
}

char *stats_render(void)
{
	struct text_buf t = {0};
	double since = atomic_load(&started);

	text_buf_printf(&t, "uptime_seconds %lld\n", since ? (long long)(clock_mono() - since) : 0);
	text_buf_printf(&t, "requests_in_flight %ld\n", atomic_load(&in_flight));
	text_buf_printf(&t, "readers_blocked %ld\n", atomic_load(&blocked));
	for(int ep = 0; ep < STATS_NENDPOINTS; ep++) {
		for(int status = 0; status < MAX_STATUS; status++) {
			unsigned long n = atomic_load(&requests[ep][status]);

			if(n == 0)
				continue;
			if(status == 0)
				text_buf_printf(&t, "requests_%s_failed %lu\n", endpoint_names[ep], n);
			else
				text_buf_printf(&t, "requests_%s_%d %lu\n", endpoint_names[ep], status, n);
		}
	}
	text_buf_printf(&t, "retries %lu\n", atomic_load(&retries));
	for(int err = 1; err < MAX_ERRNO; err++) {
		unsigned long n = atomic_load(&errors[err]);

		if(n)
			add_errno(&t, err, n);
	}
	text_buf_printf(&t, "coalesced_polls %lu\n", atomic_load(&coalesced));
	for(int c = 0; c < STATS_NCACHES; c++)
		text_buf_printf(&t, "cache_hits_%s %lu\n", cache_names[c], atomic_load(&cache_hits[c]));
	return text_buf_take(&t, NULL);
}

void stats_reset(void)
{
	for(int ep = 0; ep < STATS_NENDPOINTS; ep++)
		for(int status = 0; status < MAX_STATUS; status++)
			atomic_store(&requests[ep][status], 0);
	for(int err = 0; err < MAX_ERRNO; err++)
		atomic_store(&errors[err], 0);
	for(int c = 0; c < STATS_NCACHES; c++)
		atomic_store(&cache_hits[c], 0);
	atomic_store(&retries, 0);
	atomic_store(&coalesced, 0);
	atomic_store(&in_flight, 0);
	atomic_store(&blocked, 0);
	atomic_store(&started, clock_mono());
}
