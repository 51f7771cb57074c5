/* log.c - stderr in the foreground, syslog when daemonised, four levels;
 * one line per message, control characters made spaces; libfuse's messages too.
 *
 *   $ cekurafs -f -o loglevel=debug /mnt/cekura
 *   cekurafs: info: mounted on /mnt/cekura, API http://127.0.0.1:8000
 */
#include "cekurafs/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "cekurafs/text.h"

static enum log_level threshold = LOGL_INFO;
static bool to_syslog;

static const char *const level_names[] = {
	[LOGL_ERROR] = "error",
	[LOGL_WARN] = "warn",
	[LOGL_INFO] = "info",
	[LOGL_DEBUG] = "debug",
};

static const int syslog_priorities[] = {
	[LOGL_ERROR] = LOG_ERR,
	[LOGL_WARN] = LOG_WARNING,
	[LOGL_INFO] = LOG_INFO,
	[LOGL_DEBUG] = LOG_DEBUG,
};

void log_init(enum log_level level, bool use_syslog)
{
	threshold = level;
	if(use_syslog && !to_syslog)
		openlog("cekurafs", LOG_PID, LOG_DAEMON);
	to_syslog = use_syslog;
}

int log_parse_level(const char *name, enum log_level *out)
{
	for(size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if(strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

bool log_enabled(enum log_level level)
{
	return level <= threshold;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if(!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One line per message, whatever the caller passed in: texts from the
	 * API (details, URLs) may hold newlines, or escape sequences that would
	 * rewrite a terminal showing the log. Every control byte becomes a space. */
	text_scrub(line);
	if(to_syslog)
		syslog(syslog_priorities[level], "%s", line);
	else
		fprintf(stderr, "cekurafs: %s: %s\n", level_names[level], line);
}

const char *log_level_name(enum log_level level)
{
	return level_names[level];
}

/* libfuse writes some messages in pieces ("fuse: unknown option(s): `", "-o ",
 * "foo=bar", "'\n"): a line is written when its newline comes, at the level
 * of its first piece. Per thread, as libfuse logs from any. */
static _Thread_local struct {
	char text[1024];
	size_t len;
	enum log_level level;
} fuse_line;

void log_from_fuse(int level, const char *fmt, va_list ap)
{
	enum log_level ours = level <= LOG_ERR	     ? LOGL_ERROR
			      : level == LOG_WARNING ? LOGL_WARN
			      : level <= LOG_INFO    ? LOGL_INFO
						     : LOGL_DEBUG;
	char piece[1024];
	const char *p = piece;

	vsnprintf(piece, sizeof(piece), fmt, ap);
	for(;;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		size_t room = sizeof(fuse_line.text) - 1 - fuse_line.len;

		if(fuse_line.len == 0)
			fuse_line.level = ours;
		memcpy(fuse_line.text + fuse_line.len, p, n < room ? n : room); /* a longer line is cut */
		fuse_line.len += n < room ? n : room;
		fuse_line.text[fuse_line.len] = '\0';
		if(!nl)
			return;
		log_msg(fuse_line.level, "%s", fuse_line.text);
		fuse_line.len = 0;
		p = nl + 1;
		if(!*p)
			return;
	}
}
