/* registry_options.h - what the registry is told at start (-o options, checked). Types only. */
#ifndef CEKURAFS_REGISTRY_OPTIONS_H
#define CEKURAFS_REGISTRY_OPTIONS_H

struct registry_options {
	double poll_interval;	     /* seconds between two polls of one job */
	double list_ttl;	     /* seconds a listing, a lookup or an agent's configuration is reused */
	double wait_timeout;	     /* seconds `wait` and `events` block at most */
	double result_poll_interval; /* seconds between two GETs of one test result */
	double result_wait_timeout;  /* seconds results/<id>/wait blocks at most */
	double run_timeout;	     /* budget of one run POST */
	unsigned long max_runs;	     /* most conversations one write to `run` may start (E2BIG past it) */
	const char *state_dir;
	/* Most readers blocked at once in wait or events (each holds a FUSE
	 * worker); one more gets -EAGAIN at once. 0: no limit. */
	unsigned max_blocked;
};

#endif
