/* spec.c - parse and check evaluation specs (JSON), encode them for the VMs. */
#include "spec.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"

#define SPEC_FILE_MAX (16u * 1024 * 1024)

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return ERR_SPEC;
}

/* Fails when obj has a key not in allowed (NULL-terminated) nor in extra. */
static int check_keys(json_t *obj, const char *where, const char *const *allowed,
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
            return fail(err, errlen, "%s%s: unknown key", where, key);
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
        return fail(err, errlen, "%s%s: must be an integer in [%llu, %llu]", where, key,
                    (unsigned long long)min, (unsigned long long)max);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int copy_name(const char *what, const char *s, char *dst, char *err, size_t errlen)
{
    size_t n = strlen(s);
    if (n == 0 || n >= SPEC_NAME_MAX)
        return fail(err, errlen, "%s: must be 1..%d characters", what, SPEC_NAME_MAX - 1);
    memcpy(dst, s, n + 1);
    return 0;
}

static int parse_function(spec_t *s, json_t *root, char *err, size_t errlen)
{
    json_t *f = json_object_get(root, "function");
    if (!f)
        return fail(err, errlen, "function: missing (e.g. \"f/1\")");
    if (!json_is_string(f))
        return fail(err, errlen, "function: must be a string like \"f/1\"");
    const char *txt = json_string_value(f);
    const char *slash = strrchr(txt, '/');
    if (!slash || slash == txt || slash - txt >= SPEC_NAME_MAX)
        return fail(err, errlen, "function: '%s' is not name/arity", txt);
    char *end;
    errno = 0;
    long ar = strtol(slash + 1, &end, 10);
    if (errno || *end || end == slash + 1 || ar < 0 || ar > SPEC_MAX_ARITY)
        return fail(err, errlen, "function: arity in '%s' must be 0..%d", txt, SPEC_MAX_ARITY);
    memcpy(s->function, txt, (size_t)(slash - txt));
    s->function[slash - txt] = '\0';
    if (!(s->function[0] >= 'a' && s->function[0] <= 'z'))
        return fail(err, errlen, "function: name '%s' must start with a lower-case letter",
                    s->function);
    for (const char *p = s->function; *p; p++)
        if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9')))
            return fail(err, errlen,
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
        return fail(err, errlen, "primitives: must be an object");
    int rc = check_keys(p, "primitives.", keys, NULL, err, errlen);
    if (rc)
        return rc;
    json_t *ops = json_object_get(p, "ops");
    if (ops) {
        if (!json_is_array(ops) || json_array_size(ops) == 0 || json_array_size(ops) > SPEC_MAX_OPS)
            return fail(err, errlen, "primitives.ops: must be a list of 1..%d strings",
                        SPEC_MAX_OPS);
        size_t i;
        json_t *o;
        json_array_foreach(ops, i, o)
        {
            if (!json_is_string(o))
                return fail(err, errlen, "primitives.ops[%zu]: must be a string", i);
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
            return fail(err, errlen,
                        "primitives.vars: must be a list of %u variable names "
                        "(one per argument)",
                        s->arity);
        size_t i;
        json_t *o;
        json_array_foreach(vars, i, o)
        {
            const char *v = json_is_string(o) ? json_string_value(o) : NULL;
            if (!v || !(v[0] >= 'A' && v[0] <= 'Z'))
                return fail(err, errlen,
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
            return fail(err, errlen, "primitives.constants: must be an object");
        if ((rc = check_keys(c, "primitives.constants.", ckeys, NULL, err, errlen)))
            return rc;
        json_t *mn = json_object_get(c, "min"), *mx = json_object_get(c, "max"),
               *in = json_object_get(c, "integer");
        if (mn && !json_is_number(mn))
            return fail(err, errlen, "primitives.constants.min: must be a number");
        if (mx && !json_is_number(mx))
            return fail(err, errlen, "primitives.constants.max: must be a number");
        if (in && !json_is_boolean(in))
            return fail(err, errlen, "primitives.constants.integer: must be true or false");
        if (mn)
            s->const_min = json_number_value(mn);
        if (mx)
            s->const_max = json_number_value(mx);
        if (in)
            s->const_int = json_is_true(in);
        if (!(s->const_min <= s->const_max))
            return fail(err, errlen, "primitives.constants: min must be <= max");
    }
    return 0;
}

static int parse_fitness(spec_t *s, json_t *root, char *err, size_t errlen)
{
    static const char *const keys[] = {"cases", "error", NULL};
    static const char *const case_keys[] = {"in", "out", NULL};
    json_t *f = json_object_get(root, "fitness");
    if (!f)
        return fail(err, errlen, "fitness: missing (an object with \"cases\")");
    if (!json_is_object(f))
        return fail(err, errlen, "fitness: must be an object with \"cases\"");
    int rc = check_keys(f, "fitness.", keys, NULL, err, errlen);
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
        else
            return fail(err, errlen, "fitness.error: must be \"abs\" or \"squared\"");
    }
    json_t *cases = json_object_get(f, "cases");
    if (!cases)
        return fail(err, errlen, "fitness.cases: missing (a list of {\"in\": [...], \"out\": y})");
    if (!json_is_array(cases) || json_array_size(cases) == 0 ||
        json_array_size(cases) > SPEC_MAX_CASES)
        return fail(err, errlen, "fitness.cases: must be a list of 1..%d cases", SPEC_MAX_CASES);
    s->ncases = json_array_size(cases);
    s->cases = calloc(s->ncases, sizeof *s->cases);
    if (!s->cases)
        return -ENOMEM;
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        char where[48];
        snprintf(where, sizeof where, "fitness.cases[%zu].", i);
        if (!json_is_object(c))
            return fail(err, errlen, "fitness.cases[%zu]: must be an object with in and out", i);
        if ((rc = check_keys(c, where, case_keys, NULL, err, errlen)))
            return rc;
        json_t *in = json_object_get(c, "in"), *out = json_object_get(c, "out");
        if (!in || !json_is_array(in) || json_array_size(in) != s->arity)
            return fail(err, errlen, "%sin: must be a list of %u numbers", where, s->arity);
        size_t j;
        json_t *x;
        json_array_foreach(in, j, x)
        {
            if (get_num(x, &s->cases[i].in[j]))
                return fail(err, errlen, "%sin[%zu]: must be a finite number", where, j);
        }
        if (!out || get_num(out, &s->cases[i].out))
            return fail(err, errlen, "%sout: must be a finite number", where);
    }
    return 0;
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
        return fail(err, errlen, "limits: must be an object");
    int rc = check_keys(l, "limits.", keys, NULL, err, errlen);
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
        return fail(err, errlen, "spec: must be a JSON object");
    int rc = check_keys(root, "", keys, extra_keys, err, errlen);
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
            rc = fail(err, errlen, "language: must be \"erlang\" or \"elixir\"");
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
        return fail(err, errlen, "%s: larger than %u bytes", path, SPEC_FILE_MAX);
    }
    json_error_t je;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (!root) {
        return fail(err, errlen, "%s:%d:%d: invalid JSON: %s", path, je.line, je.column, je.text);
    }
    char inner[512];
    int rc = spec_from_json(root, NULL, out, inner, sizeof inner);
    json_decref(root);
    if (rc)
        snprintf(err, errlen, "%s: %s", path, inner);
    return rc;
}

void spec_destroy(spec_t **s)
{
    if (!s || !*s)
        return;
    free((*s)->cases);
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
    if (s->per_case) {
        /* the appended fields up to per_case, at their defaults (wire.h) */
        wire_put_bytes(b, NULL, 0); /* term_cases */
        wire_put_u32(b, 0);         /* atoms */
        wire_put_f64(b, 0);         /* float_tol */
        wire_put_f64(b, 1);         /* mismatch_error */
        wire_put_bytes(b, NULL, 0); /* evaluator */
        wire_put_u8(b, 0);          /* evaluator_lang */
        wire_put_u8(b, 0);          /* cost_mode */
        for (int i = 0; i < 3; i++)
            wire_put_f64(b, 0); /* cost_w */
        wire_put_u8(b, 1);      /* per_case */
    }
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
