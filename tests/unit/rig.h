/* rig.h - what the tests of the registry and of the nodes stand on: a fake
 * transport, the real API client on it, and a registry on that.
 *
 *   struct rig_base b;
 *   rig_up(&b, &opt, entries, n);     registry knowing entries' jobs (opt NULL: none yet)
 *   ...
 *   rig_down(&b);                     registry, API and fake, in that order
 */
#ifndef CEKURAFS_TEST_RIG_H
#define CEKURAFS_TEST_RIG_H

#include <stddef.h>

#include "cekurafs/registry.h"
#include "fake_transport.h"

/* One-stage progress answers, as the API sends them. */
#define RIG_IN_PROGRESS                                                                                      \
	"{\"status\": \"in_progress\", \"current_stage\": \"tools\", \"stages\": "                           \
	"[{\"name\": \"tools\", \"status\": \"in_progress\"}], \"error\": null}"
#define RIG_COMPLETED                                                                                        \
	"{\"status\": \"completed\", \"current_stage\": \"\", \"stages\": "                                  \
	"[{\"name\": \"tools\", \"status\": \"completed\"}], \"error\": null}"

struct rig_base {
	struct fake *f;
	struct api *api;
	struct registry *reg; /* NULL until made */
};

/* Makes the fake and the API, and the registry when opt is not NULL. 0 or -1. */
int rig_up(struct rig_base *b, const struct registry_options *opt, const struct state_entry *entries,
	   size_t n);

/* Frees what rig_up() made (and a registry the test made in b->reg). */
void rig_down(struct rig_base *b);

/* The state file in dir (its first 4095 bytes), "" when there is none: a new string. */
char *rig_state_file(const char *dir);

/* Removes a test's state directory and the files in it. */
void rig_remove_dir(const char *dir);

#endif
