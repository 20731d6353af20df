/* etf.c - Erlang external term format encoder (etf.h) and the JSON -> term
 * mapping of spec cases. */
#include "etf.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* ---- buffer ---- */

void etf_buf_init(etf_buf_t *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

void etf_buf_free(etf_buf_t *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

uint8_t *etf_buf_take(etf_buf_t *b, size_t *len)
{
    *len = 0;
    if (b->err || b->len == 0)
        return NULL;
    uint8_t *p = b->data;
    *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

static uint8_t *reserve(etf_buf_t *b, size_t n)
{
    if (b->err)
        return NULL;
    if (n > b->max || b->len > b->max - n) {
        b->err = ERR_TOOBIG;
        return NULL;
    }
    if (b->cap - b->len < n) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap - b->len < n)
            ncap *= 2;
        if (ncap > b->max)
            ncap = b->max;
        uint8_t *nd = realloc(b->data, ncap);
        if (!nd) {
            b->err = -ENOMEM;
            return NULL;
        }
        b->data = nd;
        b->cap = ncap;
    }
    uint8_t *p = b->data + b->len;
    b->len += n;
    return p;
}

static void be_put(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static void put_tag_u32(etf_buf_t *b, uint8_t tag, uint32_t v)
{
    uint8_t *p = reserve(b, 5);
    if (p) {
        p[0] = tag;
        be_put(p + 1, v, 4);
    }
}

void etf_put_version(etf_buf_t *b)
{
    uint8_t *p = reserve(b, 1);
    if (p)
        p[0] = ETF_VERSION;
}

void etf_put_int(etf_buf_t *b, int64_t v)
{
    if (v >= 0 && v <= 255) {
        uint8_t *p = reserve(b, 2);
        if (p) {
            p[0] = ETF_SMALL_INTEGER_EXT;
            p[1] = (uint8_t)v;
        }
        return;
    }
    if (v >= INT32_MIN && v <= INT32_MAX) {
        put_tag_u32(b, ETF_INTEGER_EXT, (uint32_t)(int32_t)v);
        return;
    }
    /* SMALL_BIG_EXT: digit count, sign, magnitude little-endian */
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint8_t digits[8];
    int n = 0;
    while (m) {
        digits[n++] = (uint8_t)m;
        m >>= 8;
    }
    uint8_t *p = reserve(b, 3 + (size_t)n);
    if (p) {
        p[0] = ETF_SMALL_BIG_EXT;
        p[1] = (uint8_t)n;
        p[2] = v < 0;
        memcpy(p + 3, digits, (size_t)n);
    }
}

void etf_put_float(etf_buf_t *b, double v)
{
    if (!isfinite(v)) {
        if (!b->err)
            b->err = ERR_INVAL;
        return;
    }
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint8_t *p = reserve(b, 9);
    if (p) {
        p[0] = ETF_NEW_FLOAT_EXT;
        be_put(p + 1, bits, 8);
    }
}

void etf_put_binary(etf_buf_t *b, const void *data, size_t len)
{
    if (len > UINT32_MAX) {
        if (!b->err)
            b->err = ERR_TOOBIG;
        return;
    }
    put_tag_u32(b, ETF_BINARY_EXT, (uint32_t)len);
    uint8_t *p = reserve(b, len);
    if (p && len)
        memcpy(p, data, len);
}

void etf_put_atom(etf_buf_t *b, const char *name, size_t len)
{
    if (len > ETF_ATOM_MAX) {
        if (!b->err)
            b->err = ERR_TOOBIG;
        return;
    }
    uint8_t *p = reserve(b, 2 + len);
    if (p) {
        p[0] = ETF_SMALL_ATOM_UTF8_EXT;
        p[1] = (uint8_t)len;
        memcpy(p + 2, name, len);
    }
}

void etf_put_nil(etf_buf_t *b)
{
    uint8_t *p = reserve(b, 1);
    if (p)
        p[0] = ETF_NIL_EXT;
}

void etf_put_list_header(etf_buf_t *b, uint32_t n)
{
    put_tag_u32(b, ETF_LIST_EXT, n);
}

void etf_put_tuple_header(etf_buf_t *b, uint32_t arity)
{
    if (arity <= 255) {
        uint8_t *p = reserve(b, 2);
        if (p) {
            p[0] = ETF_SMALL_TUPLE_EXT;
            p[1] = (uint8_t)arity;
        }
        return;
    }
    put_tag_u32(b, ETF_LARGE_TUPLE_EXT, arity);
}

void etf_put_map_header(etf_buf_t *b, uint32_t pairs)
{
    put_tag_u32(b, ETF_MAP_EXT, pairs);
}

/* ---- JSON -> term ---- */

typedef struct jctx {
    etf_buf_t *b;
    const etf_json_opts_t *o;
    char path[256];
    char *err;
    size_t errlen;
} jctx_t;

static int jfail(jctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int jfail(jctx_t *c, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        int n = snprintf(c->err, c->errlen, "%s: ", c->path);
        if (n >= 0 && (size_t)n < c->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return ERR_SPEC;
}

/* Fails with a message if the buffer is in error (its cap reached). */
static int jcheck(jctx_t *c)
{
    if (!c->b->err)
        return 0;
    if (c->b->err == ERR_TOOBIG)
        return jfail(c, "the cases take more than the %zu-byte cap once encoded as terms",
                     c->b->max);
    if (c->b->err == -ENOMEM)
        return jfail(c, "out of memory");
    return jfail(c, "%s", err_str(c->b->err));
}

/* Appends to the path; returns the old length to restore it with. */
static size_t path_push(jctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static size_t path_push(jctx_t *c, const char *fmt, ...)
{
    size_t old = strlen(c->path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->path + old, sizeof c->path - old, fmt, ap);
    va_end(ap);
    return old;
}

static void path_pop(jctx_t *c, size_t old)
{
    c->path[old] = '\0';
}

static int put_value(jctx_t *c, json_t *v, int depth);

/* Elements of a JSON array, each as a term (a list's or a tuple's). */
static int put_elements(jctx_t *c, json_t *arr, const char *prefix, int depth)
{
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x)
    {
        size_t old = path_push(c, "%s[%zu]", prefix, i);
        int rc = put_value(c, x, depth);
        path_pop(c, old);
        if (rc)
            return rc;
    }
    return 0;
}

static int put_list(jctx_t *c, json_t *arr, const char *prefix, int depth)
{
    size_t n = json_array_size(arr);
    if (n == 0) {
        etf_put_nil(c->b);
        return jcheck(c);
    }
    etf_put_list_header(c->b, (uint32_t)n);
    int rc = put_elements(c, arr, prefix, depth);
    if (rc)
        return rc;
    etf_put_nil(c->b);
    return jcheck(c);
}

/* Decodes one UTF-8 sequence (jansson keeps strings valid); -1 if broken. */
static long utf8_next(const unsigned char **p, const unsigned char *end)
{
    const unsigned char *s = *p;
    unsigned char c0 = s[0];
    int n = c0 < 0x80 ? 1 : (c0 >> 5) == 6 ? 2 : (c0 >> 4) == 14 ? 3 : (c0 >> 3) == 30 ? 4 : 0;
    if (n == 0 || end - s < n)
        return -1;
    long cp = n == 1 ? c0 : n == 2 ? (c0 & 0x1F) : n == 3 ? (c0 & 0x0F) : (c0 & 0x07);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    *p = s + n;
    return cp;
}

static int put_charlist(jctx_t *c, json_t *s)
{
    const unsigned char *p = (const unsigned char *)json_string_value(s);
    const unsigned char *end = p + json_string_length(s);
    uint32_t n = 0;
    for (const unsigned char *q = p; q < end; n++)
        if (utf8_next(&q, end) < 0)
            return jfail(c, "\"$charlist\" is not valid UTF-8");
    if (n == 0) {
        etf_put_nil(c->b);
        return jcheck(c);
    }
    etf_put_list_header(c->b, n);
    while (p < end)
        etf_put_int(c->b, utf8_next(&p, end));
    etf_put_nil(c->b);
    return jcheck(c);
}

static int atom_known(const etf_json_opts_t *o, const char *name)
{
    if (!strcmp(name, "true") || !strcmp(name, "false") || !strcmp(name, "nil"))
        return 1;
    for (size_t i = 0; i < o->natoms; i++)
        if (!strcmp(o->atoms[i], name))
            return 1;
    return 0;
}

/* One map pair as it sits in the buffer. */
typedef struct pair {
    const uint8_t *key;
    size_t klen;  /* bytes of the key */
    size_t start; /* offset of the pair */
    size_t len;   /* bytes of key + value */
    size_t idx;   /* position in the input */
} pair_t;

static int pair_cmp(const void *a, const void *b)
{
    const pair_t *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int d = memcmp(x->key, y->key, n);
    if (d)
        return d;
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

/* Sorts the n pairs that follow `start` by their keys' bytes (the canonical
 * order) and fails on a key given twice. keyend[i] is where pair i's key
 * ends; pairs are contiguous from start to the end of the buffer. */
static int sort_pairs(jctx_t *c, size_t start, const size_t *pstart, const size_t *keyend, size_t n)
{
    if (n < 2)
        return 0;
    etf_buf_t *b = c->b;
    pair_t *ps = malloc(n * sizeof *ps);
    uint8_t *tmp = malloc(b->len - start);
    if (!ps || !tmp) {
        free(ps);
        free(tmp);
        return jfail(c, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        size_t end = i + 1 < n ? pstart[i + 1] : b->len;
        ps[i] = (pair_t){.key = b->data + pstart[i],
                         .klen = keyend[i] - pstart[i],
                         .start = pstart[i],
                         .len = end - pstart[i],
                         .idx = i};
    }
    qsort(ps, n, sizeof *ps, pair_cmp);
    int rc = 0;
    for (size_t i = 1; i < n && !rc; i++)
        if (pair_cmp(&ps[i - 1], &ps[i]) == 0)
            rc = jfail(c, "a key is given twice (pairs [%zu] and [%zu] have equal keys)",
                       ps[i - 1].idx < ps[i].idx ? ps[i - 1].idx : ps[i].idx,
                       ps[i - 1].idx < ps[i].idx ? ps[i].idx : ps[i - 1].idx);
    if (!rc) {
        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
            memcpy(tmp + off, b->data + ps[i].start, ps[i].len);
            off += ps[i].len;
        }
        memcpy(b->data + start, tmp, off);
    }
    free(ps);
    free(tmp);
    return rc;
}

/* One "$map" pair [K, V]; notes where it starts and where its key ends. */
static int put_pair(jctx_t *c, json_t *pair, size_t *start, size_t *keyend, int depth)
{
    if (!json_is_array(pair) || json_array_size(pair) != 2)
        return jfail(c, "must be a [key, value] pair");
    *start = c->b->len;
    size_t old = path_push(c, "[0]");
    int rc = put_value(c, json_array_get(pair, 0), depth);
    path_pop(c, old);
    *keyend = c->b->len;
    if (rc)
        return rc;
    old = path_push(c, "[1]");
    rc = put_value(c, json_array_get(pair, 1), depth);
    path_pop(c, old);
    return rc;
}

/* A map: from a JSON object (binary keys) or from "$map" pairs (any keys). */
static int put_map(jctx_t *c, json_t *v, int tagged, int depth)
{
    size_t n = tagged ? json_array_size(v) : json_object_size(v);
    if (n > UINT32_MAX)
        return jfail(c, "too many pairs");
    etf_put_map_header(c->b, (uint32_t)n);
    if (jcheck(c))
        return ERR_SPEC;
    size_t start = c->b->len;
    size_t *pstart = malloc((n ? n : 1) * sizeof *pstart);
    size_t *keyend = malloc((n ? n : 1) * sizeof *keyend);
    if (!pstart || !keyend) {
        free(pstart);
        free(keyend);
        return jfail(c, "out of memory");
    }
    int rc = 0;
    size_t i = 0;
    if (tagged) {
        json_t *pair;
        json_array_foreach(v, i, pair)
        {
            size_t old = path_push(c, ".$map[%zu]", i);
            rc = put_pair(c, pair, &pstart[i], &keyend[i], depth);
            path_pop(c, old);
            if (rc)
                break;
        }
        if (!rc) {
            size_t old = path_push(c, ".$map");
            rc = sort_pairs(c, start, pstart, keyend, n);
            path_pop(c, old);
        }
    } else {
        const char *key;
        json_t *x;
        json_object_foreach(v, key, x)
        {
            pstart[i] = c->b->len;
            etf_put_binary(c->b, key, strlen(key));
            keyend[i] = c->b->len;
            size_t old = path_push(c, ".%s", key);
            rc = jcheck(c);
            if (!rc)
                rc = put_value(c, x, depth);
            path_pop(c, old);
            if (rc)
                break;
            i++;
        }
        if (!rc)
            rc = sort_pairs(c, start, pstart, keyend, n);
    }
    free(pstart);
    free(keyend);
    return rc;
}

static const char *const tags[] = {"$tuple", "$atom", "$charlist", "$float", "$map", NULL};

static int put_tagged(jctx_t *c, const char *tag, json_t *x, int depth)
{
    if (!strcmp(tag, "$tuple")) {
        if (!json_is_array(x))
            return jfail(c, "\"$tuple\" must be a list of the elements");
        size_t n = json_array_size(x);
        if (n > UINT32_MAX)
            return jfail(c, "\"$tuple\" has too many elements");
        etf_put_tuple_header(c->b, (uint32_t)n);
        return put_elements(c, x, ".$tuple", depth);
    }
    if (!strcmp(tag, "$atom")) {
        if (!json_is_string(x))
            return jfail(c, "\"$atom\" must be a string (an atom name)");
        const char *name = json_string_value(x);
        if (json_string_length(x) != strlen(name) || !atom_known(c->o, name))
            return jfail(c, "atom \"%.64s\" is not declared in %s", name,
                         c->o->atoms_field ? c->o->atoms_field : "the atom list");
        etf_put_atom(c->b, name, strlen(name));
        return jcheck(c);
    }
    if (!strcmp(tag, "$charlist")) {
        if (!json_is_string(x))
            return jfail(c, "\"$charlist\" must be a string");
        return put_charlist(c, x);
    }
    if (!strcmp(tag, "$float")) {
        if (!json_is_number(x) || !isfinite(json_number_value(x)))
            return jfail(c, "\"$float\" must be a finite number");
        etf_put_float(c->b, json_number_value(x));
        return jcheck(c);
    }
    /* "$map" */
    if (!json_is_array(x))
        return jfail(c, "\"$map\" must be a list of [key, value] pairs");
    return put_map(c, x, 1, depth);
}

static int put_value(jctx_t *c, json_t *v, int depth)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER:
        etf_put_int(c->b, json_integer_value(v));
        return jcheck(c);
    case JSON_REAL:
        if (!isfinite(json_real_value(v)))
            return jfail(c, "must be a finite number");
        etf_put_float(c->b, json_real_value(v));
        return jcheck(c);
    case JSON_STRING:
        etf_put_binary(c->b, json_string_value(v), json_string_length(v));
        return jcheck(c);
    case JSON_TRUE:
        etf_put_atom(c->b, "true", 4);
        return jcheck(c);
    case JSON_FALSE:
        etf_put_atom(c->b, "false", 5);
        return jcheck(c);
    case JSON_NULL:
        etf_put_atom(c->b, "nil", 3);
        return jcheck(c);
    default:
        break;
    }
    if (depth >= c->o->max_depth)
        return jfail(c, "nested deeper than %d lists, tuples and maps", c->o->max_depth);
    if (json_is_array(v))
        return put_list(c, v, "", depth + 1);
    /* an object: a tagged form, or a map with binary keys */
    const char *key;
    json_t *x;
    json_object_foreach(v, key, x)
    {
        if (key[0] != '$')
            continue;
        int known = 0;
        for (const char *const *t = tags; *t && !known; t++)
            known = !strcmp(*t, key);
        if (!known)
            return jfail(c,
                         "\"%.64s\" is not a tag (\"$tuple\", \"$atom\", \"$charlist\", "
                         "\"$float\", \"$map\"); a map with that key is written "
                         "{\"$map\": [[\"%.64s\", value]]}",
                         key, key);
        if (json_object_size(v) != 1)
            return jfail(c, "a tagged form (\"%s\") must be the object's only key", key);
        return put_tagged(c, key, x, depth + 1);
    }
    return put_map(c, v, 0, depth + 1);
}

int etf_put_json(etf_buf_t *b, json_t *v, const etf_json_opts_t *o, const char *path, char *err,
                 size_t errlen)
{
    jctx_t c = {.b = b, .o = o, .err = err, .errlen = errlen};
    snprintf(c.path, sizeof c.path, "%s", path ? path : "");
    if (b->err)
        return jcheck(&c);
    return put_value(&c, v, 0);
}
