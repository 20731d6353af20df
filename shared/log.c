/* log.c - leveled key=value logging (log.h). Each stderr line is built in
 * one buffer and written with a single write(2), so lines from concurrent
 * processes or threads never interleave mid-line. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static int g_level = LOG_LVL_INFO;
static int g_syslog;
static char g_ident[64] = "petri";

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *ident, int level, int use_syslog)
{
    if (g_syslog)
        closelog();
    if (ident && *ident)
        snprintf(g_ident, sizeof g_ident, "%s", ident);
    if (level < LOG_LVL_DEBUG)
        level = LOG_LVL_DEBUG;
    if (level > LOG_LVL_ERROR)
        level = LOG_LVL_ERROR;
    g_level = level;
    g_syslog = use_syslog ? 1 : 0;
    if (g_syslog)
        openlog(g_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int log_level_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    if (strcmp(s, "warning") == 0)
        return LOG_LVL_WARN;
    return -1;
}

int log_level(void)
{
    return g_level;
}

static int syslog_prio(int level)
{
    switch (level) {
    case LOG_LVL_DEBUG:
        return LOG_DEBUG;
    case LOG_LVL_INFO:
        return LOG_INFO;
    case LOG_LVL_WARN:
        return LOG_WARNING;
    default:
        return LOG_ERR;
    }
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void log_emit(int level, const char *event, const char *fields, va_list ap)
{
    char line[LOG_LINE_MAX];
    size_t cap = sizeof line - 1; /* room for the final '\n' */
    size_t n = 0;
    int saved_errno = errno;

    if (level < LOG_LVL_DEBUG)
        level = LOG_LVL_DEBUG;
    if (level > LOG_LVL_ERROR)
        level = LOG_LVL_ERROR;
    if (!g_syslog) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = strftime(line, cap, "ts=%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, cap - n, ".%03ldZ ", ts.tv_nsec / 1000000);
    }
    int k = snprintf(line + n, cap - n, "level=%s event=%s", level_names[level],
                     event && *event ? event : "-");
    n = k < 0 ? n : (size_t)k + n;
    if (n > cap - 1)
        n = cap - 1;
    if (fields && *fields) {
        line[n++] = ' ';
        k = vsnprintf(line + n, cap - n, fields, ap);
        if (k < 0)
            k = 0;
        if ((size_t)k >= cap - n) {
            n = cap - 1;
            memcpy(line + n - 3, "...", 3);
        } else {
            n += (size_t)k;
        }
        if (n > 0 && line[n - 1] == ' ')
            n--; /* "" fields after a space, e.g. log_info("x", "%s", "") */
    }
    if (g_syslog) {
        line[n] = '\0';
        syslog(syslog_prio(level), "%s", line);
    } else {
        line[n++] = '\n';
        write_all(STDERR_FILENO, line, n);
    }
    errno = saved_errno;
}

void log_at(int level, const char *event, const char *fields, ...)
{
    if (level < g_level)
        return;
    va_list ap;
    va_start(ap, fields);
    log_emit(level, event, fields, ap);
    va_end(ap);
}

void fatal(const char *event, const char *fields, ...)
{
    va_list ap;
    va_start(ap, fields);
    log_emit(LOG_LVL_ERROR, event, fields, ap);
    va_end(ap);
    exit(1);
}

static size_t quote_char(unsigned char ch, char esc[4])
{
    static const char hex[] = "0123456789abcdef";
    char c2 = 0;

    switch (ch) {
    case '"':
    case '\\':
        c2 = (char)ch;
        break;
    case '\n':
        c2 = 'n';
        break;
    case '\t':
        c2 = 't';
        break;
    case '\r':
        c2 = 'r';
        break;
    default:
        break;
    }
    if (c2) {
        esc[0] = '\\', esc[1] = c2;
        return 2;
    }
    if (ch < 0x20 || ch == 0x7f) {
        esc[0] = '\\', esc[1] = 'x', esc[2] = hex[ch >> 4], esc[3] = hex[ch & 15];
        return 4;
    }
    esc[0] = (char)ch;
    return 1;
}

const char *log_quote(const char *s, char *buf, size_t cap)
{
    const unsigned char *p;
    char esc[4];
    size_t total = 2, n = 0;

    if (cap == 0)
        return buf;
    if (!s)
        s = "";
    if (cap < 6) { /* too small for anything but a marker */
        snprintf(buf, cap, "\"...\"");
        return buf;
    }
    for (p = (const unsigned char *)s; *p; p++)
        total += quote_char(*p, esc);
    buf[n++] = '"';
    for (p = (const unsigned char *)s; *p; p++) {
        size_t el = quote_char(*p, esc);
        if (total + 1 > cap && n + el + 5 > cap) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        memcpy(buf + n, esc, el);
        n += el;
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}
