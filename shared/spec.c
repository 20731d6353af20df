/* spec.c - parse and check evaluation specs (JSON), encode them for the VMs. */
#include "spec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "etf.h"
#include "util.h"

#define SPEC_FILE_MAX (16u * 1024 * 1024)

/* Fails when obj has a key not in allowed (NULL-terminated) nor in extra. */
int spec_check_keys(json_t *obj, const char *where, const char *const *allowed,
                    const char *const *extra, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        for (const char *const *a = extra; a && *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok)
            return err_spec(err, errlen, "%s%s: unknown key", where, key);
    }
    return 0;
}

static int get_num(json_t *v, spec_num_t *n)
{
    if (json_is_integer(v)) {
        n->is_float = 0;
        n->i = json_integer_value(v);
        n->f = (double)n->i;
        return 0;
    }
    if (json_is_real(v)) {
        n->is_float = 1;
        n->f = json_real_value(v);
        return isfinite(n->f) ? 0 : -1;
    }
    return -1;
}

/* Reads an optional positive integer field within [min, max]. */
static int get_uint(json_t *obj, const char *where, const char *key, uint64_t min, uint64_t max,
                    uint64_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < min ||
        (uint64_t)json_integer_value(v) > max)
        return err_spec(err, errlen, "%s%s: must be an integer in [%llu, %llu]", where, key,
                        (unsigned long long)min, (unsigned long long)max);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int copy_name(const char *what, const char *s, char *dst, char *err, size_t errlen)
{
    size_t n = strlen(s);
    if (n == 0 || n >= SPEC_NAME_MAX)
        return err_spec(err, errlen, "%s: must be 1..%d characters", what, SPEC_NAME_MAX - 1);
    memcpy(dst, s, n + 1);
    return 0;
}

static int parse_function(spec_t *s, json_t *root, char *err, size_t errlen)
{
    json_t *f = json_object_get(root, "function");
    if (!f)
        return err_spec(err, errlen, "function: missing (e.g. \"f/1\")");
    if (!json_is_string(f))
        return err_spec(err, errlen, "function: must be a string like \"f/1\"");
    const char *txt = json_string_value(f);
    const char *slash = strrchr(txt, '/');
    if (!slash || slash == txt || slash - txt >= SPEC_NAME_MAX)
        return err_spec(err, errlen, "function: '%s' is not name/arity", txt);
    char *end;
    errno = 0;
    long ar = strtol(slash + 1, &end, 10);
    if (errno || *end || end == slash + 1 || ar < 0 || ar > SPEC_MAX_ARITY)
        return err_spec(err, errlen, "function: arity in '%s' must be 0..%d", txt, SPEC_MAX_ARITY);
    memcpy(s->function, txt, (size_t)(slash - txt));
    s->function[slash - txt] = '\0';
    if (!(s->function[0] >= 'a' && s->function[0] <= 'z'))
        return err_spec(err, errlen, "function: name '%s' must start with a lower-case letter",
                        s->function);
    for (const char *p = s->function; *p; p++)
        if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9')))
            return err_spec(err, errlen,
                            "function: name '%s' has a character other than "
                            "letters, digits and _",
                            s->function);
    s->arity = (uint32_t)ar;
    return 0;
}

static int parse_primitives(spec_t *s, json_t *root, char *err, size_t errlen)
{
    static const char *const keys[] = {"ops", "vars", "constants", NULL};
    static const char *const ckeys[] = {"min", "max", "integer", NULL};
    json_t *p = json_object_get(root, "primitives");
    /* defaults: arithmetic, variables X1..Xn (X for arity 1), small integers */
    static const char *const def_ops[] = {"+", "-", "*"};
    s->nops = 3;
    for (int i = 0; i < 3; i++)
        strcpy(s->ops[i], def_ops[i]);
    for (uint32_t i = 0; i < s->arity; i++) {
        if (s->arity == 1)
            strcpy(s->vars[i], "X");
        else
            snprintf(s->vars[i], SPEC_NAME_MAX, "X%u", i + 1);
    }
    s->const_min = -5;
    s->const_max = 5;
    s->const_int = 1;
    if (!p)
        return 0;
    if (!json_is_object(p))
        return err_spec(err, errlen, "primitives: must be an object");
    int rc = spec_check_keys(p, "primitives.", keys, NULL, err, errlen);
    if (rc)
        return rc;
    json_t *ops = json_object_get(p, "ops");
    if (ops) {
        if (!json_is_array(ops) || json_array_size(ops) == 0 || json_array_size(ops) > SPEC_MAX_OPS)
            return err_spec(err, errlen, "primitives.ops: must be a list of 1..%d strings",
                            SPEC_MAX_OPS);
        size_t i;
        json_t *o;
        json_array_foreach(ops, i, o)
        {
            if (!json_is_string(o))
                return err_spec(err, errlen, "primitives.ops[%zu]: must be a string", i);
            char what[48];
            snprintf(what, sizeof what, "primitives.ops[%zu]", i);
            if ((rc = copy_name(what, json_string_value(o), s->ops[i], err, errlen)))
                return rc;
        }
        s->nops = (int)json_array_size(ops);
    }
    json_t *vars = json_object_get(p, "vars");
    if (vars) {
        if (!json_is_array(vars) || json_array_size(vars) != s->arity)
            return err_spec(err, errlen,
                            "primitives.vars: must be a list of %u variable names "
                            "(one per argument)",
                            s->arity);
        size_t i;
        json_t *o;
        json_array_foreach(vars, i, o)
        {
            const char *v = json_is_string(o) ? json_string_value(o) : NULL;
            if (!v || !(v[0] >= 'A' && v[0] <= 'Z'))
                return err_spec(err, errlen,
                                "primitives.vars[%zu]: must be an Erlang variable name "
                                "(starting with an upper-case letter)",
                                i);
            char what[48];
            snprintf(what, sizeof what, "primitives.vars[%zu]", i);
            if ((rc = copy_name(what, v, s->vars[i], err, errlen)))
                return rc;
        }
    }
    json_t *c = json_object_get(p, "constants");
    if (c) {
        if (!json_is_object(c))
            return err_spec(err, errlen, "primitives.constants: must be an object");
        if ((rc = spec_check_keys(c, "primitives.constants.", ckeys, NULL, err, errlen)))
            return rc;
        json_t *mn = json_object_get(c, "min"), *mx = json_object_get(c, "max"),
               *in = json_object_get(c, "integer");
        if (mn && !json_is_number(mn))
            return err_spec(err, errlen, "primitives.constants.min: must be a number");
        if (mx && !json_is_number(mx))
            return err_spec(err, errlen, "primitives.constants.max: must be a number");
        if (in && !json_is_boolean(in))
            return err_spec(err, errlen, "primitives.constants.integer: must be true or false");
        if (mn)
            s->const_min = json_number_value(mn);
        if (mx)
            s->const_max = json_number_value(mx);
        if (in)
            s->const_int = json_is_true(in);
        if (!(s->const_min <= s->const_max))
            return err_spec(err, errlen, "primitives.constants: min must be <= max");
    }
    return 0;
}

/* A plain atom name: a lower-case letter, then letters, digits, _ and @. */
static int plain_atom(const char *a, size_t len)
{
    if (len == 0 || len > SPEC_ATOM_MAX || !(a[0] >= 'a' && a[0] <= 'z'))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!(a[i] == '_' || a[i] == '@' || (a[i] >= 'a' && a[i] <= 'z') ||
              (a[i] >= 'A' && a[i] <= 'Z') || (a[i] >= '0' && a[i] <= '9')))
            return 0;
    return 1;
}

static int parse_atoms(spec_t *s, json_t *f, char *err, size_t errlen)
{
    json_t *atoms = json_object_get(f, "atoms");
    if (!atoms)
        return 0;
    if (!json_is_array(atoms) || json_array_size(atoms) > SPEC_MAX_ATOMS)
        return err_spec(err, errlen, "fitness.atoms: must be a list of at most %d atom names",
                        SPEC_MAX_ATOMS);
    size_t n = json_array_size(atoms);
    s->atoms = calloc(n ? n : 1, sizeof *s->atoms);
    if (!s->atoms)
        return -ENOMEM;
    size_t i;
    json_t *a;
    json_array_foreach(atoms, i, a)
    {
        const char *v = json_is_string(a) ? json_string_value(a) : NULL;
        if (!v || !plain_atom(v, json_string_length(a)))
            return err_spec(err, errlen,
                            "fitness.atoms[%zu]: must be a plain atom name (a lower-case letter, "
                            "then letters, digits, _ and @; at most %d bytes)",
                            i, SPEC_ATOM_MAX);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(s->atoms[j], v))
                return err_spec(err, errlen, "fitness.atoms[%zu]: \"%s\" is declared twice", i, v);
        memcpy(s->atoms[i], v, strlen(v) + 1);
        s->natoms = i + 1;
    }
    return 0;
}

/* An optional finite number >= min (> min when strict). */
static int get_real(json_t *f, const char *key, double min, int strict, double *out, char *err,
                    size_t errlen)
{
    json_t *v = json_object_get(f, key);
    if (!v)
        return 0;
    double d = json_is_number(v) ? json_number_value(v) : NAN;
    if (!isfinite(d) || d < min || (strict && d == min))
        return err_spec(err, errlen, "fitness.%s: must be a finite number %s %g", key,
                        strict ? ">" : ">=", min);
    *out = d;
    return 0;
}

static int parse_evaluator(spec_t *s, json_t *f, char *err, size_t errlen)
{
    static const char *const keys[] = {"source", "language", NULL};
    json_t *e = json_object_get(f, "evaluator");
    if (!e)
        return 0;
    if (!json_is_object(e))
        return err_spec(
            err, errlen,
            "fitness.evaluator: must be an object: {\"source\": ..., \"language\": ...} "
            "or {\"file\": \"evaluator.erl\"}");
    if (json_object_get(e, "file"))
        return err_spec(err, errlen,
                        "fitness.evaluator.file: only a spec read from a file may name a file "
                        "(give \"source\" instead)");
    int rc = spec_check_keys(e, "fitness.evaluator.", keys, NULL, err, errlen);
    if (rc)
        return rc;
    json_t *src = json_object_get(e, "source"), *lang = json_object_get(e, "language");
    if (!src || !json_is_string(src) || json_string_length(src) == 0)
        return err_spec(err, errlen, "fitness.evaluator.source: must be the module's source text");
    if (json_string_length(src) > SPEC_EVALUATOR_MAX_BYTES)
        return err_spec(err, errlen, "fitness.evaluator.source: larger than %u bytes",
                        SPEC_EVALUATOR_MAX_BYTES);
    s->evaluator_lang = SPEC_LANG_ERLANG;
    if (lang) {
        s->evaluator_lang =
            json_is_string(lang) ? spec_language_parse(json_string_value(lang)) : -1;
        if (s->evaluator_lang < 0)
            return err_spec(err, errlen,
                            "fitness.evaluator.language: must be \"erlang\" or \"elixir\"");
    }
    s->evaluator_len = json_string_length(src);
    s->evaluator = malloc(s->evaluator_len);
    if (!s->evaluator)
        return -ENOMEM;
    memcpy(s->evaluator, json_string_value(src), s->evaluator_len);
    return 0;
}

static int parse_cost(spec_t *s, json_t *f, char *err, size_t errlen)
{
    static const char *const keys[] = {"mode", "reductions", "heap", "time", NULL};
    static const char *const modes[] = {"none", "lexicographic", "weighted"};
    json_t *c = json_object_get(f, "cost");
    if (!c)
        return 0;
    if (!json_is_object(c))
        return err_spec(err, errlen, "fitness.cost: must be an object with \"mode\"");
    int rc = spec_check_keys(c, "fitness.cost.", keys, NULL, err, errlen);
    if (rc)
        return rc;
    json_t *m = json_object_get(c, "mode");
    const char *mv = json_is_string(m) ? json_string_value(m) : "";
    s->cost_mode = -1;
    for (int i = 0; i < 3; i++)
        if (!strcmp(mv, modes[i]))
            s->cost_mode = i;
    if (s->cost_mode < 0)
        return err_spec(err, errlen,
                        "fitness.cost.mode: must be \"none\", \"lexicographic\" or \"weighted\"");
    int given = 0;
    double sum = 0;
    for (int i = 0; i < 3; i++) {
        json_t *w = json_object_get(c, keys[i + 1]);
        if (!w)
            continue;
        double d = json_is_number(w) ? json_number_value(w) : NAN;
        if (!isfinite(d) || d < 0)
            return err_spec(err, errlen, "fitness.cost.%s: must be a finite number >= 0",
                            keys[i + 1]);
        s->cost_w[i] = d;
        sum += d;
        given = 1;
    }
    if (!given) {
        s->cost_w[SPEC_COST_W_REDUCTIONS] = 1;
        sum = 1;
    }
    if (s->cost_mode != SPEC_COST_NONE && !(sum > 0))
        return err_spec(err, errlen,
                        "fitness.cost: every weight is 0 (give reductions, heap or time > 0, or "
                        "mode \"none\")");
    return 0;
}

/* Drops what the numeric path parsed: a case is not all numbers. */
static int not_numeric(spec_t *s)
{
    free(s->cases);
    s->cases = NULL;
    s->ncases = 0;
    return 1;
}

/* The numeric path, taken while every case is {"in": [numbers], "out":
 * number}: returns 1, keeping nothing, at the first case that is not, so
 * the caller maps the cases to terms instead (one pass for numeric specs). */
static int parse_numeric_cases(spec_t *s, json_t *cases, char *err, size_t errlen)
{
    static const char *const case_keys[] = {"in", "out", NULL};
    s->ncases = json_array_size(cases);
    s->cases = calloc(s->ncases, sizeof *s->cases);
    if (!s->cases)
        return -ENOMEM;
    size_t i, j;
    json_t *c, *x;
    int rc;
    json_array_foreach(cases, i, c)
    {
        json_t *in = json_object_get(c, "in"), *out = json_object_get(c, "out");
        if (!json_is_array(in) || !json_is_number(out))
            return not_numeric(s);
        json_array_foreach(in, j, x)
        {
            if (!json_is_number(x))
                return not_numeric(s);
        }
        char where[48];
        snprintf(where, sizeof where, "fitness.cases[%zu].", i);
        if ((rc = spec_check_keys(c, where, case_keys, NULL, err, errlen)))
            return rc;
        if (json_array_size(in) != s->arity)
            return err_spec(err, errlen, "%sin: must be a list of %u numbers", where, s->arity);
        json_array_foreach(in, j, x)
        {
            if (get_num(x, &s->cases[i].in[j]))
                return err_spec(err, errlen, "%sin[%zu]: must be a finite number", where, j);
        }
        if (get_num(out, &s->cases[i].out))
            return err_spec(err, errlen, "%sout: must be a finite number", where);
    }
    return 0;
}

/* Maps every case to {Inputs, Expected} in one ETF list (term_cases). */
static int parse_term_cases(spec_t *s, json_t *cases, char *err, size_t errlen)
{
    static const char *const case_keys[] = {"in", "out", NULL};
    const char **names = calloc(s->natoms ? s->natoms : 1, sizeof *names);
    if (!names)
        return -ENOMEM;
    for (size_t i = 0; i < s->natoms; i++)
        names[i] = s->atoms[i];
    etf_json_opts_t o = {.atoms = names,
                         .natoms = s->natoms,
                         .atoms_field = "fitness.atoms",
                         .max_depth = SPEC_TERM_MAX_DEPTH};
    etf_buf_t b;
    etf_buf_init(&b, SPEC_TERM_MAX_BYTES);
    etf_put_version(&b);
    etf_put_list_header(&b, (uint32_t)json_array_size(cases));
    size_t i;
    json_t *c;
    int rc = 0;
    json_array_foreach(cases, i, c)
    {
        char where[48];
        snprintf(where, sizeof where, "fitness.cases[%zu].", i);
        if (!json_is_object(c)) {
            rc = err_spec(err, errlen, "fitness.cases[%zu]: must be an object with in and out", i);
            break;
        }
        if ((rc = spec_check_keys(c, where, case_keys, NULL, err, errlen)))
            break;
        json_t *in = json_object_get(c, "in"), *out = json_object_get(c, "out");
        if (!json_is_array(in) || json_array_size(in) != s->arity) {
            rc = err_spec(err, errlen, "%sin: must be a list of %u values (one per argument)",
                          where, s->arity);
            break;
        }
        if (!out) {
            rc = err_spec(err, errlen, "%sout: missing (the expected result)", where);
            break;
        }
        etf_put_tuple_header(&b, 2);
        char path[64];
        snprintf(path, sizeof path, "fitness.cases[%zu].in", i);
        /* the inputs as a list (an empty one for arity 0) */
        if (s->arity == 0) {
            etf_put_nil(&b);
        } else {
            etf_put_list_header(&b, s->arity);
            size_t j;
            json_t *x;
            json_array_foreach(in, j, x)
            {
                char p2[96];
                snprintf(p2, sizeof p2, "%s[%zu]", path, j);
                if ((rc = etf_put_json(&b, x, &o, p2, err, errlen)))
                    break;
            }
            if (rc)
                break;
            etf_put_nil(&b);
        }
        snprintf(path, sizeof path, "fitness.cases[%zu].out", i);
        if ((rc = etf_put_json(&b, out, &o, path, err, errlen)))
            break;
    }
    if (!rc) {
        etf_put_nil(&b);
        if (b.err == ERR_TOOBIG)
            rc = err_spec(err, errlen,
                          "fitness.cases: the cases take more than the %u-byte cap once encoded "
                          "as terms",
                          SPEC_TERM_MAX_BYTES);
        else if (b.err)
            rc = b.err;
    }
    if (!rc) {
        s->term_cases = etf_buf_take(&b, &s->term_cases_len);
        s->nterm_cases = json_array_size(cases);
    }
    etf_buf_free(&b);
    free(names);
    return rc;
}

/* s->nerrors: one error per case, or under split_tuples one per element of
 * a case whose expected result is a {"$tuple": [...]} (a tuple of none
 * still gives one), at most SPEC_MAX_CASES in all (wire.h RESULT_EXT). */
static int count_errors(spec_t *s, json_t *cases, char *err, size_t errlen)
{
    size_t n = 0, i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        json_t *t = s->split_tuples && s->term_cases
                        ? json_object_get(json_object_get(c, "out"), "$tuple")
                        : NULL;
        n += json_is_array(t) && json_array_size(t) > 0 ? json_array_size(t) : 1;
    }
    if (n > SPEC_MAX_CASES)
        return err_spec(err, errlen,
                        "fitness.split_tuples: the cases' tuples give %zu errors an evaluation, "
                        "more than %d",
                        n, SPEC_MAX_CASES);
    s->nerrors = n;
    return 0;
}

static int parse_fitness(spec_t *s, json_t *root, char *err, size_t errlen)
{
    static const char *const keys[] = {"cases",          "error",     "atoms", "float_tolerance",
                                       "mismatch_error", "evaluator", "cost",  "per_case",
                                       "split_tuples",   NULL};
    json_t *f = json_object_get(root, "fitness");
    if (!f)
        return err_spec(err, errlen, "fitness: missing (an object with \"cases\")");
    if (!json_is_object(f))
        return err_spec(err, errlen, "fitness: must be an object with \"cases\"");
    int rc = spec_check_keys(f, "fitness.", keys, NULL, err, errlen);
    if (rc)
        return rc;
    json_t *e = json_object_get(f, "error");
    s->error = SPEC_ERR_ABS;
    if (e) {
        const char *ev = json_is_string(e) ? json_string_value(e) : "";
        if (strcmp(ev, "abs") == 0)
            s->error = SPEC_ERR_ABS;
        else if (strcmp(ev, "squared") == 0)
            s->error = SPEC_ERR_SQUARED;
        else if (strcmp(ev, "edit") == 0)
            s->error = SPEC_ERR_EDIT;
        else
            return err_spec(err, errlen, "fitness.error: must be \"abs\", \"squared\" or \"edit\"");
    }
    s->mismatch_error = 1;
    json_t *pc = json_object_get(f, "per_case");
    if (pc && !json_is_boolean(pc))
        return err_spec(err, errlen, "fitness.per_case: must be true or false");
    s->per_case = json_is_true(pc);
    json_t *st = json_object_get(f, "split_tuples");
    if (st && !json_is_boolean(st))
        return err_spec(err, errlen, "fitness.split_tuples: must be true or false");
    s->split_tuples = json_is_true(st);
    if ((rc = parse_atoms(s, f, err, errlen)) ||
        (rc = get_real(f, "float_tolerance", 0, 0, &s->float_tol, err, errlen)) ||
        (rc = get_real(f, "mismatch_error", 0, 1, &s->mismatch_error, err, errlen)) ||
        (rc = parse_evaluator(s, f, err, errlen)) || (rc = parse_cost(s, f, err, errlen)))
        return rc;
    json_t *cases = json_object_get(f, "cases");
    if (!cases && s->evaluator)
        return 0; /* the evaluator scores the genome alone */
    if (!cases)
        return err_spec(err, errlen,
                        "fitness.cases: missing (a list of {\"in\": [...], \"out\": y}, or give an "
                        "evaluator)");
    if (!json_is_array(cases) || json_array_size(cases) == 0 ||
        json_array_size(cases) > SPEC_MAX_CASES)
        return err_spec(err, errlen, "fitness.cases: must be a list of 1..%d cases",
                        SPEC_MAX_CASES);
    rc = parse_numeric_cases(s, cases, err, errlen);
    if (rc == 1)
        rc = parse_term_cases(s, cases, err, errlen);
    return rc ? rc : count_errors(s, cases, err, errlen);
}

static int parse_limits(spec_t *s, json_t *root, char *err, size_t errlen)
{
    static const char *const keys[] = {"timeout_ms", "heap_words", "reductions", NULL};
    s->timeout_ms = 500;
    s->heap_words = 262144;
    s->reductions = 1000000;
    json_t *l = json_object_get(root, "limits");
    if (!l)
        return 0;
    if (!json_is_object(l))
        return err_spec(err, errlen, "limits: must be an object");
    int rc = spec_check_keys(l, "limits.", keys, NULL, err, errlen);
    uint64_t t = s->timeout_ms;
    if (rc || (rc = get_uint(l, "limits.", "timeout_ms", 1, 600000, &t, err, errlen)) ||
        (rc = get_uint(l, "limits.", "heap_words", 1000, (uint64_t)1 << 32, &s->heap_words, err,
                       errlen)) ||
        (rc = get_uint(l, "limits.", "reductions", 1000, (uint64_t)1 << 40, &s->reductions, err,
                       errlen)))
        return rc;
    s->timeout_ms = (uint32_t)t;
    return 0;
}

int spec_from_json(json_t *root, const char *const *extra_keys, spec_t **out, char *err,
                   size_t errlen)
{
    static const char *const keys[] = {"function", "language", "primitives",
                                       "fitness",  "limits",   NULL};
    *out = NULL;
    if (!json_is_object(root))
        return err_spec(err, errlen, "spec: must be a JSON object");
    int rc = spec_check_keys(root, "", keys, extra_keys, err, errlen);
    if (rc)
        return rc;
    spec_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    json_t *lang = json_object_get(root, "language");
    s->language = SPEC_LANG_ERLANG;
    if (lang) {
        s->language = json_is_string(lang) ? spec_language_parse(json_string_value(lang)) : -1;
        if (s->language < 0)
            rc = err_spec(err, errlen, "language: must be \"erlang\" or \"elixir\"");
    }
    if (rc || (rc = parse_function(s, root, err, errlen)) ||
        (rc = parse_primitives(s, root, err, errlen)) ||
        (rc = parse_fitness(s, root, err, errlen)) || (rc = parse_limits(s, root, err, errlen))) {
        spec_destroy(&s);
        return rc;
    }
    *out = s;
    return 0;
}

int spec_load_file(const char *path, spec_t **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && st.st_size > (off_t)SPEC_FILE_MAX) {
        fclose(f);
        return err_spec(err, errlen, "%s: larger than %u bytes", path, SPEC_FILE_MAX);
    }
    json_error_t je;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (!root) {
        return err_spec(err, errlen, "%s:%d:%d: invalid JSON: %s", path, je.line, je.column,
                        je.text);
    }
    char inner[512];
    int rc = spec_resolve_files(root, path, inner, sizeof inner);
    if (rc == 0)
        rc = spec_from_json(root, NULL, out, inner, sizeof inner);
    json_decref(root);
    if (rc)
        snprintf(err, errlen, "%s: %s", path, inner);
    return rc;
}

int spec_resolve_files(json_t *root, const char *spec_path, char *err, size_t errlen)
{
    json_t *ev = json_object_get(json_object_get(root, "fitness"), "evaluator");
    json_t *file = json_object_get(ev, "file");
    if (!file)
        return 0;
    if (json_object_size(ev) != 1)
        return err_spec(err, errlen,
                        "fitness.evaluator: give either \"file\" alone or \"source\" (and "
                        "\"language\")");
    const char *name = json_is_string(file) ? json_string_value(file) : "";
    if (!*name || json_string_length(file) != strlen(name))
        return err_spec(err, errlen, "fitness.evaluator.file: must be a file name");
    int lang = spec_language_of_path(name);
    if (lang < 0)
        return err_spec(err, errlen, "fitness.evaluator.file: '%s' must end in .erl, .ex or .exs",
                        name);
    /* relative to the spec file's directory */
    char full[4096];
    const char *slash = spec_path ? strrchr(spec_path, '/') : NULL;
    int n = name[0] == '/' || !slash
                ? snprintf(full, sizeof full, "%s", name)
                : snprintf(full, sizeof full, "%.*s/%s", (int)(slash - spec_path), spec_path, name);
    if (n < 0 || (size_t)n >= sizeof full)
        return err_spec(err, errlen, "fitness.evaluator.file: path too long");
    char *src = NULL;
    size_t len = 0;
    int rc = util_read_file(full, SPEC_EVALUATOR_MAX_BYTES, &src, &len);
    if (rc == ERR_TOOBIG)
        return err_spec(err, errlen, "fitness.evaluator.file: %s is larger than %u bytes", full,
                        SPEC_EVALUATOR_MAX_BYTES);
    if (rc)
        return err_spec(err, errlen, "fitness.evaluator.file: cannot read %s: %s", full,
                        err_str(rc));
    json_t *js = json_stringn(src, len);
    free(src);
    if (!js)
        return err_spec(err, errlen, "fitness.evaluator.file: %s is not UTF-8 text", full);
    if (json_object_set_new(ev, "source", js) ||
        json_object_set_new(ev, "language", json_string(spec_language_str(lang))) ||
        json_object_del(ev, "file"))
        return -ENOMEM;
    return 0;
}

size_t spec_case_count(const spec_t *s)
{
    return s->term_cases ? s->nterm_cases : s->ncases;
}

void spec_destroy(spec_t **s)
{
    if (!s || !*s)
        return;
    free((*s)->cases);
    free((*s)->term_cases);
    free((*s)->atoms);
    free((*s)->evaluator);
    free(*s);
    *s = NULL;
}

static void put_num(wire_buf_t *b, const spec_num_t *n)
{
    if (n->is_float)
        wire_put_num_float(b, n->f);
    else
        wire_put_num_int(b, n->i);
}

void spec_encode(const spec_t *s, int language, wire_buf_t *b)
{
    wire_put_str(b, s->function);
    wire_put_u32(b, s->arity);
    wire_put_u8(b, (uint8_t)(language >= 0 ? language : s->language));
    wire_put_u32(b, s->timeout_ms);
    wire_put_u64(b, s->heap_words);
    wire_put_u64(b, s->reductions);
    wire_put_u32(b, s->arity);
    for (uint32_t i = 0; i < s->arity; i++)
        wire_put_str(b, s->vars[i]);
    wire_put_u32(b, (uint32_t)s->nops);
    for (int i = 0; i < s->nops; i++)
        wire_put_str(b, s->ops[i]);
    wire_put_f64(b, s->const_min);
    wire_put_f64(b, s->const_max);
    wire_put_u8(b, (uint8_t)s->const_int);
    wire_put_u8(b, (uint8_t)s->error);
    wire_put_u32(b, (uint32_t)s->ncases);
    for (size_t i = 0; i < s->ncases; i++) {
        wire_put_u32(b, s->arity);
        for (uint32_t j = 0; j < s->arity; j++)
            put_num(b, &s->cases[i].in[j]);
        put_num(b, &s->cases[i].out);
    }
    /* appended (wire.h): term cases, evaluators, cost, per-case results */
    wire_put_bytes(b, s->term_cases, s->term_cases_len);
    wire_put_u32(b, (uint32_t)s->natoms);
    for (size_t i = 0; i < s->natoms; i++)
        wire_put_str(b, s->atoms[i]);
    wire_put_f64(b, s->float_tol);
    wire_put_f64(b, s->mismatch_error);
    wire_put_bytes(b, s->evaluator, s->evaluator_len);
    wire_put_u8(b, (uint8_t)s->evaluator_lang);
    wire_put_u8(b, (uint8_t)s->cost_mode);
    for (int i = 0; i < 3; i++)
        wire_put_f64(b, s->cost_w[i]);
    wire_put_u8(b, (uint8_t)(s->per_case != 0));
    wire_put_u8(b, (uint8_t)(s->split_tuples != 0));
}

int spec_language_parse(const char *s)
{
    if (strcmp(s, "erlang") == 0)
        return SPEC_LANG_ERLANG;
    if (strcmp(s, "elixir") == 0)
        return SPEC_LANG_ELIXIR;
    return -1;
}

int spec_language_of_path(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot)
        return -1;
    if (strcmp(dot, ".erl") == 0)
        return SPEC_LANG_ERLANG;
    if (strcmp(dot, ".ex") == 0 || strcmp(dot, ".exs") == 0)
        return SPEC_LANG_ELIXIR;
    return -1;
}

const char *spec_language_str(int lang)
{
    return lang == SPEC_LANG_ELIXIR ? "elixir" : "erlang";
}

const char *spec_error_str(int error)
{
    return error == SPEC_ERR_SQUARED ? "squared" : error == SPEC_ERR_EDIT ? "edit" : "abs";
}
