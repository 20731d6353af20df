/* live_input.c - `petri-agent live`'s input: the live spec, the trace (each
 * term encoded to ETF once, with the spec's atoms) and the upgrades. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "err.h"
#include "etf.h"
#include "live_int.h"
#include "spec.h"
#include "util.h"

int live_read_text(const char *path, char **out, size_t *len, size_t max, const char *what)
{
    int rc = util_read_file(path, max, out, len);
    if (rc)
        fprintf(stderr, "petri-agent live: %s %s: %s\n", what, path, err_str(rc));
    return rc;
}

static int encode_term(live_run_t *r, json_t *v, const char *path, uint8_t **out, size_t *len)
{
    char err[256];
    etf_buf_t b;
    etf_buf_init(&b, SPEC_TERM_MAX_BYTES);
    etf_json_opts_t o = {.atoms = (const char *const *)r->atoms,
                         .natoms = r->natoms,
                         .atoms_field = "atoms",
                         .max_depth = SPEC_TERM_MAX_DEPTH};
    etf_put_version(&b);
    int rc = etf_put_json(&b, v, &o, path, err, sizeof err);
    if (rc) {
        fprintf(stderr, "petri-agent live: %s\n", err);
        etf_buf_free(&b);
        return rc;
    }
    *out = etf_buf_take(&b, len);
    etf_buf_free(&b);
    return *out ? 0 : ERR_SPEC;
}

static int get_num(json_t *o, const char *key, const char *where, double min, double max,
                   double *out)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_number(v) || json_number_value(v) < min || json_number_value(v) > max) {
        fprintf(stderr, "petri-agent live: spec %s%s: a number in %g..%g\n", where, key, min, max);
        return ERR_SPEC;
    }
    *out = json_number_value(v);
    return 0;
}

static int check_keys(json_t *o, const char *const *keys, const char *where)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        int ok = 0;
        for (const char *const *p = keys; *p; p++)
            ok |= strcmp(*p, k) == 0;
        if (!ok) {
            fprintf(stderr, "petri-agent live: spec %s%s: unknown key\n", where, k);
            return ERR_SPEC;
        }
    }
    return 0;
}

int live_load_spec(live_run_t *r, const char *path)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root || !json_is_object(root)) {
        fprintf(stderr, "petri-agent live: spec %s: %s (line %d)\n", path,
                root ? "not a JSON object" : je.text, je.line);
        json_decref(root);
        return ERR_SPEC;
    }
    static const char *const top[] = {"atoms", "init", "limits", "probation", "window",
                                      "score", "rate", "batch",  NULL};
    static const char *const lim[] = {"timeout_ms", "heap_words", "reductions", "state_words",
                                      NULL};
    static const char *const sc[] = {"latency", "reductions", "tolerance", NULL};
    double to = 100, heap = 1000000, reds = 1000000, sw = 100000, prob = 50, win = 200;
    double lw = 0, rw = 0, tol = 0, rate = 1000, batch = 16;
    json_t *limits = json_object_get(root, "limits"), *score = json_object_get(root, "score");
    json_t *atoms = json_object_get(root, "atoms");
    int rc = check_keys(root, top, "");
    if (!rc && limits && !json_is_object(limits)) {
        fprintf(stderr, "petri-agent live: spec limits: an object\n");
        rc = ERR_SPEC;
    }
    if (!rc && score && !json_is_object(score)) {
        fprintf(stderr, "petri-agent live: spec score: an object\n");
        rc = ERR_SPEC;
    }
    if (!rc && limits)
        rc = check_keys(limits, lim, "limits.");
    if (!rc && score)
        rc = check_keys(score, sc, "score.");
    if (!rc && limits) {
        rc = get_num(limits, "timeout_ms", "limits.", 1, 600000, &to);
        rc = rc ? rc : get_num(limits, "heap_words", "limits.", 1000, 1e9, &heap);
        rc = rc ? rc : get_num(limits, "reductions", "limits.", 0, 1e12, &reds);
        rc = rc ? rc : get_num(limits, "state_words", "limits.", 1, 1e9, &sw);
    }
    rc = rc ? rc : get_num(root, "probation", "", 1, 1e6, &prob);
    rc = rc ? rc : get_num(root, "window", "", 1, 1e6, &win);
    rc = rc ? rc : get_num(root, "rate", "", 0, 1e7, &rate);
    rc = rc ? rc : get_num(root, "batch", "", 1, WIRE_LIVE_MAX_BATCH, &batch);
    if (!rc && score) {
        rc = get_num(score, "latency", "score.", 0, 1, &lw);
        rc = rc ? rc : get_num(score, "reductions", "score.", 0, 1, &rw);
        rc = rc ? rc : get_num(score, "tolerance", "score.", 0, 1e6, &tol);
    }
    if (!rc && atoms) {
        if (!json_is_array(atoms) || json_array_size(atoms) > SPEC_MAX_ATOMS) {
            fprintf(stderr, "petri-agent live: spec atoms: a list of at most %d names\n",
                    SPEC_MAX_ATOMS);
            rc = ERR_SPEC;
        } else {
            r->natoms = json_array_size(atoms);
            r->atoms = calloc(r->natoms + 1, sizeof *r->atoms);
            for (size_t i = 0; !rc && i < r->natoms; i++) {
                const char *a = json_string_value(json_array_get(atoms, i));
                if (!a || !a[0] || strlen(a) > SPEC_ATOM_MAX || a[0] < 'a' || a[0] > 'z') {
                    fprintf(stderr, "petri-agent live: spec atoms[%zu]: a plain atom name\n", i);
                    rc = ERR_SPEC;
                } else {
                    r->atoms[i] = strdup(a);
                }
            }
        }
    }
    if (!rc) {
        json_t *init = json_object_get(root, "init");
        rc = encode_term(r, init ? init : json_null(), "init", &r->init_arg, &r->init_arg_len);
    }
    r->start = (wire_live_start_t){.live_id = LIVE_ID,
                                   .version = 1,
                                   .timeout_ms = (uint32_t)to,
                                   .heap_words = (uint64_t)heap,
                                   .reductions = (uint64_t)reds,
                                   .state_words = (uint64_t)sw,
                                   .probation = (uint32_t)prob,
                                   .window = (uint32_t)win,
                                   .lat_w = lw,
                                   .red_w = rw,
                                   .tolerance = tol,
                                   .atoms = (const char *const *)r->atoms,
                                   .natoms = r->natoms,
                                   .init_arg = r->init_arg,
                                   .init_arg_len = r->init_arg_len};
    r->rate = rate;
    r->batch = (uint32_t)batch;
    json_decref(root);
    return rc;
}

int live_load_trace(live_run_t *r, const char *path)
{
    char *text;
    size_t len;
    if (live_read_text(path, &text, &len, LIVE_MAX_TRACE_BYTES, "trace") != 0)
        return ERR_SPEC;
    int rc = 0;
    size_t cap = 0, line = 0;
    for (char *p = text, *nl; !rc && p < text + len; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(text + len - p));
        if (!nl)
            nl = text + len;
        *nl = 0;
        line++;
        if (strspn(p, " \t\r") == strlen(p))
            continue;
        json_error_t je;
        json_t *o = json_loads(p, 0, &je);
        char where[64];
        snprintf(where, sizeof where, "trace line %zu", line);
        if (!o || !json_is_object(o) || !json_object_get(o, "req")) {
            fprintf(stderr, "petri-agent live: %s: %s\n", where,
                    o ? "not an object with \"req\"" : je.text);
            rc = ERR_SPEC;
        } else if (r->nreqs == LIVE_MAX_TRACE) {
            fprintf(stderr, "petri-agent live: %s: more than %d requests\n", where, LIVE_MAX_TRACE);
            rc = ERR_SPEC;
        } else {
            if (r->nreqs == cap) {
                cap = cap ? cap * 2 : 1024;
                lreq_t *nr = realloc(r->reqs, cap * sizeof *nr);
                if (!nr) {
                    json_decref(o);
                    rc = -ENOMEM;
                    break;
                }
                r->reqs = nr;
            }
            lreq_t *q = &r->reqs[r->nreqs];
            memset(q, 0, sizeof *q);
            char p1[80], p2[80];
            snprintf(p1, sizeof p1, "%s.req", where);
            snprintf(p2, sizeof p2, "%s.expect", where);
            json_t *ex = json_object_get(o, "expect");
            rc = encode_term(r, json_object_get(o, "req"), p1, &q->req, &q->req_len);
            if (!rc && ex)
                rc = encode_term(r, ex, p2, &q->expect, &q->expect_len);
            r->nreqs++;
        }
        json_decref(o);
    }
    free(text);
    if (!rc && r->nreqs == 0) {
        fprintf(stderr, "petri-agent live: trace %s holds no request\n", path);
        rc = ERR_SPEC;
    }
    return rc;
}

int live_add_upgrade(live_run_t *r, const char *arg)
{
    const char *at = strrchr(arg, '@');
    int64_t n;
    if (!at || util_parse_i64(at + 1, &n) != 0 || n < 0) {
        fprintf(stderr, "petri-agent live: --upgrade '%s': CHILD.erl@N (N >= 0)\n", arg);
        return ERR_INVAL;
    }
    if (r->nups == LIVE_MAX_UPGRADES) {
        fprintf(stderr, "petri-agent live: more than %d upgrades\n", LIVE_MAX_UPGRADES);
        return ERR_LIMIT;
    }
    if (r->nups % 64 == 0) {
        lup_t *nu = realloc(r->ups, (r->nups + 64) * sizeof *nu);
        if (!nu)
            return -ENOMEM;
        r->ups = nu;
    }
    lup_t *u = &r->ups[r->nups];
    memset(u, 0, sizeof *u);
    char *path = strndup(arg, (size_t)(at - arg));
    u->path = path;
    u->at = (uint64_t)n;
    u->outcome = -1;
    r->nups++;
    return live_read_text(path, &u->src, &u->src_len, 65536, "--upgrade");
}
