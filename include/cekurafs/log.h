/* log.h - one place for messages meant for humans.
 *
 * Foreground daemons write to stderr, daemonised ones to syslog. Every line
 * goes through log_msg(), so the rule "the key never reaches a log" has one
 * place to hold: callers pass text that never contains it.
 */
#ifndef CEKURAFS_LOG_H
#define CEKURAFS_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOGL_ERROR, LOGL_WARN, LOGL_INFO, LOGL_DEBUG };

/* Sets the threshold and the sink. Safe to call again (e.g. after daemonising). */
void log_init(enum log_level level, bool use_syslog);

/* Parses "error", "warn", "info" or "debug". Returns 0, or -EINVAL. */
int log_parse_level(const char *name, enum log_level *out);

/* The name log_parse_level() reads for level. */
const char *log_level_name(enum log_level level);

/* Whether messages of this level are written at all. */
bool log_enabled(enum log_level level);

/* Writes one line (no trailing newline needed): every control character of
 * the formatted text (below 0x20, and 0x7f; newlines and ESC among them)
 * becomes a space. Thread-safe. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* libfuse's own messages (main.c hands them over from fuse_set_log_func()),
 * through log_msg(): level is libfuse's, which is syslog's (LOG_EMERG to
 * LOG_DEBUG); its eight levels become our four (emerg to err are errors,
 * notice is info), a line written when its newline comes (libfuse sends some
 * in pieces), without it. Its debug level is what -d turns on. Thread-safe. */
void log_from_fuse(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define log_error(...) log_msg(LOGL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOGL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOGL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOGL_DEBUG, __VA_ARGS__)

#endif
