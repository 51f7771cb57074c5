/* rig.c - the registry tests' rig (rig.h). */
#include "rig.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rig_up(struct rig_base *b, const struct registry_options *opt, const struct state_entry *entries,
	   size_t n)
{
	memset(b, 0, sizeof(*b));
	b->f = fake_new();
	b->api = b->f ? api_new(fake_transport(b->f), FAKE_BASE_URL, FAKE_KEY, fake_policy()) : NULL;
	if(!b->api)
		return -1;
	if(opt)
		b->reg = registry_new(b->api, opt, entries, n);
	return !opt || b->reg ? 0 : -1;
}

void rig_down(struct rig_base *b)
{
	registry_free(b->reg);
	api_free(b->api);
	fake_free(b->f);
	memset(b, 0, sizeof(*b));
}

void rig_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while(d && (e = readdir(d))) {
		char path[512];

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if(strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlink(path);
	}
	if(d)
		closedir(d);
	rmdir(dir);
}

char *rig_state_file(const char *dir)
{
	char path[512], *buf = calloc(1, 4096);
	FILE *f;

	if(!buf)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE);
	f = fopen(path, "r");
	if(f) {
		buf[fread(buf, 1, 4095, f)] = '\0';
		fclose(f);
	}
	return buf;
}
