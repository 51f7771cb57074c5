/* registry_options.h - what the registry is told at start (-o options, checked). Types only. */
#ifndef CEKURAFS_REGISTRY_OPTIONS_H
#define CEKURAFS_REGISTRY_OPTIONS_H

struct registry_options {
	double poll_interval; /* seconds between two polls of one job */
	double list_ttl;      /* seconds a listing, a lookup or an agent's configuration is reused */
	double wait_timeout;  /* seconds `wait` and `events` block at most */
	const char *state_dir;
	/* Most readers blocked at once in wait or events (each holds a FUSE
	 * worker); one more gets -EAGAIN at once. 0: no limit. */
	unsigned max_blocked;
};

#endif
