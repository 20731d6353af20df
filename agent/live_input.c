/* live_input.c - `petri-agent live`'s input: the live spec, the trace (each
 * term encoded to ETF once, with the spec's atoms) and the upgrades. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "live_int.h"
#include "util.h"

int live_read_text(const char *path, char **out, size_t *len, size_t max, const char *what)
{
    int rc = util_read_file(path, max, out, len);
    if (rc)
        fprintf(stderr, "petri-agent live: %s %s: %s\n", what, path, err_str(rc));
    return rc;
}

int live_load_spec(live_run_t *r, const char *path)
{
    char *text, err[512];
    size_t len;
    if (live_read_text(path, &text, &len, LIVE_SPEC_MAX_BYTES, "spec") != 0)
        return ERR_SPEC;
    int rc = live_spec_parse(text, len, &r->spec, err, sizeof err);
    free(text);
    if (rc) {
        fprintf(stderr, "petri-agent live: spec %s: %s\n", path, err);
        return rc;
    }
    r->start = r->spec.start;
    r->start.version = 1;
    r->rate = r->spec.rate;
    r->batch = r->spec.batch;
    return 0;
}

int live_load_trace(live_run_t *r, const char *path)
{
    char *text, err[512];
    size_t len;
    if (live_read_text(path, &text, &len, LIVE_MAX_TRACE_BYTES, "trace") != 0)
        return ERR_SPEC;
    int rc = live_trace_parse(text, len, &r->spec, &r->trace, err, sizeof err);
    free(text);
    if (!rc && !(r->reqs = calloc(r->trace.n, sizeof *r->reqs)))
        rc = -ENOMEM;
    if (rc) {
        fprintf(stderr, "petri-agent live: %s: %s\n", path, rc == -ENOMEM ? err_str(rc) : err);
        return rc;
    }
    r->nreqs = r->trace.n;
    for (size_t i = 0; i < r->nreqs; i++) {
        live_treq_t *t = &r->trace.reqs[i];
        r->reqs[i].req = t->req;
        r->reqs[i].req_len = t->req_len;
        r->reqs[i].expect = t->expect;
        r->reqs[i].expect_len = t->expect_len;
    }
    return 0;
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
