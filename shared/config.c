/* config.c - table-driven settings (config.h): INI file via inih, then
 * PETRI_<SECTION>_<KEY> environment variables, then -o overrides. */
#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"

#define CFG_FILE_MAX (1024 * 1024)
#define CFG_SRC_LEN 256

struct cfg_val {
    char *text; /* normalized value text (bools as "true"/"false") */
    int64_t i;
    bool b;
    char source[CFG_SRC_LEN];
};

struct cfg {
    const cfg_opt_t *opts;
    int n;
    struct cfg_val *vals;
};

const char *const cfg_env_reserved[] = {CFG_ENV_RESERVED_NAMES, NULL};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int find_opt(const cfg_t *c, const char *section, const char *key)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->opts[i].section, section) == 0 && strcmp(c->opts[i].key, key) == 0)
            return i;
    return -1;
}

static bool has_section(const cfg_t *c, const char *section)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->opts[i].section, section) == 0)
            return true;
    return false;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const t[] = {"true", "yes", "on", "1"};
    static const char *const f[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, t[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, f[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return ERR_INVAL;
}

int cfg_split_addr(const char *addr, char *host, size_t hostcap, int *port)
{
    const char *h, *colon;
    size_t hl;

    if (host && hostcap)
        host[0] = '\0';
    if (port)
        *port = 0;
    if (!addr)
        return ERR_INVAL;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return ERR_INVAL;
        h = addr + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return ERR_INVAL;
        h = addr;
        hl = (size_t)(colon - addr);
        if (memchr(h, ':', hl)) /* a bare IPv6 address needs brackets */
            return ERR_INVAL;
    }
    if (hl == 0 || memchr(h, ']', hl) || memchr(h, '[', hl))
        return ERR_INVAL;
    for (size_t i = 0; i < hl; i++)
        if (isspace((unsigned char)h[i]))
            return ERR_INVAL;
    const char *p = colon + 1;
    if (!*p || strlen(p) > 5)
        return ERR_INVAL;
    int v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return ERR_INVAL;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535)
        return ERR_INVAL;
    if (host) {
        if (hl >= hostcap)
            return ERR_INVAL;
        memcpy(host, h, hl);
        host[hl] = '\0';
    }
    if (port)
        *port = v;
    return 0;
}

/* Checks value against opt; on success stores it in *v (text owned). */
static int check_value(const cfg_opt_t *o, const char *value, struct cfg_val *v,
                       const char **problem)
{
    int64_t i = 0;
    bool b = false;
    char *text;

    switch (o->type) {
    case CFG_STR:
        break;
    case CFG_INT: {
        int rc = util_parse_i64(value, &i);
        if (rc == ERR_INVAL) {
            *problem = "not an integer";
            return ERR_CONFIG;
        }
        if (rc || i < o->min || i > o->max) {
            *problem = "out of range";
            return ERR_CONFIG;
        }
        break;
    }
    case CFG_BOOL:
        if (parse_bool(value, &b) != 0) {
            *problem = "not a boolean (true/false/yes/no/on/off/1/0)";
            return ERR_CONFIG;
        }
        value = b ? "true" : "false";
        break;
    case CFG_ADDR:
        if (*value && cfg_split_addr(value, NULL, 0, NULL) != 0) {
            *problem = "not host:port (port 1-65535, IPv6 as [addr]:port)";
            return ERR_CONFIG;
        }
        break;
    default:
        assert(!"bad cfg type");
    }
    text = strdup(value);
    if (!text) {
        *problem = "out of memory";
        return -ENOMEM;
    }
    free(v->text);
    v->text = text;
    v->i = i;
    v->b = b;
    return 0;
}

/* The one setter: `where` prefixes error messages ("file:line", a variable
 * name, "flag"), `source` is recorded for cfg_source/cfg_print. */
static int set_value(cfg_t *c, const char *section, const char *key, const char *value,
                     const char *source, const char *where, char *err, size_t errlen)
{
    int i = find_opt(c, section, key);
    if (i < 0) {
        if (!has_section(c, section))
            set_err(err, errlen, "%s: [%s] %s: unknown section '%s'", where, section, key, section);
        else
            set_err(err, errlen, "%s: [%s] %s: unknown key", where, section, key);
        return ERR_CONFIG;
    }
    const cfg_opt_t *o = &c->opts[i];
    const char *problem = "invalid";
    int rc = check_value(o, value, &c->vals[i], &problem);
    if (rc) {
        const char *shown = (o->flags & CFG_SECRET) ? "********" : value;
        if (o->type == CFG_INT && strcmp(problem, "out of range") == 0)
            set_err(err, errlen, "%s: [%s] %s: out of range [%lld, %lld] (value '%s')", where,
                    section, key, (long long)o->min, (long long)o->max, shown);
        else
            set_err(err, errlen, "%s: [%s] %s: %s (value '%s')", where, section, key, problem,
                    shown);
        return rc;
    }
    util_strlcpy(c->vals[i].source, source, CFG_SRC_LEN);
    return 0;
}

cfg_t *cfg_new(const cfg_opt_t *opts)
{
    assert(opts);
    cfg_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->opts = opts;
    while (opts[c->n].section)
        c->n++;
    c->vals = calloc((size_t)c->n + 1, sizeof *c->vals);
    if (!c->vals) {
        free(c);
        return NULL;
    }
    for (int i = 0; i < c->n; i++) {
        const cfg_opt_t *o = &opts[i];
        const char *problem = NULL;
        assert(o->key && o->def);
        int rc = check_value(o, o->def, &c->vals[i], &problem);
        if (rc == -ENOMEM) {
            cfg_destroy(&c);
            return NULL;
        }
        assert(rc == 0 && "invalid default in a cfg_opt_t table");
        util_strlcpy(c->vals[i].source, "default", CFG_SRC_LEN);
    }
    return c;
}

void cfg_destroy(cfg_t **pc)
{
    if (!pc || !*pc)
        return;
    cfg_t *c = *pc;
    for (int i = 0; i < c->n; i++)
        free(c->vals[i].text);
    free(c->vals);
    free(c);
    *pc = NULL;
}

/* ---- file ---- */

struct file_ctx {
    cfg_t *c;
    const char *path;
    const char *text; /* whole file, NUL-terminated */
    size_t pos;
    int line;      /* line most recently handed to inih */
    int long_line; /* first line that did not fit inih's buffer */
    int rc;
    char *err;
    size_t errlen;
};

/* fgets-like reader over the in-memory file that keeps the line number,
 * since the packaged inih does not pass it to the handler. */
static char *file_reader(char *str, int num, void *stream)
{
    struct file_ctx *f = stream;
    if (f->text[f->pos] == '\0' || num < 2)
        return NULL;
    const char *start = f->text + f->pos;
    const char *nl = strchr(start, '\n');
    size_t len = nl ? (size_t)(nl - start) + 1 : strlen(start);
    f->pos += len;
    f->line++;
    if (len > (size_t)num - 1) {
        if (!f->long_line)
            f->long_line = f->line;
        len = (size_t)num - 1;
    }
    memcpy(str, start, len);
    str[len] = '\0';
    return str;
}

static int file_handler(void *user, const char *section, const char *name, const char *value)
{
    struct file_ctx *f = user;
    char where[CFG_SRC_LEN];
    if (f->rc)
        return 1; /* keep only the first error */
    snprintf(where, sizeof where, "%s:%d", f->path, f->line);
    int rc = set_value(f->c, section, name, value, where, where, f->err, f->errlen);
    if (rc) {
        f->rc = rc;
        return 0;
    }
    return 1;
}

int cfg_load_file(cfg_t *c, const char *path, char *err, size_t errlen)
{
    assert(c && path);
    char *text;
    int rc = util_read_file(path, CFG_FILE_MAX, &text, NULL);
    if (rc) {
        set_err(err, errlen, "%s: %s", path, err_str(rc));
        return rc == ERR_TOOBIG ? ERR_CONFIG : rc;
    }
    struct file_ctx f = {.c = c, .path = path, .text = text, .err = err, .errlen = errlen};
    /* Continuation lines would silently append to a value; petri's config
     * has no multi-line values, so an indented line is a syntax error. */
    ini_allow_multiline = false;
    int line = ini_parse_stream(file_reader, &f, file_handler, &f);
    free(text);
    if (f.rc)
        return f.rc;
    if (f.long_line && (line <= 0 || f.long_line <= line)) {
        set_err(err, errlen, "%s:%d: line too long", path, f.long_line);
        return ERR_CONFIG;
    }
    if (line == -2) {
        set_err(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    if (line != 0) {
        set_err(err, errlen, "%s:%d: syntax error (expected [section] or key = value)", path, line);
        return ERR_CONFIG;
    }
    return 0;
}

/* ---- environment ---- */

bool cfg_env_is_reserved(const char *name, size_t len)
{
    for (int i = 0; cfg_env_reserved[i]; i++)
        if (strlen(cfg_env_reserved[i]) == len && memcmp(cfg_env_reserved[i], name, len) == 0)
            return true;
    size_t pl = strlen(CFG_ENV_RESERVED_PREFIX);
    return len >= pl && memcmp(name, CFG_ENV_RESERVED_PREFIX, pl) == 0;
}

/* "PETRI_" + upper(section) + "_" + upper(key) == name[0..len)? */
static bool env_matches(const cfg_opt_t *o, const char *name, size_t len)
{
    const char *p = name + 6; /* after "PETRI_" */
    const char *end = name + len;
    for (const char *s = o->section; *s; s++, p++)
        if (p >= end || *p != toupper((unsigned char)*s))
            return false;
    if (p >= end || *p++ != '_')
        return false;
    for (const char *s = o->key; *s; s++, p++)
        if (p >= end || *p != toupper((unsigned char)*s))
            return false;
    return p == end;
}

extern char **environ;

int cfg_load_env(cfg_t *c, char **envp, char *err, size_t errlen)
{
    assert(c);
    if (!envp)
        envp = environ;
    for (char **e = envp; e && *e; e++) {
        const char *var = *e;
        if (strncmp(var, "PETRI_", 6) != 0)
            continue;
        const char *eq = strchr(var, '=');
        if (!eq)
            continue;
        size_t len = (size_t)(eq - var);
        int i;
        for (i = 0; i < c->n; i++)
            if (env_matches(&c->opts[i], var, len))
                break;
        if (i == c->n) {
            if (cfg_env_is_reserved(var, len))
                continue;
            set_err(err, errlen, "%.*s: names no configuration option", (int)len, var);
            return ERR_CONFIG;
        }
        char where[CFG_SRC_LEN];
        snprintf(where, sizeof where, "%.*s", (int)len, var);
        int rc =
            set_value(c, c->opts[i].section, c->opts[i].key, eq + 1, "env", where, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- flags and direct sets ---- */

int cfg_set_arg(cfg_t *c, const char *arg, char *err, size_t errlen)
{
    assert(c);
    char section[128], key[128];
    const char *eq = arg ? strchr(arg, '=') : NULL;
    const char *dot = arg ? strchr(arg, '.') : NULL;
    if (!eq || !dot || dot > eq || dot == arg || eq == dot + 1 ||
        (size_t)(dot - arg) >= sizeof section || (size_t)(eq - dot - 1) >= sizeof key) {
        set_err(err, errlen, "-o '%s': expected section.key=value", arg ? arg : "");
        return ERR_CONFIG;
    }
    memcpy(section, arg, (size_t)(dot - arg));
    section[dot - arg] = '\0';
    memcpy(key, dot + 1, (size_t)(eq - dot - 1));
    key[eq - dot - 1] = '\0';
    return set_value(c, section, key, eq + 1, "flag", "flag", err, errlen);
}

int cfg_set(cfg_t *c, const char *section, const char *key, const char *value, const char *source,
            char *err, size_t errlen)
{
    assert(c && section && key && value);
    if (!source)
        source = "flag";
    return set_value(c, section, key, value, source, source, err, errlen);
}

/* ---- accessors ---- */

static const struct cfg_val *lookup(const cfg_t *c, const char *section, const char *key,
                                    int type_mask)
{
    assert(c && section && key);
    int i = find_opt(c, section, key);
    assert(i >= 0 && "cfg accessor: no such option in the table");
    assert(((1 << c->opts[i].type) & type_mask) && "cfg accessor: wrong type");
    (void)type_mask;
    return &c->vals[i];
}

const char *cfg_str(const cfg_t *c, const char *section, const char *key)
{
    return lookup(c, section, key, 1 << CFG_STR | 1 << CFG_ADDR)->text;
}

int64_t cfg_int(const cfg_t *c, const char *section, const char *key)
{
    return lookup(c, section, key, 1 << CFG_INT)->i;
}

bool cfg_bool(const cfg_t *c, const char *section, const char *key)
{
    return lookup(c, section, key, 1 << CFG_BOOL)->b;
}

const char *cfg_source(const cfg_t *c, const char *section, const char *key)
{
    return lookup(c, section, key, ~0)->source;
}

void cfg_print(const cfg_t *c, FILE *out)
{
    assert(c && out);
    for (int i = 0; i < c->n; i++) {
        const char *sec = c->opts[i].section;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(c->opts[j].section, sec) == 0;
        if (seen)
            continue;
        fprintf(out, "%s[%s]\n", i ? "\n" : "", sec);
        for (int j = i; j < c->n; j++) {
            const cfg_opt_t *o = &c->opts[j];
            if (strcmp(o->section, sec) != 0)
                continue;
            const char *v = c->vals[j].text;
            if ((o->flags & CFG_SECRET) && *v)
                v = "********";
            fprintf(out, "%s = %s   ; %s\n", o->key, v, c->vals[j].source);
        }
    }
}

cfg_t *cfg_load_all(const cfg_opt_t *opts, const char *path, char **overrides, int noverrides,
                    char *err, size_t errlen)
{
    cfg_t *c = cfg_new(opts);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int rc = path ? cfg_load_file(c, path, err, errlen) : 0;
    if (rc == 0)
        rc = cfg_load_env(c, NULL, err, errlen);
    for (int i = 0; rc == 0 && i < noverrides; i++)
        rc = cfg_set_arg(c, overrides[i], err, errlen);
    if (rc)
        cfg_destroy(&c);
    return c;
}
