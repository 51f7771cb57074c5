/* ops.h - the FUSE operations table: thin adapters from a path to a node handler. */
#ifndef CEKURAFS_OPS_H
#define CEKURAFS_OPS_H

#define FUSE_USE_VERSION 312
#include <fuse.h>
#include <stdbool.h>
#include <time.h>

struct registry;

/* What every operation reaches through fuse_get_context()->private_data. */
struct ops_context {
	struct registry *reg; /* borrowed */
	uid_t uid;	      /* owner shown for every node: the mounting user */
	gid_t gid;
	struct timespec mounted; /* times shown for every node */
	const char *settings;	 /* .cekurafs/config: the options in force; borrowed */
	/* allow_other: other users reach the mount (the kernel checks the modes,
	 * default_permissions); rows marked owner_only are then 0400. */
	bool shared;
};

const struct fuse_operations *ops_table(void);

/* Installs the handler of the signal libfuse sends a worker thread whose
 * request was interrupted (Ctrl-C on a blocked `cat wait`), so that the
 * thread's blocking call returns at once. Call before fuse_new(). 0 or -1. */
int ops_prepare_interrupts(void);

#endif
