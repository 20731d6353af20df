/* live_spec.c - the live spec and the request trace from bytes (live_spec.h). */
#include "live_spec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "etf.h"
#include "spec.h"

static int oom(char *err, size_t errlen)
{
    if (err && errlen)
        snprintf(err, errlen, "out of memory");
    return -ENOMEM;
}

/* One term of the spec or trace, ETF with its version byte. */
static int encode_term(const live_spec_t *s, json_t *v, const char *path, uint8_t **out,
                       size_t *len, char *err, size_t errlen)
{
    etf_buf_t b;
    etf_buf_init(&b, SPEC_TERM_MAX_BYTES);
    etf_json_opts_t o = {.atoms = (const char *const *)s->atoms,
                         .natoms = s->natoms,
                         .atoms_field = "atoms",
                         .max_depth = SPEC_TERM_MAX_DEPTH};
    etf_put_version(&b);
    int rc = etf_put_json(&b, v, &o, path, err, errlen);
    if (rc == 0) {
        *out = etf_buf_take(&b, len);
        if (!*out)
            rc = b.err == -ENOMEM ? oom(err, errlen)
                                  : err_spec(err, errlen, "%s: not encoded", path);
    }
    etf_buf_free(&b);
    return rc;
}

/* A number in [min, max] (whole when integral) at o.key, if present. */
static int get_num(json_t *o, const char *key, const char *where, double min, double max,
                   int integral, double *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    double d = json_is_number(v) ? json_number_value(v) : NAN;
    if (!(d >= min && d <= max) || (integral && d != floor(d)))
        return err_spec(err, errlen, "%s%s: must be a %s in %g..%g", where, key,
                        integral ? "whole number" : "number", min, max);
    *out = d;
    return 0;
}

static int check_keys(json_t *o, const char *const *keys, const char *const *extra,
                      const char *where, char *err, size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        int ok = 0;
        for (const char *const *p = keys; *p; p++)
            ok |= strcmp(*p, k) == 0;
        for (const char *const *p = extra; p && *p; p++)
            ok |= strcmp(*p, k) == 0;
        if (!ok)
            return err_spec(err, errlen, "%s%.200s: unknown key", where, k);
    }
    return 0;
}

/* A lower-case letter, then letters, digits, _ and @. */
static int plain_atom(const char *a, size_t len)
{
    if (len == 0 || len > SPEC_ATOM_MAX || a[0] < 'a' || a[0] > 'z')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = a[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '@'))
            return 0;
    }
    return 1;
}

static int parse_atoms(live_spec_t *s, json_t *atoms, char *err, size_t errlen)
{
    if (!json_is_array(atoms) || json_array_size(atoms) > SPEC_MAX_ATOMS)
        return err_spec(err, errlen, "atoms: must be a list of at most %d atom names",
                        SPEC_MAX_ATOMS);
    size_t n = json_array_size(atoms);
    s->atoms = calloc(n + 1, sizeof *s->atoms);
    if (!s->atoms)
        return oom(err, errlen);
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_array_get(atoms, i);
        const char *v = json_string_value(a);
        if (!v || !plain_atom(v, json_string_length(a)))
            return err_spec(err, errlen,
                            "atoms[%zu]: must be a plain atom name (a lower-case letter, then "
                            "letters, digits, _ and @; at most %d bytes)",
                            i, SPEC_ATOM_MAX);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(s->atoms[j], v))
                return err_spec(err, errlen, "atoms[%zu]: \"%s\" is declared twice", i, v);
        if (!(s->atoms[i] = strdup(v)))
            return oom(err, errlen);
        s->natoms = i + 1;
    }
    return 0;
}

static int sub_object(json_t *root, const char *key, json_t **out, char *err, size_t errlen)
{
    *out = json_object_get(root, key);
    if (*out && !json_is_object(*out))
        return err_spec(err, errlen, "%s: must be an object", key);
    return 0;
}

int live_spec_from_json(json_t *root, const char *const *extra_keys, live_spec_t *s, char *err,
                        size_t errlen)
{
    static const char *const top[] = {"atoms", "init", "limits", "probation", "window",
                                      "score", "rate", "batch",  NULL};
    static const char *const lim[] = {"timeout_ms", "heap_words", "reductions", "state_words",
                                      NULL};
    static const char *const sc[] = {"latency", "reductions", "tolerance", NULL};
    memset(s, 0, sizeof *s);
    if (err && errlen)
        err[0] = '\0';
    if (!json_is_object(root))
        return err_spec(err, errlen, "the live spec must be a JSON object");
    double to = 100, heap = 1000000, reds = 1000000, sw = 100000, prob = 50, win = 200;
    double lw = 0, rw = 0, tol = 0, rate = LIVE_DEFAULT_RATE, batch = LIVE_DEFAULT_BATCH;
    json_t *limits, *score, *atoms = json_object_get(root, "atoms");
    int rc = check_keys(root, top, extra_keys, "", err, errlen);
    rc = rc ? rc : sub_object(root, "limits", &limits, err, errlen);
    rc = rc ? rc : sub_object(root, "score", &score, err, errlen);
    if (!rc && limits) {
        rc = check_keys(limits, lim, NULL, "limits.", err, errlen);
        rc = rc ? rc : get_num(limits, "timeout_ms", "limits.", 1, 600000, 1, &to, err, errlen);
        rc = rc ? rc : get_num(limits, "heap_words", "limits.", 1000, 1e9, 1, &heap, err, errlen);
        rc = rc ? rc : get_num(limits, "reductions", "limits.", 0, 1e12, 1, &reds, err, errlen);
        rc = rc ? rc : get_num(limits, "state_words", "limits.", 1, 1e9, 1, &sw, err, errlen);
    }
    if (!rc && score) {
        rc = check_keys(score, sc, NULL, "score.", err, errlen);
        rc = rc ? rc : get_num(score, "latency", "score.", 0, 1, 0, &lw, err, errlen);
        rc = rc ? rc : get_num(score, "reductions", "score.", 0, 1, 0, &rw, err, errlen);
        rc = rc ? rc : get_num(score, "tolerance", "score.", 0, 1e6, 0, &tol, err, errlen);
    }
    rc = rc ? rc : get_num(root, "probation", "", 1, 1e6, 1, &prob, err, errlen);
    rc = rc ? rc : get_num(root, "window", "", 1, 1e6, 1, &win, err, errlen);
    rc = rc ? rc : get_num(root, "rate", "", 0, 1e7, 0, &rate, err, errlen);
    rc = rc ? rc : get_num(root, "batch", "", 1, WIRE_LIVE_MAX_BATCH, 1, &batch, err, errlen);
    if (!rc && atoms)
        rc = parse_atoms(s, atoms, err, errlen);
    if (!rc) {
        json_t *init = json_object_get(root, "init");
        rc = encode_term(s, init ? init : json_null(), "init", &s->init_arg, &s->init_arg_len, err,
                         errlen);
    }
    if (rc)
        return rc;
    s->start = (wire_live_start_t){.timeout_ms = (uint32_t)to,
                                   .heap_words = (uint64_t)heap,
                                   .reductions = (uint64_t)reds,
                                   .state_words = (uint64_t)sw,
                                   .probation = (uint32_t)prob,
                                   .window = (uint32_t)win,
                                   .lat_w = lw,
                                   .red_w = rw,
                                   .tolerance = tol,
                                   .atoms = (const char *const *)s->atoms,
                                   .natoms = s->natoms,
                                   .init_arg = s->init_arg,
                                   .init_arg_len = s->init_arg_len};
    s->rate = rate;
    s->batch = (uint32_t)batch;
    return 0;
}

int live_spec_parse(const char *json, size_t len, live_spec_t *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (len > LIVE_SPEC_MAX_BYTES)
        return err_spec(err, errlen, "the live spec is over %u bytes", LIVE_SPEC_MAX_BYTES);
    json_error_t je;
    json_t *root = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!root)
        return err_spec(err, errlen, "the live spec is not JSON: %s (line %d)", je.text, je.line);
    int rc = live_spec_from_json(root, NULL, s, err, errlen);
    json_decref(root);
    return rc;
}

void live_spec_free(live_spec_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->atoms && i < s->natoms; i++)
        free(s->atoms[i]);
    free(s->atoms);
    free(s->init_arg);
    memset(s, 0, sizeof *s);
}

/* One non-blank line of the trace into t->reqs[t->n]. */
static int trace_line(const live_spec_t *s, const char *p, size_t n, size_t line, live_trace_t *t,
                      size_t *cap, char *err, size_t errlen)
{
    char where[48], p1[64], p2[64];
    snprintf(where, sizeof where, "trace line %zu", line);
    snprintf(p1, sizeof p1, "%s.", where);
    if (t->n == LIVE_MAX_TRACE)
        return err_spec(err, errlen, "%s: more than %d requests", where, LIVE_MAX_TRACE);
    json_error_t je;
    json_t *o = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return err_spec(err, errlen, "%s: not JSON: %s", where, je.text);
    static const char *const keys[] = {"req", "expect", NULL};
    int rc = 0;
    if (!json_is_object(o) || !json_object_get(o, "req"))
        rc = err_spec(err, errlen, "%s: must be an object with \"req\"", where);
    else
        rc = check_keys(o, keys, NULL, p1, err, errlen);
    if (!rc && t->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        live_treq_t *nr = realloc(t->reqs, nc * sizeof *nr);
        if (!nr)
            rc = oom(err, errlen);
        else {
            t->reqs = nr;
            *cap = nc;
        }
    }
    if (!rc) {
        live_treq_t *q = &t->reqs[t->n++];
        memset(q, 0, sizeof *q);
        snprintf(p1, sizeof p1, "%s.req", where);
        snprintf(p2, sizeof p2, "%s.expect", where);
        json_t *ex = json_object_get(o, "expect");
        rc = encode_term(s, json_object_get(o, "req"), p1, &q->req, &q->req_len, err, errlen);
        if (!rc && ex)
            rc = encode_term(s, ex, p2, &q->expect, &q->expect_len, err, errlen);
    }
    json_decref(o);
    return rc;
}

int live_trace_parse(const char *text, size_t len, const live_spec_t *s, live_trace_t *t, char *err,
                     size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (err && errlen)
        err[0] = '\0';
    if (len > LIVE_MAX_TRACE_BYTES)
        return err_spec(err, errlen, "trace: over %u bytes", LIVE_MAX_TRACE_BYTES);
    size_t cap = 0, line = 0;
    int rc = 0;
    for (const char *p = text, *end = text + len; !rc && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        line++;
        size_t n = (size_t)(nl - p), blank = 0;
        while (blank < n && (p[blank] == ' ' || p[blank] == '\t' || p[blank] == '\r'))
            blank++;
        if (blank < n)
            rc = trace_line(s, p, n, line, t, &cap, err, errlen);
        p = nl + 1;
    }
    if (!rc && t->n == 0)
        rc = err_spec(err, errlen, "trace: holds no request");
    return rc;
}

void live_trace_free(live_trace_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->reqs[i].req);
        free(t->reqs[i].expect);
    }
    free(t->reqs);
    memset(t, 0, sizeof *t);
}
