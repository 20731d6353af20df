/* pop_spec.c - a population spec's own fields (size, demes, selection,
 * replacement, operators, elitism, migration, stop, seeds): parsed into
 * pop_t, each bad one named (pop.h has the spec's shape). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "pop.h"

static int get_int(json_t *o, const char *key, const char *where, int64_t min, int64_t max,
                   int64_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return err_spec(err, errlen, "%s%s: must be an integer in [%lld, %lld]", where, key,
                        (long long)min, (long long)max);
    *out = json_integer_value(v);
    return 0;
}

/* selection: {"tournament": n} or
 * {"lexicase": {"epsilon": .., "downsample": .., "tiebreak": "random" | "size"}} */
static int parse_selection(pop_t *p, json_t *sel, int64_t *tour, char *err, size_t errlen)
{
    static const char *const k[] = {"tournament", "lexicase", NULL};
    static const char *const lk[] = {"epsilon", "downsample", "tiebreak", NULL};
    p->selection = POP_SEL_TOURNAMENT;
    p->lex_epsilon = -1;
    p->lex_downsample = 1;
    p->lex_size_tiebreak = 0;
    if (!sel)
        return 0;
    int rc;
    if (!json_is_object(sel))
        return err_spec(err, errlen,
                        "selection: must be an object like {\"tournament\": 4} or "
                        "{\"lexicase\": {\"epsilon\": \"auto\"}}");
    if ((rc = spec_check_keys(sel, "selection.", k, NULL, err, errlen)))
        return rc;
    if (json_object_size(sel) != 1)
        return err_spec(err, errlen, "selection: give exactly one of tournament, lexicase");
    json_t *lex = json_object_get(sel, "lexicase");
    if (!lex)
        return get_int(sel, "tournament", "selection.", 2, 64, tour, err, errlen);
    if (!json_is_object(lex))
        return err_spec(err, errlen, "selection.lexicase: must be an object (may be empty)");
    if ((rc = spec_check_keys(lex, "selection.lexicase.", lk, NULL, err, errlen)))
        return rc;
    p->selection = POP_SEL_LEXICASE;
    json_t *e = json_object_get(lex, "epsilon");
    if (e && !(json_is_string(e) && strcmp(json_string_value(e), "auto") == 0)) {
        if (!json_is_number(e) || !(json_number_value(e) >= 0) || !isfinite(json_number_value(e)))
            return err_spec(err, errlen,
                            "selection.lexicase.epsilon: must be \"auto\" or a number >= 0");
        p->lex_epsilon = json_number_value(e);
    }
    json_t *d = json_object_get(lex, "downsample");
    if (d) {
        if (!json_is_number(d) || !(json_number_value(d) > 0) || json_number_value(d) > 1)
            return err_spec(err, errlen,
                            "selection.lexicase.downsample: must be a number in (0, 1]");
        p->lex_downsample = json_number_value(d);
    }
    json_t *tb = json_object_get(lex, "tiebreak");
    if (tb) {
        const char *v = json_is_string(tb) ? json_string_value(tb) : "";
        if (strcmp(v, "random") != 0 && strcmp(v, "size") != 0)
            return err_spec(err, errlen,
                            "selection.lexicase.tiebreak: must be \"random\" or \"size\"");
        p->lex_size_tiebreak = strcmp(v, "size") == 0;
    }
    return 0;
}

/* replacement: "niche" | {"niche": {"share": s}} | "no_worse" | "age" (pop.h
 * invariant 7) */
static int parse_replacement(pop_t *p, json_t *r, char *err, size_t errlen)
{
    static const char *const k[] = {"niche", NULL};
    static const char *const nk[] = {"share", NULL};
    p->replacement = POP_REPL_NICHE;
    p->niche_share = POP_NICHE_SHARE;
    if (!r)
        return 0;
    if (json_is_string(r)) {
        if (strcmp(json_string_value(r), "no_worse") == 0)
            p->replacement = POP_REPL_NO_WORSE;
        else if (strcmp(json_string_value(r), "age") == 0)
            p->replacement = POP_REPL_AGE;
        else if (strcmp(json_string_value(r), "niche") != 0)
            return err_spec(err, errlen, "replacement: '%s' is not one of niche, no_worse, age",
                            json_string_value(r));
        return 0;
    }
    if (!json_is_object(r))
        return err_spec(err, errlen,
                        "replacement: must be \"niche\", \"no_worse\", \"age\" or "
                        "{\"niche\": {\"share\": 0.25}}");
    int rc;
    if ((rc = spec_check_keys(r, "replacement.", k, NULL, err, errlen)))
        return rc;
    json_t *n = json_object_get(r, "niche");
    if (!n)
        return 0;
    if (!json_is_object(n))
        return err_spec(err, errlen, "replacement.niche: must be an object (may be empty)");
    if ((rc = spec_check_keys(n, "replacement.niche.", nk, NULL, err, errlen)))
        return rc;
    json_t *sh = json_object_get(n, "share");
    if (sh) {
        if (!json_is_number(sh) || !(json_number_value(sh) > 0) || json_number_value(sh) > 1)
            return err_spec(err, errlen, "replacement.niche.share: must be a number in (0, 1]");
        p->niche_share = json_number_value(sh);
    }
    return 0;
}

/* fitness.cost.mode, read from the JSON so that it works whatever spec_t
 * holds: "lexicographic" makes cost break fitness ties (pop.h invariant 4). */
static int cost_is_lexicographic(json_t *s)
{
    json_t *m = json_object_get(json_object_get(json_object_get(s, "fitness"), "cost"), "mode");
    return json_is_string(m) && strcmp(json_string_value(m), "lexicographic") == 0;
}

int pop_parse_fields(pop_t *p, json_t *s, char *err, size_t errlen)
{
    json_t *name = json_object_get(s, "name");
    if (!name || !json_is_string(name))
        return err_spec(err, errlen, "name: missing or not a string");
    const char *n = json_string_value(name);
    size_t len = strlen(n);
    if (len == 0 || len > 48)
        return err_spec(err, errlen, "name: must be 1..48 characters");
    for (const char *c = n; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
            return err_spec(err, errlen, "name: '%s' may only hold a-z, 0-9, _ and -", n);
    memcpy(p->name, n, len + 1);
    int64_t size = 200, demes = 4, tour = 4, elit = 2;
    int rc;
    if ((rc = get_int(s, "size", "", 4, 1000000, &size, err, errlen)) ||
        (rc = get_int(s, "demes", "", 1, 256, &demes, err, errlen)) ||
        (rc = get_int(s, "elitism", "", 0, 1000, &elit, err, errlen)))
        return rc;
    if (size / demes < 4)
        return err_spec(err, errlen, "size: %lld over %lld demes leaves fewer than 4 per deme",
                        (long long)size, (long long)demes);
    if ((rc = parse_selection(p, json_object_get(s, "selection"), &tour, err, errlen)) ||
        (rc = parse_replacement(p, json_object_get(s, "replacement"), err, errlen)))
        return rc;
    if (elit >= size / demes)
        return err_spec(err, errlen, "elitism: %lld is not smaller than a deme (%lld)",
                        (long long)elit, (long long)(size / demes));
    p->size = (int)size;
    p->lex_max_cases = (uint32_t)(POP_LEX_MAX_BYTES / sizeof(double) / (size_t)size);
    p->cost_lex = cost_is_lexicographic(s);
    p->ndemes = (int)demes;
    p->tournament = (int)tour;
    p->elitism = (int)elit;
    memcpy(p->rates, ops_default_rates, sizeof p->rates);
    json_t *ops = json_object_get(s, "operators");
    if (ops) {
        if (!json_is_object(ops) || json_object_size(ops) == 0)
            return err_spec(err, errlen, "operators: must be an object of operator: rate");
        double sum = 0;
        double r[POP_OPS] = {0};
        const char *k;
        json_t *v;
        json_object_foreach(ops, k, v)
        {
            int i = ops_find(k);
            if (i < 0)
                return err_spec(err, errlen, "operators.%s: unknown operator (known: %s)", k,
                                ops_known);
            if (!json_is_number(v) || json_number_value(v) < 0 || !isfinite(json_number_value(v)))
                return err_spec(err, errlen, "operators.%s: must be a rate >= 0", k);
            r[i] = json_number_value(v);
            sum += r[i];
        }
        if (!(sum > 0))
            return err_spec(err, errlen, "operators: the rates add up to 0");
        for (int i = 0; i < POP_OPS; i++)
            p->rates[i] = r[i] / sum;
    }
    json_t *mig = json_object_get(s, "migration");
    p->migration_interval = 200;
    p->migration_count = 1;
    if (mig) {
        static const char *const k[] = {"interval", "count", NULL};
        int64_t iv = 200, cnt = 1;
        if (!json_is_object(mig))
            return err_spec(err, errlen, "migration: must be an object like {\"interval\": 200}");
        if ((rc = spec_check_keys(mig, "migration.", k, NULL, err, errlen)) ||
            (rc = get_int(mig, "interval", "migration.", 0, 1LL << 40, &iv, err, errlen)) ||
            (rc = get_int(mig, "count", "migration.", 1, 1000, &cnt, err, errlen)))
            return rc;
        p->migration_interval = (uint64_t)iv;
        p->migration_count = (int)cnt;
    }
    json_t *stop = json_object_get(s, "stop");
    p->has_target = 1;
    p->target_fitness = 0;
    p->max_evaluations = 0;
    if (stop) {
        static const char *const k[] = {"target_fitness", "max_evaluations", NULL};
        if (!json_is_object(stop))
            return err_spec(err, errlen, "stop: must be an object");
        if ((rc = spec_check_keys(stop, "stop.", k, NULL, err, errlen)))
            return rc;
        json_t *t = json_object_get(stop, "target_fitness");
        if (t && !json_is_null(t)) {
            if (!json_is_number(t) || json_number_value(t) < 0)
                return err_spec(err, errlen, "stop.target_fitness: must be a number >= 0");
            p->target_fitness = json_number_value(t);
        } else if (t) {
            p->has_target = 0;
        }
        int64_t me = 0;
        if ((rc = get_int(stop, "max_evaluations", "stop.", 0, 1LL << 50, &me, err, errlen)))
            return rc;
        p->max_evaluations = (uint64_t)me;
    }
    json_t *seeds = json_object_get(s, "seeds");
    if (seeds) {
        if (!json_is_array(seeds) || json_array_size(seeds) > 1000)
            return err_spec(err, errlen, "seeds: must be a list of genome sources (at most 1000)");
        size_t i;
        json_t *v;
        json_array_foreach(seeds, i, v)
        {
            if (!json_is_string(v) || json_string_length(v) == 0)
                return err_spec(err, errlen, "seeds[%zu]: must be a non-empty source string", i);
        }
        p->seeds = json_incref(seeds);
    }
    return 0;
}
