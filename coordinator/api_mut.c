/* api_mut.c - external mutators' resources (api_mut.h): prompt bundles
 * sampled from a running population, and children submitted with their
 * parents, mutator name and input hash (op "external" in the lineage). */
#include "api_mut.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest.h"
#include "err.h"
#include "log.h"

_Static_assert(POP_MUTATOR_MAX == STORE_MUTATOR_MAX, "the item carries the record's mutator name");

static json_t *hex_json(const uint8_t *h, size_t n)
{
    char hex[2 * CRYPTO_HASH_LEN + 1];
    crypto_hex(h, n, hex);
    return json_string(hex);
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

int api_bundle_hash(const json_t *bundle, char hex[65])
{
    json_t *copy = json_copy((json_t *)bundle);
    if (!copy)
        return -ENOMEM;
    json_object_del(copy, "bundle_hash");
    char *s = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(copy);
    if (!s)
        return -ENOMEM;
    uint8_t h[CRYPTO_HASH_LEN];
    crypto_hash(s, strlen(s), h);
    free(s);
    crypto_hex(h, CRYPTO_HASH_LEN, hex);
    return 0;
}

/* ---- the bundle ---- */

/* The spec's essentials; the cases as given in the population spec (an
 * even sample past BUNDLE_MAX_CASES, each with its index). */
static json_t *spec_essentials(const pop_t *p, json_t *notes)
{
    const spec_t *s = p->spec;
    json_t *vars = json_array(), *ops = json_array(), *atoms = json_array();
    for (uint32_t i = 0; i < s->arity; i++)
        json_array_append_new(vars, json_string(s->vars[i]));
    for (int i = 0; i < s->nops; i++)
        json_array_append_new(ops, json_string(s->ops[i]));
    for (size_t i = 0; i < s->natoms; i++)
        json_array_append_new(atoms, json_string(s->atoms[i]));
    json_t *o = json_pack(
        "{s:s, s:i, s:s, s:o, s:{s:o, s:{s:f, s:f, s:b}}, s:o, s:s, s:{s:I, s:I, s:I}}", "function",
        s->function, "arity", (int)s->arity, "language", spec_language_str(s->language), "vars",
        vars, "primitives", "ops", ops, "constants", "min", s->const_min, "max", s->const_max,
        "integer", s->const_int, "atoms", atoms, "error", spec_error_str(s->error), "limits",
        "timeout_ms", (json_int_t)s->timeout_ms, "heap_words", (json_int_t)s->heap_words,
        "reductions", (json_int_t)s->reductions);
    json_object_set_new(o, "evaluator", json_boolean(s->evaluator != NULL));
    json_t *cases = json_object_get(json_object_get(p->spec_json, "fitness"), "cases");
    size_t n = json_array_size(cases), shown = n < BUNDLE_MAX_CASES ? n : BUNDLE_MAX_CASES;
    json_t *out = json_array();
    for (size_t k = 0; k < shown; k++) {
        size_t i = n <= BUNDLE_MAX_CASES ? k : k * n / shown;
        json_t *c = json_copy(json_array_get(cases, i));
        if (json_is_object(c))
            json_object_set_new(c, "index", json_integer((json_int_t)i));
        json_array_append_new(out, c);
    }
    json_object_set_new(o, "cases", out);
    json_object_set_new(o, "cases_total", json_integer((json_int_t)spec_case_count(s)));
    if (n > shown)
        json_array_append_new(notes, json_sprintf("spec.cases: an even sample of %zu of the %zu "
                                                  "cases (each with its index)",
                                                  shown, n));
    if (s->evaluator)
        json_array_append_new(notes, json_string("fitness comes from the operator's evaluator "
                                                 "module, not shown"));
    return o;
}

/* passed/cases of a member: from its result, or (restored from saved state)
 * from its latest ok record in this population. */
static void member_summary(coord_t *c, const pop_t *p, const member_t *m, json_t *o)
{
    uint64_t seqs[32];
    size_t n = 0;
    json_t *passed = json_null(), *cases = json_null();
    if (m->cases > 0) { /* known since its result came in */
        json_object_set_new(o, "passed", json_integer(m->passed));
        json_object_set_new(o, "cases", json_integer(m->cases));
        return;
    }
    if (store_child_records(c->store, m->hash, seqs, 32, &n) == 0) {
        for (size_t i = n < 32 ? n : 32; i-- > 0;) {
            lineage_rec_t r;
            if (store_get(c->store, seqs[i], &r) == 0 && r.status == WIRE_ST_OK &&
                store_rec_has_summary(&r) && !strcmp(r.population, p->name)) {
                json_decref(passed);
                json_decref(cases);
                passed = json_integer(r.passed);
                cases = json_integer(r.cases);
                break;
            }
        }
    }
    json_object_set_new(o, "passed", passed);
    json_object_set_new(o, "cases", cases);
}

/* The member's failing cases (error above the spec's float tolerance), with
 * their inputs and expected outputs, or null when errors are not kept. */
static json_t *failing_cases(const pop_t *p, const member_t *m, int *capped)
{
    if (!m->errors)
        return json_null();
    json_t *cases = json_object_get(json_object_get(p->spec_json, "fitness"), "cases");
    json_t *out = json_array();
    for (uint32_t i = 0; i < m->nerrors; i++) {
        double e = m->errors[i];
        if (e <= p->spec->float_tol)
            continue;
        if (json_array_size(out) == BUNDLE_MAX_FAILING) {
            *capped = 1;
            break;
        }
        json_t *f = json_pack("{s:i, s:o}", "index", (int)i, "error", num_or_null(e));
        json_t *cs = json_array_get(cases, i);
        if (json_is_object(cs)) {
            json_object_set(f, "in", json_object_get(cs, "in"));
            json_object_set(f, "out", json_object_get(cs, "out"));
        }
        json_array_append_new(out, f);
    }
    return out;
}

static json_t *parent_json(coord_t *c, const pop_t *p, const member_t *m, int *capped)
{
    json_t *o = json_pack("{s:o, s:s%, s:o, s:o}", "hash", hex_json(m->hash, CRYPTO_HASH_LEN),
                          "source", m->src ? m->src : "", m->src ? m->len : 0, "fitness",
                          num_or_null(m->fitness), "cost", num_or_null(m->cost));
    if (!o) /* a source that is not UTF-8 */
        o = json_pack("{s:o, s:n, s:o, s:o}", "hash", hex_json(m->hash, CRYPTO_HASH_LEN), "source",
                      "fitness", num_or_null(m->fitness), "cost", num_or_null(m->cost));
    member_summary(c, p, m, o);
    json_object_set_new(o, "failing", failing_cases(p, m, capped));
    return o;
}

static uint64_t bundle_rng;

void api_bundle(coord_t *c, pop_t *p, const char *query, http_resp_t *resp)
{
    char v[32];
    long k = BUNDLE_DEFAULT_MEMBERS, d = -1;
    for (int i = 0; i < 2; i++) {
        const char *key = i ? "deme" : "members";
        long lo = i ? 0 : 1, hi = i ? p->ndemes - 1 : BUNDLE_MAX_MEMBERS;
        int rc = http_query_get(query, key, v, sizeof v);
        if (rc == ERR_NOTFOUND)
            continue;
        char *end = v;
        long x = rc >= 0 ? strtol(v, &end, 10) : 0;
        if (rc < 0 || *end || end == v || x < lo || x > hi) {
            http_error(resp, 400, "%s: must be an integer in [%ld, %ld]", key, lo, hi);
            return;
        }
        *(i ? &d : &k) = x;
    }
    if (!bundle_rng)
        crypto_random(&bundle_rng, sizeof bundle_rng);
    if (d < 0) {
        /* a random deme among those with members */
        int with = 0;
        for (int i = 0; i < p->ndemes; i++)
            with += p->demes[i].n > 0;
        int pick = with ? (int)(pop_rng_next(&bundle_rng) % (uint64_t)with) : 0;
        for (int i = 0; i < p->ndemes && d < 0; i++)
            if (p->demes[i].n > 0 && pick-- == 0)
                d = i;
    }
    if (d < 0 || p->demes[d].n == 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "population %s has no member in %s yet", p->name,
                 d < 0 ? "any deme" : "that deme");
        http_json(resp, 409,
                  json_pack("{s:s, s:s}", "error", msg, "state", pop_state_str(p->state)));
        return;
    }
    coord_commit(c); /* the members' records are read back for passed/cases */
    int idx[BUNDLE_MAX_MEMBERS];
    int n = pop_sample_members(p, (uint32_t)d, (int)k, &bundle_rng, idx);
    json_t *notes = json_array();
    json_t *b = json_pack("{s:i, s:s, s:s, s:i, s:i}", "bundle_version", BUNDLE_VERSION,
                          "population", p->name, "state", pop_state_str(p->state), "deme", (int)d,
                          "deme_size", p->demes[d].n);
    json_object_set_new(b, "spec", spec_essentials(p, notes));
    json_t *parents = json_array();
    size_t bytes = 0;
    int capped = 0, left_out = 0;
    {
        char *s = json_dumps(b, JSON_COMPACT);
        bytes = s ? strlen(s) : 0;
        free(s);
    }
    for (int i = 0; i < n; i++) {
        json_t *m = parent_json(c, p, &p->demes[d].m[idx[i]], &capped);
        char *s = json_dumps(m, JSON_COMPACT);
        size_t len = s ? strlen(s) : 0;
        free(s);
        if (i > 0 && bytes + len > BUNDLE_MAX_BYTES) {
            json_decref(m);
            left_out++;
            continue;
        }
        bytes += len;
        json_array_append_new(parents, m);
    }
    json_object_set_new(b, "parents", parents);
    json_object_set_new(b, "members_asked", json_integer(k));
    if (n < k)
        json_array_append_new(notes, json_sprintf("parents: the deme has %d distinct members, "
                                                  "fewer than the %ld asked",
                                                  n, k));
    if (left_out)
        json_array_append_new(notes, json_sprintf("parents: %d left out to keep the bundle "
                                                  "under %u bytes (the best is always in)",
                                                  left_out, BUNDLE_MAX_BYTES));
    if (capped)
        json_array_append_new(notes, json_sprintf("parents[].failing: at most %d failing "
                                                  "cases per parent",
                                                  BUNDLE_MAX_FAILING));
    if (p->selection != POP_SEL_LEXICASE)
        json_array_append_new(
            notes, json_string("parents[].failing is null: this population does not keep "
                               "per-case errors (only lexicase selection does); passed/cases "
                               "come from the parent's lineage record"));
    json_object_set_new(b, "notes", notes);
    char hex[65];
    if (api_bundle_hash(b, hex) != 0) {
        json_decref(b);
        http_error(resp, 500, "out of memory");
        return;
    }
    json_object_set_new(b, "bundle_hash", json_string(hex));
    http_json(resp, 200, b);
}

/* ---- submissions with an origin ---- */

int api_is_external(const json_t *body)
{
    return json_object_get(body, "mutator") || json_object_get(body, "parents") ||
           json_object_get(body, "input_hash") || json_object_get(body, "failure");
}

static int unhex32(const json_t *v, uint8_t out[CRYPTO_HASH_LEN])
{
    const char *s = json_string_value(v);
    return s && strlen(s) == 2 * CRYPTO_HASH_LEN && crypto_unhex(s, out, CRYPTO_HASH_LEN) == 0
               ? 0
               : ERR_INVAL;
}

/* Which failures a mutator's runner may report, and the status each gets. */
static int failure_status(const char *reason)
{
    if (!strcmp(reason, "timeout"))
        return WIRE_ST_TIMEOUT;
    if (!strcmp(reason, "too_big") || !strcmp(reason, "empty") || !strcmp(reason, "not_text"))
        return WIRE_ST_PARSE_ERROR;
    return -1;
}

/* Records a failed answer that no agent ran: the coordinator attests it with
 * its own key (store.h, "Origin") and it is counted as an evaluation. */
static void record_failure(coord_t *c, work_item_t *it, int status, const char *detail)
{
    static work_agent_t self;
    memcpy(self.id, c->id.id, CRYPTO_ID_LEN);
    memcpy(self.pk, c->id.pk, CRYPTO_PK_LEN);
    snprintf(self.name, sizeof self.name, "%s", c->name);
    work_result_t r = {.status = status,
                       .has_breeder = 1,
                       .fitness = NAN,
                       .detail = detail,
                       .src = (const uint8_t *)it->src,
                       .len = it->src_len,
                       .agent = &self};
    crypto_hash(it->src, it->src_len, r.child_hash);
    attest_ext_t x = {.with_breeder = 1}; /* a version 4 record; no VM bred it: zeros */
    if (attest_sign_v2(&c->id, it->pop, it->deme, it->dseq, r.child_hash, (uint8_t)status, NAN, &x,
                       r.sig) != 0) {
        log_error("api.failure_unsigned", "population=%s", it->pop);
        work_item_clear(it);
        return;
    }
    coord_local_result(c, it, &r);
}

void api_submit_external(coord_t *c, pop_t *p, json_t *body, http_resp_t *resp)
{
    json_t *src = json_object_get(body, "source"), *lang = json_object_get(body, "language");
    json_t *mut = json_object_get(body, "mutator"), *par = json_object_get(body, "parents");
    json_t *ih = json_object_get(body, "input_hash"), *fail = json_object_get(body, "failure");
    pop_origin_t o = {0};
    int language = -1, status = -1;
    if (!mut || !json_is_string(mut) || !store_mutator_valid(json_string_value(mut))) {
        http_error(resp, 400,
                   "mutator: must be 1..%d characters of [a-z0-9_.-] (required with "
                   "parents, input_hash or failure)",
                   STORE_MUTATOR_MAX);
        return;
    }
    o.mutator = json_string_value(mut);
    if (lang &&
        (!json_is_string(lang) || (language = spec_language_parse(json_string_value(lang))) < 0)) {
        http_error(resp, 400, "language: must be \"erlang\" or \"elixir\"");
        return;
    }
    if (ih && unhex32(ih, o.input_hash) != 0) {
        http_error(resp, 400, "input_hash: must be 64 hex characters");
        return;
    }
    if (par && (!json_is_array(par) || json_array_size(par) > 2)) {
        http_error(resp, 400, "parents: must be a list of 0 to 2 genome hashes");
        return;
    }
    json_t *known = json_array();
    for (size_t i = 0; i < json_array_size(par); i++) {
        uint8_t *h = o.parents[o.nparents];
        size_t nrec = 0;
        const char *as = NULL;
        if (unhex32(json_array_get(par, i), h) != 0) {
            http_error(resp, 400, "parents[%zu]: must be 64 hex characters", i);
        } else if (pop_has_member(p, h)) {
            as = "member";
        } else if (store_child_records(c->store, h, NULL, 0, &nrec) == 0 && nrec > 0) {
            as = "lineage";
        } else {
            http_error(resp, 400,
                       "parents[%zu]: genome %.16s... is not known to the coordinator (neither a "
                       "member of %s nor in the lineage)",
                       i, json_string_value(json_array_get(par, i)), p->name);
        }
        if (!as) {
            json_decref(known);
            return;
        }
        json_array_append_new(
            known, json_pack("{s:o, s:s}", "hash", hex_json(h, CRYPTO_HASH_LEN), "known_as", as));
        o.nparents++;
    }
    const char *text = json_string_value(src);
    size_t tlen = json_string_length(src);
    if (fail) {
        if (!json_is_string(fail) || (status = failure_status(json_string_value(fail))) < 0) {
            json_decref(known);
            http_error(resp, 400,
                       "failure: must be \"empty\", \"not_text\", \"too_big\" or \"timeout\"");
            return;
        }
        if (!json_is_string(src) || tlen > FAILURE_MAX_BYTES) {
            json_decref(known);
            http_error(resp, 400,
                       "source: with a failure, the answer's first bytes (a string of at most "
                       "%d bytes, may be empty)",
                       FAILURE_MAX_BYTES);
            return;
        }
    } else if (!json_is_string(src) || tlen == 0) {
        json_decref(known);
        http_error(resp, 400, "source: missing or not a non-empty string");
        return;
    }
    if (p->state != POP_RUNNING) {
        json_decref(known);
        http_error(resp, 409, "population %s is %s", p->name, pop_state_str(p->state));
        return;
    }
    work_item_t it;
    uint32_t d = pop_submit_deme(p, text, tlen);
    int rc = pop_reserve(p, d) ? coord_save_pop(c, p) : 0;
    if (rc == 0)
        rc = pop_submit_external(p, d, text, tlen, language, &o, &it);
    if (rc) {
        json_decref(known);
        http_error(resp, 503, "cannot queue the genome: %s", err_str(rc));
        return;
    }
    uint8_t h[CRYPTO_HASH_LEN];
    crypto_hash(it.src, it.src_len, h);
    json_t *out =
        json_pack("{s:o, s:s, s:i, s:I, s:s, s:o, s:s, s:o}", "hash", hex_json(h, CRYPTO_HASH_LEN),
                  "population", p->name, "deme", (int)it.deme, "dseq", (json_int_t)it.dseq,
                  "operator", "external", "parents", known, "mutator", o.mutator, "input_hash",
                  hex_json(o.input_hash, CRYPTO_HASH_LEN));
    if (status >= 0) {
        char detail[96];
        snprintf(detail, sizeof detail, "the mutator's answer failed: %s", json_string_value(fail));
        json_object_set_new(out, "status", json_string(wire_status_str(status)));
        record_failure(c, &it, status, detail);
        coord_commit(c);
    } else {
        coord_queue_item(c, &it);
        coord_dispatch(c);
    }
    http_json(resp, 202, out);
}
