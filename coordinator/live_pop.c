/* live_pop.c - a live population's config (live_pop.h): parsing and checks,
 * with messages that name the field. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live_pop.h"
#include "live_spec.h"
#include "spec.h"

/* Keys the live population handles; the rest is the breeding spec's. */
static const char *const live_keys[] = {
    "name",        "operators",        "live", "trace", "genome",
    "individuals", "upgrade_every_ms", "stop", NULL};

static live_pop_t *fail(live_pop_t *p, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static live_pop_t *fail(live_pop_t *p, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    live_pop_destroy(&p);
    return NULL;
}

static live_pop_t *drop(live_pop_t *p)
{
    live_pop_destroy(&p);
    return NULL;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 48)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return 0;
    return 1;
}

static char *dup_str(json_t *v, size_t *len)
{
    *len = json_string_length(v);
    char *s = malloc(*len + 1);
    if (s)
        memcpy(s, json_string_value(v), *len + 1);
    return s;
}

/* An integer field in [lo, hi], def when absent. */
static int get_int(json_t *o, const char *k, int64_t lo, int64_t hi, int64_t def, int64_t *out,
                   char *err, size_t errlen, const char *path)
{
    json_t *v = json_object_get(o, k);
    *out = def;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(err, errlen, "%s%s: must be an integer in %lld..%lld", path, k, (long long)lo,
                 (long long)hi);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

static int parse_ops(live_pop_t *p, json_t *ops, char *err, size_t errlen)
{
    if (!ops) {
        for (int k = 0; k < POP_OPS; k++)
            p->rates[k] = strcmp(ops_names[k], "literal") == 0;
        return 0;
    }
    if (!json_is_object(ops) || json_object_size(ops) == 0) {
        snprintf(err, errlen, "operators: must be an object of operator: rate");
        return -1;
    }
    double sum = 0;
    const char *k;
    json_t *v;
    json_object_foreach(ops, k, v)
    {
        int i = ops_find(k);
        if (i < 0) {
            snprintf(err, errlen, "operators.%s: unknown operator (known: %s)", k, ops_known);
            return -1;
        }
        if (!json_is_number(v) || !(json_number_value(v) >= 0) || !isfinite(json_number_value(v))) {
            snprintf(err, errlen, "operators.%s: must be a rate >= 0", k);
            return -1;
        }
        p->rates[i] = json_number_value(v);
        sum += p->rates[i];
    }
    if (!(sum > 0)) {
        snprintf(err, errlen, "operators: the rates add up to 0");
        return -1;
    }
    for (int i = 0; i < POP_OPS; i++)
        p->rates[i] /= sum;
    return 0;
}

live_pop_t *live_pop_new(json_t *config, char *err, size_t errlen)
{
    if (!json_is_object(config)) {
        snprintf(err, errlen, "body: must be a JSON object (a live population's config)");
        return NULL;
    }
    live_pop_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    wire_buf_init(&p->breed_spec);
    json_t *name = json_object_get(config, "name");
    if (!json_is_string(name) || !valid_name(json_string_value(name)))
        return fail(p, err, errlen, "name: must be 1..48 characters of [a-z0-9_-]");
    snprintf(p->name, sizeof p->name, "%s", json_string_value(name));

    json_t *fn = json_object_get(config, "function");
    if (!json_is_string(fn) || strcmp(json_string_value(fn), "handle/2") != 0)
        return fail(p, err, errlen, "function: must be \"handle/2\" (a live genome's callback)");
    /* the breeding spec: the population spec's fields, cases optional */
    json_t *spec_json = json_deep_copy(config);
    /* the workload judges a live genome, not cases: one neutral case keeps
     * the SPEC block whole; the callback's arguments name the variables */
    if (spec_json && !json_object_get(spec_json, "fitness"))
        json_object_set_new(spec_json, "fitness",
                            json_pack("{s:[{s:[i,i], s:i}]}", "cases", "in", 0, 0, "out", 0));
    json_t *prim = spec_json ? json_object_get(spec_json, "primitives") : NULL;
    if (json_is_object(prim) && !json_object_get(prim, "vars"))
        json_object_set_new(prim, "vars", json_pack("[s, s]", "Request", "State"));
    spec_t *spec = NULL;
    int rc = spec_json ? spec_from_json(spec_json, live_keys, &spec, err, errlen) : -1;
    json_decref(spec_json);
    if (rc)
        return drop(p);
    if (spec->arity != 2 || strcmp(spec->function, "handle") != 0) {
        spec_destroy(&spec);
        return fail(p, err, errlen, "function: must be \"handle/2\" (a live genome's callback)");
    }
    p->language = spec->language;
    spec_encode(spec, -1, &p->breed_spec);
    spec_destroy(&spec);
    if (p->breed_spec.err)
        return fail(p, err, errlen, "out of memory");

    if (parse_ops(p, json_object_get(config, "operators"), err, errlen))
        return drop(p);

    json_t *live = json_object_get(config, "live");
    if (!json_is_object(live))
        return fail(p, err, errlen,
                    "live: missing or not an object (the live section: atoms, "
                    "init, limits, probation, window, score, rate, batch)");
    p->live_spec = json_dumps(live, JSON_COMPACT | JSON_SORT_KEYS);
    if (!p->live_spec)
        return fail(p, err, errlen, "out of memory");
    p->live_spec_len = strlen(p->live_spec);
    if (p->live_spec_len > LIVE_POP_MAX_SPEC)
        return fail(p, err, errlen, "live: %zu bytes, over %u", p->live_spec_len,
                    LIVE_POP_MAX_SPEC);
    json_t *trace = json_object_get(config, "trace");
    if (!json_is_string(trace) || json_string_length(trace) == 0)
        return fail(p, err, errlen,
                    "trace: missing or not a non-empty string of JSON lines "
                    "(the CLI reads trace_file into it)");
    if (json_string_length(trace) > LIVE_POP_MAX_TRACE)
        return fail(p, err, errlen, "trace: %zu bytes, over %u", json_string_length(trace),
                    LIVE_POP_MAX_TRACE);
    if (!(p->trace = dup_str(trace, &p->trace_len)))
        return fail(p, err, errlen, "out of memory");
    char why[512];
    live_spec_t ls;
    if (live_spec_parse(p->live_spec, p->live_spec_len, &ls, why, sizeof why) != 0) {
        live_spec_free(&ls);
        return fail(p, err, errlen, "live.%s", why);
    }
    live_trace_t lt;
    rc = live_trace_parse(p->trace, p->trace_len, &ls, &lt, why, sizeof why);
    live_trace_free(&lt);
    live_spec_free(&ls);
    if (rc)
        return fail(p, err, errlen, "%s", why);

    json_t *genome = json_object_get(config, "genome");
    if (!json_is_string(genome) || json_string_length(genome) == 0)
        return fail(p, err, errlen, "genome: missing or not a non-empty source string");
    if (json_string_length(genome) > LIVE_POP_MAX_GENOME)
        return fail(p, err, errlen, "genome: %zu bytes, over %u", json_string_length(genome),
                    LIVE_POP_MAX_GENOME);
    if (!(p->genome = dup_str(genome, &p->genome_len)))
        return fail(p, err, errlen, "out of memory");

    int64_t n, every, maxup = 0;
    if (get_int(config, "individuals", 1, LIVE_MAX_INDIVIDUALS, 1, &n, err, errlen, "") ||
        get_int(config, "upgrade_every_ms", 0, 3600000, 1000, &every, err, errlen, ""))
        return drop(p);
    json_t *stop = json_object_get(config, "stop");
    if (stop && !json_is_object(stop))
        return fail(p, err, errlen, "stop: must be an object {\"max_upgrades\": N}");
    if (stop && get_int(stop, "max_upgrades", 0, INT64_MAX, 0, &maxup, err, errlen, "stop."))
        return drop(p);
    if (p->language == 1 && every > 0)
        return fail(p, err, errlen,
                    "upgrade_every_ms: the built-in operators breed Erlang genomes only; an "
                    "Elixir live population takes its children from external mutators "
                    "(upgrade_every_ms 0, petri mutate --live, petri live upgrade)");
    p->n = (int)n;
    p->upgrade_every_ms = (uint32_t)every;
    p->max_upgrades = (uint64_t)maxup;
    p->ind = calloc((size_t)p->n, sizeof *p->ind);
    if (!p->ind)
        return fail(p, err, errlen, "out of memory");
    for (int i = 0; i < p->n; i++)
        p->ind[i].fitness = NAN;
    p->rng = 0x11fe;
    for (const char *c = p->name; *c; c++)
        p->rng = p->rng * 131 + (uint8_t)*c;
    p->shell = calloc(1, sizeof *p->shell);
    if (!p->shell)
        return fail(p, err, errlen, "out of memory");
    snprintf(p->shell->name, sizeof p->shell->name, "%s", p->name);
    wire_buf_init(&p->shell->spec_wire);
    wire_put_raw(&p->shell->spec_wire, p->breed_spec.data, p->breed_spec.len);
    if (p->shell->spec_wire.err)
        return fail(p, err, errlen, "out of memory");
    p->config = json_incref(config);
    return p;
}

void live_pop_destroy(live_pop_t **pp)
{
    live_pop_t *p = pp ? *pp : NULL;
    if (!p)
        return;
    for (int i = 0; p->ind && i < p->n; i++) {
        free(p->ind[i].good_src);
        free(p->ind[i].snap);
        free(p->ind[i].up_src);
        free(p->ind[i].q_src);
    }
    free(p->ind);
    free(p->live_spec);
    free(p->trace);
    free(p->genome);
    wire_buf_free(&p->breed_spec);
    if (p->shell) {
        wire_buf_free(&p->shell->spec_wire);
        free(p->shell);
    }
    json_decref(p->config);
    free(p);
    *pp = NULL;
}
