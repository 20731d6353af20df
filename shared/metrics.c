/* metrics.c - Prometheus text exposition: buffer, families, samples with
 * escaped labels, fixed-bucket histograms (see metrics.h). */
#include "metrics.h"

#include "http.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double metrics_latency_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                         0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                         1,      2.5,     5,      10,    30};
const int metrics_latency_nbounds =
    (int)(sizeof metrics_latency_bounds / sizeof metrics_latency_bounds[0]);

void metrics_init(metrics_buf_t *m)
{
    memset(m, 0, sizeof *m);
}

void metrics_free(metrics_buf_t *m)
{
    free(m->data);
    memset(m, 0, sizeof *m);
}

char *metrics_take(metrics_buf_t *m, size_t *len)
{
    char *d = m->err ? NULL : m->data;
    if (len)
        *len = d ? m->len : 0;
    if (!d)
        free(m->data);
    memset(m, 0, sizeof *m);
    return d;
}

static int grow(metrics_buf_t *m, size_t more)
{
    if (m->err)
        return -1;
    if (m->len + more + 1 <= m->cap)
        return 0;
    size_t ncap = m->cap ? m->cap : 4096;
    while (ncap < m->len + more + 1)
        ncap *= 2;
    char *n = realloc(m->data, ncap);
    if (!n) {
        m->err = -ENOMEM;
        return -1;
    }
    m->data = n;
    m->cap = ncap;
    return 0;
}

static void put(metrics_buf_t *m, const char *s, size_t n)
{
    if (grow(m, n) != 0)
        return;
    memcpy(m->data + m->len, s, n);
    m->len += n;
    m->data[m->len] = '\0';
}

static void puts_(metrics_buf_t *m, const char *s)
{
    put(m, s, strlen(s));
}

static void putc_(metrics_buf_t *m, char c)
{
    put(m, &c, 1);
}

static int valid_name(const char *s, int colon)
{
    if (!s || !*s)
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (colon && c == ':') || (p != s && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

void metrics_escape(metrics_buf_t *m, const char *value)
{
    if (!value)
        return;
    const char *run = value;
    for (const char *p = value; *p; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        if (!esc)
            continue;
        put(m, run, (size_t)(p - run));
        puts_(m, esc);
        run = p + 1;
    }
    puts_(m, run);
}

static void help_escape(metrics_buf_t *m, const char *s)
{
    const char *run = s;
    for (const char *p = s; *p; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : NULL;
        if (!esc)
            continue;
        put(m, run, (size_t)(p - run));
        puts_(m, esc);
        run = p + 1;
    }
    puts_(m, run);
}

/* Integers exactly, anything else in the shortest form that reads back
 * the same (0.001, not 0.0010000000000000000208). */
static void format_value(char b[40], double v)
{
    if (isnan(v)) {
        snprintf(b, 40, "NaN");
    } else if (isinf(v)) {
        snprintf(b, 40, v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) <= 9007199254740992.0) {
        snprintf(b, 40, "%.0f", v);
    } else {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(b, 40, "%.*g", prec, v);
            if (strtod(b, NULL) == v)
                break;
        }
    }
}

static void put_value(metrics_buf_t *m, double v)
{
    char b[40];
    format_value(b, v);
    puts_(m, b);
}

void metrics_family(metrics_buf_t *m, const char *name, const char *type, const char *help)
{
    assert(valid_name(name, 1));
    assert(type &&
           (!strcmp(type, "counter") || !strcmp(type, "gauge") || !strcmp(type, "histogram") ||
            !strcmp(type, "summary") || !strcmp(type, "untyped")));
    puts_(m, "# HELP ");
    puts_(m, name);
    putc_(m, ' ');
    help_escape(m, help ? help : "");
    puts_(m, "\n# TYPE ");
    puts_(m, name);
    putc_(m, ' ');
    puts_(m, type);
    putc_(m, '\n');
}

/* name{k="v",...[,extra_k="extra_v"]} value\n */
static void sample_va(metrics_buf_t *m, const char *name, const char *suffix, double value,
                      const char *extra_k, const char *extra_v, va_list ap)
{
    assert(valid_name(name, 1));
    puts_(m, name);
    if (suffix)
        puts_(m, suffix);
    int n = 0;
    const char *k;
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        assert(valid_name(k, 0) && strncmp(k, "__", 2) != 0);
        putc_(m, n++ ? ',' : '{');
        puts_(m, k);
        puts_(m, "=\"");
        metrics_escape(m, v);
        putc_(m, '"');
    }
    if (extra_k) {
        putc_(m, n++ ? ',' : '{');
        puts_(m, extra_k);
        puts_(m, "=\"");
        metrics_escape(m, extra_v);
        putc_(m, '"');
    }
    if (n)
        putc_(m, '}');
    putc_(m, ' ');
    put_value(m, value);
    putc_(m, '\n');
}

void metrics_sample(metrics_buf_t *m, const char *name, double value, ...)
{
    va_list ap;
    va_start(ap, value);
    sample_va(m, name, NULL, value, NULL, NULL, ap);
    va_end(ap);
}

void metrics_one(metrics_buf_t *m, const char *name, const char *type, const char *help,
                 double value)
{
    metrics_family(m, name, type, help);
    metrics_sample(m, name, value, NULL);
}

/* ---- histograms ---- */

static const double *bounds_of(const metrics_hist_t *h, int *n)
{
    if (h->bounds) {
        *n = h->nbounds;
        return h->bounds;
    }
    *n = metrics_latency_nbounds;
    return metrics_latency_bounds;
}

void metrics_hist_init(metrics_hist_t *h, const double *bounds, int n)
{
    assert(bounds && n >= 1 && n <= METRICS_HIST_MAX);
    for (int i = 1; i < n; i++)
        assert(bounds[i] > bounds[i - 1]);
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->nbounds = n;
}

void metrics_hist_observe(metrics_hist_t *h, double v)
{
    if (isnan(v))
        return;
    int n;
    const double *b = bounds_of(h, &n);
    int i = 0;
    while (i < n && v > b[i])
        i++;
    h->buckets[i]++;
    h->count++;
    h->sum += v;
}

void metrics_hist_merge(metrics_hist_t *dst, const metrics_hist_t *src)
{
    int nd, ns;
    const double *bd = bounds_of(dst, &nd), *bs = bounds_of(src, &ns);
    assert(nd == ns && (bd == bs || memcmp(bd, bs, (size_t)nd * sizeof *bd) == 0));
    (void)bs;
    (void)bd;
    for (int i = 0; i <= nd; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum += src->sum;
}

static void sample_extra(metrics_buf_t *m, const char *name, const char *suffix, double value,
                         const char *ek, const char *ev, va_list ap0)
{
    va_list ap;
    va_copy(ap, ap0);
    sample_va(m, name, suffix, value, ek, ev, ap);
    va_end(ap);
}

void metrics_hist_write(metrics_buf_t *m, const char *name, const metrics_hist_t *h, ...)
{
    int n;
    const double *b = bounds_of(h, &n);
    va_list ap;
    va_start(ap, h);
    uint64_t cum = 0;
    char le[40];
    for (int i = 0; i < n; i++) {
        cum += h->buckets[i];
        format_value(le, b[i]);
        sample_extra(m, name, "_bucket", (double)cum, "le", le, ap);
    }
    cum += h->buckets[n];
    sample_extra(m, name, "_bucket", (double)cum, "le", "+Inf", ap);
    sample_extra(m, name, "_sum", h->sum, NULL, NULL, ap);
    sample_extra(m, name, "_count", (double)h->count, NULL, NULL, ap);
    va_end(ap);
}

void metrics_reply(metrics_buf_t *m, http_resp_t *resp)
{
    size_t len = 0;
    char *text = metrics_take(m, &len);
    if (!text) {
        http_error(resp, 500, "out of memory");
        return;
    }
    free(resp->body);
    resp->status = 200;
    resp->body = text;
    resp->body_len = len;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
