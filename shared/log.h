/* log.h - leveled, key=value structured logging to stderr or syslog.
 * A line: ts=2026-11-28T20:50:00.123Z level=info event=vm.start vm=1 pid=42
 * `event` is a short dotted name; the rest are key=value fields. */
#ifndef PETRI_LOG_H
#define PETRI_LOG_H

#include <stddef.h>

enum log_level { LOG_LVL_DEBUG = 0, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

/* ident: program name for syslog; level: minimum level written;
 * use_syslog: 0 = stderr, 1 = syslog(3). May be called again to reconfigure. */
void log_init(const char *ident, int level, int use_syslog);
/* "debug"|"info"|"warn"|"error" -> level, or -1. */
int log_level_parse(const char *s);
int log_level(void);

/* fields: printf format of key=value pairs (may be "" ). */
void log_at(int level, const char *event, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));
/* Logs at error level and exits with status 1. For "cannot start". */
void fatal(const char *event, const char *fields, ...)
    __attribute__((format(printf, 2, 3), noreturn));

#define log_debug(ev, ...) log_at(LOG_LVL_DEBUG, ev, __VA_ARGS__)
#define log_info(ev, ...) log_at(LOG_LVL_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_at(LOG_LVL_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_at(LOG_LVL_ERROR, ev, __VA_ARGS__)

/* Quotes s for a field value: wraps in double quotes and escapes ", \,
 * and control bytes (as \n, \t, \xNN). Always NUL-terminates buf; truncates
 * with "..." when it does not fit. Returns buf. */
const char *log_quote(const char *s, char *buf, size_t cap);

#endif
