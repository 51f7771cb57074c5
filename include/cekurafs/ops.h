/* ops.h - the FUSE operations table: thin adapters from a path to a node handler. */
#ifndef CEKURAFS_OPS_H
#define CEKURAFS_OPS_H

#define FUSE_USE_VERSION 312
#include <fuse.h>
#include <time.h>

#include "cekurafs/agents.h"

/* What every operation reaches through fuse_get_context()->private_data. */
struct ops_context {
	struct registry *reg; /* borrowed */
	uid_t uid;	      /* owner shown for every node: the mounting user */
	gid_t gid;
	struct timespec mounted; /* times shown for every node */
};

const struct fuse_operations *ops_table(void);

#endif
