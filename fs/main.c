/* main.c - options and settings, start-up, the FUSE loop. Everything, once.
 *
 *   $ export CEKURA_API_KEY=...            # or -o api_key_file=FILE (mode 0600)
 *   $ cekurafs /mnt/cekura                 # -f to stay in the foreground
 *   $ echo 1 > /mnt/cekura/agents/42/refetch
 *   $ fusermount3 -u /mnt/cekura
 *
 * It refuses to start, with one line on stderr, when no key is found, the key
 * file is readable by others, api_url is plain http to a non-loopback host, an
 * option is unknown, the mount point is not a directory or is (or is inside) a
 * cekurafs mount, or the state directory cannot be written: all of that is
 * checked before the first request to the API.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cekurafs/registry.h"
#include "cekurafs/api.h"
#include "cekurafs/log.h"
#include "cekurafs/ops.h"
#include "cekurafs/stats.h"

#include <fuse_lowlevel.h>
#include "cekurafs/state.h"

#define DEFAULT_API_URL "https://api.cekura.ai"
/* FUSE workers: libfuse starts them as requests come, up to this many. A
 * reader blocked in `wait` or `events` holds one; WORKERS_RESERVED of them
 * (or an eighth, if more) never serve such a reader, so that `ls`, other
 * reads and the blocked readers' own interrupts are always served. Idle
 * workers past DEFAULT_IDLE_THREADS end. */
#define DEFAULT_MAX_THREADS  256
#define DEFAULT_IDLE_THREADS 16
#define WORKERS_RESERVED     8
#define MAX_KEY		     4096

/* The options as given; strings are owned (fuse_opt allocates them). */
struct options {
	char *api_url;
	char *api_key_file;
	char *state_dir;
	char *cacert;
	char *loglevel;
	char *poll_interval;
	char *list_ttl;
	char *timeout;
	char *connect_timeout;
	char *wait_timeout;
	char *result_poll_interval;
	char *result_wait_timeout;
	char *run_timeout;
	char *max_runs;
	int show_help;
	int show_version;
	char *positional[2]; /* [SOURCE] MOUNTPOINT */
	int npositional;
};

/* Keys of arguments accepted and dropped. */
#define KEY_IGNORE 1

#define OPTION(t, p)                                                                                         \
	{                                                                                                    \
		t, offsetof(struct options, p), 1                                                            \
	}
static const struct fuse_opt option_spec[] = {
	OPTION("api_url=%s", api_url),
	OPTION("api_key_file=%s", api_key_file),
	OPTION("state_dir=%s", state_dir),
	OPTION("cacert=%s", cacert),
	OPTION("loglevel=%s", loglevel),
	OPTION("poll_interval=%s", poll_interval),
	OPTION("list_ttl=%s", list_ttl),
	OPTION("timeout=%s", timeout),
	OPTION("connect_timeout=%s", connect_timeout),
	OPTION("wait_timeout=%s", wait_timeout),
	OPTION("result_poll_interval=%s", result_poll_interval),
	OPTION("result_wait_timeout=%s", result_wait_timeout),
	OPTION("run_timeout=%s", run_timeout),
	OPTION("max_runs=%s", max_runs),
	OPTION("-h", show_help),
	OPTION("--help", show_help),
	OPTION("-V", show_version),
	OPTION("--version", show_version),
	/* What mount(8) hands a helper (mount.fuse.cekurafs SOURCE DIR -n -o ... -t fuse.cekurafs),
	 * and the words of an fstab line that are for mount and systemd, not for us. */
	FUSE_OPT_KEY("-t ", KEY_IGNORE),
	FUSE_OPT_KEY("-n", KEY_IGNORE),
	FUSE_OPT_KEY("-v", KEY_IGNORE),
	FUSE_OPT_KEY("_netdev", KEY_IGNORE),
	FUSE_OPT_KEY("auto", KEY_IGNORE),
	FUSE_OPT_KEY("noauto", KEY_IGNORE),
	FUSE_OPT_KEY("user", KEY_IGNORE),
	FUSE_OPT_KEY("nouser", KEY_IGNORE),
	FUSE_OPT_KEY("users", KEY_IGNORE),
	FUSE_OPT_KEY("nofail", KEY_IGNORE),
	FUSE_OPT_KEY("defaults", KEY_IGNORE),
	FUSE_OPT_END,
};

/* The settings the daemon runs with: the options, checked. Owns every string. */
struct settings {
	char *api_url;
	char *key;
	char *state_dir;
	enum log_level level;
	double poll_interval, list_ttl, timeout, connect_timeout, wait_timeout;
	double result_poll_interval, result_wait_timeout, run_timeout;
	unsigned long max_runs;
};

/* libfuse's messages, into log.c (libfuse's levels are syslog's). */
static void fuse_message(enum fuse_log_level level, const char *fmt, va_list ap)
{
	log_from_fuse((int)level, fmt, ap);
}

static void show_help(const char *progname)
{
	printf("usage: %s [options] [SOURCE] <mountpoint>\n\n", progname);
	printf("The Cekura API as files: agents/<id>/{refetch,progress,wait,error,agent.json,...},\n"
	       "agents/by-name/<name>, .cekurafs/{version,config,stats}. See cekurafs(1).\n"
	       "The key comes from -o api_key_file=FILE (mode 0600) or $CEKURA_API_KEY.\n"
	       "SOURCE is accepted and ignored, so that fstab can mount type fuse.cekurafs.\n"
	       "Exit status: 0 after a clean unmount, 1 when it refuses to start or cannot mount.\n\n"
	       "cekurafs options:\n"
	       "    -o api_url=URL          API base URL ($CEKURA_API_URL or " DEFAULT_API_URL ");\n"
	       "                            plain http:// only to a loopback host\n"
	       "    -o api_key_file=FILE    file holding the API key; must not be group/world readable\n"
	       "    -o state_dir=DIR        where progress ids survive restarts\n"
	       "                            ($XDG_STATE_HOME/cekurafs, /var/lib/cekurafs for root)\n"
	       "    -o cacert=FILE          CA certificates to verify the API with (a private CA)\n"
	       "    -o loglevel=LEVEL       error, warn, info (default) or debug\n"
	       "    -o poll_interval=SECS   least time between two progress polls of an agent (1)\n"
	       "    -o list_ttl=SECS        how long the agent listing is reused (30)\n"
	       "    -o timeout=SECS         whole budget of one API call, retries included (30)\n"
	       "    -o connect_timeout=SECS budget of one connection attempt (10)\n"
	       "    -o wait_timeout=SECS    longest a read of `wait` blocks (600)\n"
	       "    -o result_poll_interval=SECS  least time between two GETs of one test result (5)\n"
	       "    -o result_wait_timeout=SECS   longest a read of results/<id>/wait blocks (3600)\n"
	       "    -o run_timeout=SECS     budget of one run POST (120)\n"
	       "    -o max_runs=N           most conversations one write to `run` may start (200)\n"
	       "    -o _netdev,noauto,...   fstab words for mount and systemd: ignored\n\n");
}

static void refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void refuse(const char *fmt, ...)
{
	va_list ap;

	fputs("cekurafs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* fuse_opt_parse()'s callback: drops the ignored words and `x-*` options,
 * keeps the positional arguments (SOURCE is accepted so that mount(8) and
 * fstab can call us as mount.cekurafs), passes the rest on to FUSE. */
static int on_arg(void *data, const char *arg, int key, struct fuse_args *out)
{
	struct options *o = data;

	(void)out;
	if(key == KEY_IGNORE || (key == FUSE_OPT_KEY_OPT && strncmp(arg, "x-", 2) == 0))
		return 0;
	if(key != FUSE_OPT_KEY_NONOPT)
		return 1;
	if(o->npositional == 2) {
		refuse("too many arguments at '%s'; usage: cekurafs [SOURCE] MOUNTPOINT [-o OPTIONS]", arg);
		return -1;
	}
	o->positional[o->npositional] = strdup(arg);
	return o->positional[o->npositional++] ? 0 : -1;
}

/* Parses decimal seconds into *out; min is the least value allowed. */
static int parse_seconds(const char *name, const char *text, double dflt, double min, double *out)
{
	char *end;
	double v;

	if(!text) {
		*out = dflt;
		return 0;
	}
	errno = 0;
	v = strtod(text, &end);
	if(errno || end == text || *end || !isfinite(v) || v < min || v > 1e6) {
		refuse("-o %s=%s: expected seconds, a decimal number %s %g", name, text,
		       min > 0 ? ">" : ">=", min > 0 ? 0 : min);
		return -1;
	}
	*out = v;
	return 0;
}

/* A count option: a canonical decimal integer from 1 to 1000000, else dflt when not given. */
static int parse_count(const char *name, const char *text, unsigned long dflt, unsigned long *out)
{
	char *end;
	unsigned long v;

	if(!text) {
		*out = dflt;
		return 0;
	}
	errno = 0;
	v = strtoul(text, &end, 10);
	if(errno || end == text || *end || text[0] < '1' || text[0] > '9' || v > 1000000) {
		refuse("-o %s=%s: expected a whole number from 1 to 1000000", name, text);
		return -1;
	}
	*out = v;
	return 0;
}

/* Whether host (as in a URL's authority) is a loopback address. */
static bool loopback_host(const char *host, size_t len)
{
	char buf[64];
	struct in_addr a4;

	if(len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, host, len);
	buf[len] = '\0';
	if(strcasecmp(buf, "localhost") == 0 || strcmp(buf, "[::1]") == 0)
		return true;
	return inet_pton(AF_INET, buf, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* https:// anywhere; http:// only to loopback; no user info in the URL.
 * libcurl's URL parser reads it (http_url_split()), as it will be sent. */
static int check_url(const char *url)
{
	struct http_url u;
	int rc = http_url_split(url, &u);
	bool web = rc == 0 ? strcmp(u.scheme, "https") == 0 || strcmp(u.scheme, "http") == 0
			   : strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0;

	/* the scheme as written, in lower case: `next` links are compared with api_url as text */
	if(!web || (rc == 0 && strncmp(url, u.scheme, strlen(u.scheme)) != 0)) {
		refuse("api_url %s: expected an https:// URL (or http:// to a loopback host)", url);
		return -1;
	}
	if(rc != 0 || u.userinfo || !*u.host) {
		refuse("api_url %s: expected scheme://host[:port][/path], without user or password", url);
		return -1;
	}
	if(strcmp(u.scheme, "http") == 0 && !loopback_host(u.host, strlen(u.host))) {
		refuse("api_url %s: plain http is allowed only to a loopback host; use https://", url);
		return -1;
	}
	return 0;
}

/* Reads the key from the file (which must be ours and private) or the environment. */
static int load_key(const char *file, char **key)
{
	char buf[MAX_KEY + 2];
	struct stat st;
	ssize_t n;
	size_t len;
	int fd;

	if(!file) {
		char *env = getenv("CEKURA_API_KEY");

		if(!env || !*env) {
			refuse("no API key: set CEKURA_API_KEY or use -o api_key_file=FILE");
			return -1;
		}
		len = strlen(env);
		*key = strdup(env);
		/* Scrub it from our environment block, which /proc/PID/environ shows. */
		explicit_bzero(env, len);
		unsetenv("CEKURA_API_KEY");
		if(*key && len > MAX_KEY) {
			refuse("CEKURA_API_KEY: the key is longer than %d bytes", MAX_KEY);
			return -1; /* *key is wiped and freed with the settings */
		}
		return *key ? 0 : -1;
	}
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if(fd < 0) {
		refuse("api_key_file %s: %s", file, strerror(errno));
		return -1;
	}
	if(fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		refuse("api_key_file %s: not a regular file", file);
		close(fd);
		return -1;
	}
	if(st.st_uid != getuid()) {
		refuse("api_key_file %s: owned by uid %u, not by you (uid %u)", file, (unsigned)st.st_uid,
		       (unsigned)getuid());
		close(fd);
		return -1;
	}
	if(st.st_mode & 077) {
		refuse("api_key_file %s: mode %03o lets others read the key; run chmod 600 %s", file,
		       (unsigned)(st.st_mode & 0777), file);
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if(n < 0) {
		refuse("api_key_file %s: %s", file, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	while(len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		buf[--len] = '\0';
	if(len == 0 || len > MAX_KEY) {
		if(len == 0)
			refuse("api_key_file %s: expected the key on its first line", file);
		else
			refuse("api_key_file %s: the key is longer than %d bytes", file, MAX_KEY);
		explicit_bzero(buf, sizeof(buf));
		return -1;
	}
	*key = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return *key ? 0 : -1;
}

/* A key goes into an HTTP header: printable ASCII, no spaces. */
static bool key_ok(const char *key)
{
	for(const char *p = key; *p; p++)
		if(*p <= ' ' || *p > '~')
			return false;
	return *key != '\0';
}

static char *default_state_dir(void)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char *dir = NULL;

	if(getuid() == 0)
		return strdup("/var/lib/cekurafs");
	if(xdg && *xdg == '/')
		return asprintf(&dir, "%s/cekurafs", xdg) < 0 ? NULL : dir;
	if(home && *home == '/')
		return asprintf(&dir, "%s/.local/state/cekurafs", home) < 0 ? NULL : dir;
	return NULL;
}

static void options_free(struct settings *set)
{
	if(set->key) {
		explicit_bzero(set->key, strlen(set->key));
		free(set->key);
	}
	free(set->api_url);
	free(set->state_dir);
	memset(set, 0, sizeof(*set));
}

/* What .cekurafs/config shows: the options in force, the key only as set or unset. */
static char *settings_text(const struct options *o, const struct settings *set)
{
	char *text = NULL;

	if(asprintf(&text,
		    "api_url %s\napi_key %s\napi_key_file %s\nstate_dir %s\ncacert %s\nloglevel %s\n"
		    "poll_interval %g\nlist_ttl %g\ntimeout %g\nconnect_timeout %g\nwait_timeout %g\n"
		    "result_poll_interval %g\nresult_wait_timeout %g\nrun_timeout %g\nmax_runs %lu\n",
		    set->api_url, set->key && *set->key ? "set" : "unset",
		    o->api_key_file ? o->api_key_file : "none", set->state_dir,
		    o->cacert ? o->cacert : "none", log_level_name(set->level), set->poll_interval,
		    set->list_ttl, set->timeout, set->connect_timeout, set->wait_timeout,
		    set->result_poll_interval, set->result_wait_timeout, set->run_timeout, set->max_runs) < 0)
		return NULL;
	return text;
}

/* Turns options into checked settings. Returns 0, or -1 after one line on stderr. */
static int settings_load(const struct options *o, struct settings *set)
{
	const char *url = o->api_url ? o->api_url : getenv("CEKURA_API_URL");

	memset(set, 0, sizeof(*set));
	set->level = LOGL_INFO;
	if(o->loglevel && log_parse_level(o->loglevel, &set->level) != 0) {
		refuse("-o loglevel=%s: expected error, warn, info or debug", o->loglevel);
		return -1;
	}
	if(parse_seconds("poll_interval", o->poll_interval, 1, 0, &set->poll_interval) ||
	   parse_seconds("list_ttl", o->list_ttl, 30, 0, &set->list_ttl) ||
	   parse_seconds("timeout", o->timeout, 30, 0.001, &set->timeout) ||
	   parse_seconds("connect_timeout", o->connect_timeout, 10, 0.001, &set->connect_timeout) ||
	   parse_seconds("wait_timeout", o->wait_timeout, 600, 0.001, &set->wait_timeout) ||
	   parse_seconds("result_poll_interval", o->result_poll_interval, 5, 0, &set->result_poll_interval) ||
	   parse_seconds("result_wait_timeout", o->result_wait_timeout, 3600, 0.001,
			 &set->result_wait_timeout) ||
	   parse_seconds("run_timeout", o->run_timeout, 120, 0.001, &set->run_timeout) ||
	   parse_count("max_runs", o->max_runs, 200, &set->max_runs))
		return -1;
	set->api_url = strdup(url && *url ? url : DEFAULT_API_URL);
	if(!set->api_url || check_url(set->api_url) != 0)
		return -1;
	if(o->cacert && access(o->cacert, R_OK) != 0) {
		refuse("cacert %s: %s", o->cacert, strerror(errno));
		return -1;
	}
	set->state_dir = o->state_dir ? strdup(o->state_dir) : default_state_dir();
	if(!set->state_dir) {
		refuse("no state directory: set -o state_dir=DIR (or HOME)");
		return -1;
	}
	if(set->state_dir[0] != '/') {
		refuse("state_dir %s: expected an absolute path", set->state_dir);
		return -1;
	}
	if(load_key(o->api_key_file, &set->key) != 0)
		return -1;
	if(!key_ok(set->key)) {
		refuse("the API key must be one word of printable characters");
		return -1;
	}
	return 0;
}

#define FSTYPE "fuse.cekurafs"

/* Undoes the octal escapes of /proc/self/mountinfo (\040 for a space), in place. */
static void unescape_mount_path(char *s)
{
	char *out = s;

	for(; *s; s++) {
		if(s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		   s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* Whether the mount point point is path or one of its parents. */
static bool path_under(const char *path, const char *point)
{
	size_t n = strlen(point);

	if(strcmp(point, "/") == 0)
		return true;
	return strncmp(path, point, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* The mount that path is on, from /proc/self/mountinfo: among the mounts of
 * device dev (of any device when by_dev is false), the one whose mount point
 * is the longest prefix of path, the later one on a tie (it is on top); else
 * the last one of dev. Returns its mount point (owned) and, in *is_ours,
 * whether its type is fuse.cekurafs; NULL when none is found. */
static char *mount_of(const char *path, bool by_dev, dev_t dev, bool *is_ours)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *best = NULL;
	size_t cap = 0, best_len = 0;
	bool best_under = false;

	*is_ours = false;
	if(!f)
		return NULL;
	while(getline(&line, &cap, f) > 0) {
		/* id parent major:minor root mount-point options [optional...] - type source super */
		char *fields[5], *sep = strstr(line, " - "), *type, *save = NULL;
		unsigned major, minor;
		size_t len;
		bool under;
		int n = 0;

		if(!sep)
			continue;
		*sep = '\0';
		type = sep + 3;
		type[strcspn(type, " \n")] = '\0';
		for(char *w = strtok_r(line, " ", &save); w && n < 5; w = strtok_r(NULL, " ", &save))
			fields[n++] = w;
		if(n < 5 || sscanf(fields[2], "%u:%u", &major, &minor) != 2)
			continue;
		if(by_dev && makedev(major, minor) != dev)
			continue;
		unescape_mount_path(fields[4]);
		under = path_under(path, fields[4]);
		len = strlen(fields[4]);
		if((!by_dev && !under) ||
		   (best && (best_under > under || (under == best_under && len < best_len))))
			continue;
		free(best);
		best = strdup(fields[4]);
		best_len = len;
		best_under = under;
		*is_ours = strcmp(type, FSTYPE) == 0;
		if(!best)
			break;
	}
	free(line);
	fclose(f);
	return best;
}

/* "/dev/fd/N": a /dev/fuse descriptor our parent opened and mounted (libfuse's). */
static bool fuse_fd_mountpoint(const char *dir)
{
	int end = 0;
	unsigned fd;

	return sscanf(dir, "/dev/fd/%u%n", &fd, &end) == 1 && dir[end] == '\0';
}

/* dir made absolute: realpath(), else (a dead mount on the way) by hand. Owned; NULL when out of memory. */
static char *absolute_path(const char *dir)
{
	char cwd[PATH_MAX], *path = realpath(dir, NULL);

	if(path || dir[0] == '/')
		return path ? path : strdup(dir);
	if(!getcwd(cwd, sizeof(cwd)))
		return strdup(dir);
	return asprintf(&path, "%s/%s", cwd, dir) < 0 ? NULL : path;
}

/* The mount point must be an existing directory that is neither a cekurafs
 * mount nor inside one (there every access would be EIO), nor a dead mount.
 * Returns 0, or -1 after one line on stderr. */
static int check_mountpoint(const char *dir)
{
	char *real, *point = NULL;
	struct stat st;
	bool ours = false;
	int rc = -1;

	if(fuse_fd_mountpoint(dir))
		return 0;
	real = absolute_path(dir);
	if(!real) {
		refuse("out of memory");
		return -1;
	}
	if(stat(dir, &st) != 0) {
		if(errno == ENOTCONN) {
			/* Its daemon died: name the dead mount, which may be a parent of dir. */
			point = mount_of(real, false, 0, &ours);
			refuse("mount point %s: %s (a dead mount): run fusermount3 -u %s", dir,
			       strerror(ENOTCONN), point ? point : real);
		} else {
			refuse("mount point %s: %s", dir, strerror(errno));
		}
	} else if(!S_ISDIR(st.st_mode)) {
		refuse("mount point %s: not a directory", dir);
	} else {
		point = mount_of(real, true, st.st_dev, &ours);
		if(point && ours && strcmp(point, real) == 0)
			refuse("mount point %s is already a cekurafs mount (fusermount3 -u %s unmounts it)",
			       dir, point);
		else if(point && ours)
			refuse("mount point %s is inside the cekurafs mount on %s: use one outside it", dir,
			       point);
		else
			rc = 0;
	}
	free(point);
	free(real);
	return rc;
}

/* Takes the lock of dir (*lock_fd, for the daemon's life), then loads the
 * progress ids, moving a corrupt file aside. Returns 0 or -1 (refused, no lock). */
static int load_state(const char *dir, int *lock_fd, struct state_entry **entries, size_t *n)
{
	const char *kinds[JOB_NKINDS + 1];
	char *moved = NULL;
	char holder_text[32] = "pid unknown";
	pid_t holder;
	int rc = state_prepare(dir);

	if(rc != 0) {
		refuse("state_dir %s: %s", dir, strerror(-rc));
		return -1;
	}
	/* Every refetch saves there: find out now, not at the first refetch. */
	rc = state_check_writable(dir);
	if(rc != 0) {
		refuse("state_dir %s: cannot create a file in it (%s): progress ids could not be saved", dir,
		       strerror(-rc));
		return -1;
	}
	rc = state_lock(dir, lock_fd, &holder);
	if(rc == -EBUSY) {
		if(holder > 0)
			snprintf(holder_text, sizeof(holder_text), "pid %ld", (long)holder);
		refuse("state_dir %s is in use by another cekurafs (%s); "
		       "give this mount its own -o state_dir=DIR",
		       dir, holder_text);
		return -1;
	}
	if(rc != 0) {
		refuse("state_dir %s: cannot lock %s/%s: %s", dir, dir, STATE_LOCK_FILE, strerror(-rc));
		return -1;
	}
	job_kind_names(kinds);
	rc = state_load_kinds(dir, kinds, entries, n, &moved);
	if(rc != 0) {
		refuse("state file %s/%s: %s", dir, STATE_FILE, strerror(-rc));
		state_unlock(*lock_fd);
		*lock_fd = -1;
		return -1;
	}
	if(moved) {
		log_warn("state file %s/%s had unreadable lines: moved to %s; kept %zu progress ids", dir,
			 STATE_FILE, moved, *n);
		free(moved);
		/* Written again now, not at the next refetch: the kept ids must
		 * survive a crash that comes first. */
		rc = state_save(dir, *entries, *n);
		if(rc != 0)
			log_warn("state file %s/%s: cannot write the kept progress ids: %s", dir, STATE_FILE,
				 strerror(-rc));
	}
	return 0;
}

static struct registry *hup_registry;

static void on_sighup(int sig)
{
	(void)sig;
	registry_drop_caches(hup_registry);
}

/* SIGHUP drops every cache of reg (libfuse would take it as a request to
 * exit); with reg NULL it is ignored: from the start of main() until the loop
 * runs (its default action would kill a daemon still checking its key, and
 * there is nothing to drop yet), and again once the loop has ended. */
static int install_sighup(struct registry *reg)
{
	struct sigaction sa;

	hup_registry = reg;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = reg ? on_sighup : SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	return sigaction(SIGHUP, &sa, NULL);
}

static bool args_have(const struct fuse_args *args, const char *what)
{
	for(int i = 0; i < args->argc; i++)
		if(strstr(args->argv[i], what))
			return true;
	return false;
}

/* How many readers may block in wait or events at once, with max_threads
 * FUSE workers: all but the reserved ones (none in single-threaded mode,
 * where a blocked reader holds the only worker: -s is for debugging). */
static unsigned blocked_readers_max(unsigned max_threads, bool single)
{
	unsigned reserved = max_threads / 8 > WORKERS_RESERVED ? max_threads / 8 : WORKERS_RESERVED;

	if(single)
		return 0; /* no limit: one reader blocks the mount whatever the limit */
	return max_threads > reserved ? max_threads - reserved : 1;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct options opts = {0};
	struct fuse_cmdline_opts cmd = {0};
	struct settings set = {0};
	struct state_entry *entries = NULL;
	size_t nentries = 0;
	int state_lock_fd = -1;
	struct http_policy policy;
	struct http_transport *transport;
	struct api *api = NULL;
	struct api_error e = {0};
	struct registry *reg = NULL;
	struct ops_context ctx = {0};
	struct fuse_loop_config *loop = NULL;
	struct fuse *fuse = NULL;
	bool given_threads, given_idle, shared;
	unsigned max_threads;
	enum log_level level;
	char *settings = NULL;
	int ret = 1;

	/* Until the loop runs: libfuse then leaves SIGHUP alone, for install_sighup(reg). */
	if(install_sighup(NULL) != 0) {
		refuse("cannot ignore SIGHUP: %s", strerror(errno));
		return 1;
	}
	/* Before the key is read: it never goes into a core file, and no process
	 * without CAP_SYS_PTRACE, even one of our uid, can ptrace us or read our
	 * memory or environment through /proc. fuse_daemonize()'s child inherits it. */
	if(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		refuse("cannot make the process non-dumpable: %s", strerror(errno));
		goto out_args;
	}
	stats_reset();
	/* From the first option parsed: libfuse's refusals, warnings and -d
	 * trace go where ours go (stderr, then syslog once daemonised), one line each. */
	fuse_set_log_func(fuse_message);
	if(fuse_opt_parse(&args, &opts, option_spec, on_arg) != 0)
		goto out_args;
	/* The mount point is the last positional argument; a SOURCE before it is a name only. */
	if(opts.npositional > 0 && fuse_opt_add_arg(&args, opts.positional[opts.npositional - 1]) != 0)
		goto out_args;
	if(opts.show_help) {
		show_help(argv[0]);
		fuse_cmdline_help();
		fuse_lib_help(&args);
		ret = 0;
		goto out_args;
	}
	if(opts.show_version) {
		printf("cekurafs %s\n", CEKURAFS_VERSION);
		printf("FUSE library version %s\n", fuse_pkgversion());
		printf("%s\n", http_library_version());
		ret = 0;
		goto out_args;
	}
	/* Everything is checked before the first request to the API: the mount
	 * point, our options and FUSE's, the state directory. */
	if(opts.npositional > 0 && check_mountpoint(opts.positional[opts.npositional - 1]) != 0)
		goto out_args;
	given_threads = args_have(&args, "max_threads=");
	given_idle = args_have(&args, "max_idle_threads=");
	if(fuse_opt_add_arg(&args, "-ofsname=cekurafs,subtype=cekurafs") != 0)
		goto out_args;
	/* Other users may come in: the kernel must check the modes, always. */
	if(args_have(&args, "allow_other") && fuse_opt_add_arg(&args, "-odefault_permissions") != 0)
		goto out_args;
	shared = args_have(&args, "allow_other");
	if(fuse_parse_cmdline(&args, &cmd) != 0)
		goto out_args;
	max_threads = given_threads ? cmd.max_threads : DEFAULT_MAX_THREADS;
	if(!cmd.mountpoint) {
		refuse("no mount point; usage: %s [options] <mountpoint> (see --help)", argv[0]);
		goto out_cmd;
	}
	if(settings_load(&opts, &set) != 0)
		goto out_settings;
	/* -d asks for libfuse's trace, which it logs at its debug level */
	level = cmd.debug ? LOGL_DEBUG : set.level;
	log_init(level, false);
	if(ops_prepare_interrupts() != 0) {
		refuse("cannot install the interrupt signal handler: %s", strerror(errno));
		goto out_settings;
	}
	/* fuse_new() refuses an unknown option (one line); it does not mount.
	 * ctx is filled in below, before the mount. */
	fuse = fuse_new(&args, ops_table(), sizeof(*ops_table()), &ctx);
	if(!fuse)
		goto out_settings;
	if(load_state(set.state_dir, &state_lock_fd, &entries, &nentries) != 0)
		goto out_fuse;
	if(http_global_init() != 0) {
		refuse("libcurl failed to initialise");
		goto out_state;
	}
	policy = (struct http_policy){
		.timeout = set.timeout,
		.connect_timeout = set.connect_timeout,
		.max_retries = 3,
		.backoff = 0.25,
	};
	transport = http_curl_new(opts.cacert);
	api = transport ? api_new(transport, set.api_url, set.key, &policy) : NULL;
	if(!api) {
		if(transport)
			transport->destroy(transport);
		refuse("out of memory");
		goto out_curl;
	}
	if(api_check(api, &e) != 0) {
		if(e.err == EACCES) {
			refuse("the API rejected the key: %s", e.msg);
			goto out_api;
		}
		log_warn("cannot check the key now (%s): mounting anyway", e.msg);
	}
	struct registry_options ropt = {
		.poll_interval = set.poll_interval,
		.list_ttl = set.list_ttl,
		.wait_timeout = set.wait_timeout,
		.result_poll_interval = set.result_poll_interval,
		.result_wait_timeout = set.result_wait_timeout,
		.run_timeout = set.run_timeout,
		.max_runs = set.max_runs,
		.state_dir = set.state_dir,
		.max_blocked = blocked_readers_max(max_threads, cmd.singlethread),
	};
	reg = registry_new(api, &ropt, entries, nentries);
	if(!reg) {
		refuse("out of memory");
		goto out_api;
	}
	ctx.reg = reg;
	ctx.settings = settings = settings_text(&opts, &set);
	if(!settings) {
		refuse("out of memory");
		goto out_registry;
	}
	ctx.shared = shared;
	ctx.uid = getuid();
	ctx.gid = getgid();
	clock_gettime(CLOCK_REALTIME, &ctx.mounted);
	if(fuse_mount(fuse, cmd.mountpoint) != 0)
		goto out_registry;
	log_info("mounted on %s, API %s, state in %s (%zu progress ids)", cmd.mountpoint, set.api_url,
		 set.state_dir, nentries);
	if(fuse_daemonize(cmd.foreground) != 0)
		goto out_unmount;
	log_init(level, !cmd.foreground);
	if(state_lock_update_pid(state_lock_fd) != 0) /* the daemon is now fuse_daemonize()'s child */
		log_warn("state_dir %s: cannot write our pid into its lock file", set.state_dir);
	if(fuse_set_signal_handlers(fuse_get_session(fuse)) != 0)
		goto out_unmount;
	if(install_sighup(reg) != 0)
		goto out_signals;
	if(cmd.singlethread) {
		ret = fuse_loop(fuse);
	} else {
		loop = fuse_loop_cfg_create();
		if(!loop)
			goto out_signals;
		fuse_loop_cfg_set_clone_fd(loop, (unsigned)cmd.clone_fd);
		fuse_loop_cfg_set_idle_threads(loop,
					       given_idle ? cmd.max_idle_threads : DEFAULT_IDLE_THREADS);
		fuse_loop_cfg_set_max_threads(loop, max_threads);
		ret = fuse_loop_mt(fuse, loop);
		fuse_loop_cfg_destroy(loop);
	}
	/* The loop returns the signal number after SIGTERM or SIGINT: a clean stop. */
	ret = ret >= 0 ? 0 : 1;
	log_info("unmounting %s", cmd.mountpoint);
out_signals:
	fuse_remove_signal_handlers(fuse_get_session(fuse));
	install_sighup(NULL); /* the registry goes */
out_unmount:
	fuse_unmount(fuse);
out_registry:
	/* Before the registry: its destroy releases the files still open, which use it. */
	fuse_destroy(fuse);
	fuse = NULL;
	registry_free(reg);
	free(settings);
out_api:
	api_free(api);
out_curl:
	http_global_cleanup();
out_state:
	state_free(entries, nentries);
	state_unlock(state_lock_fd);
out_fuse:
	if(fuse)
		fuse_destroy(fuse);
out_settings:
	options_free(&set);
out_cmd:
	free(cmd.mountpoint);
out_args:
	fuse_opt_free_args(&args);
	free(opts.api_url);
	free(opts.api_key_file);
	free(opts.state_dir);
	free(opts.cacert);
	free(opts.loglevel);
	free(opts.poll_interval);
	free(opts.list_ttl);
	free(opts.timeout);
	free(opts.connect_timeout);
	free(opts.wait_timeout);
	free(opts.result_poll_interval);
	free(opts.result_wait_timeout);
	free(opts.run_timeout);
	free(opts.max_runs);
	free(opts.positional[0]);
	free(opts.positional[1]);
	return ret;
}
