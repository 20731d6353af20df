/* config.h - typed settings from an INI file (inih), then PETRI_<SECTION>_<KEY>
 * environment variables, then command-line overrides, in that order.
 * Each daemon declares one table of options: the single place where
 * defaults live, each with the reason for its value.
 *
 * Invariants:
 *  1. Every key that is set, from any source, is checked against the table:
 *     an unknown section/key or a value of the wrong type or out of range
 *     is an error naming the source, the key and the value.
 *  2. After a successful load every option has a value (its default at least).
 */
#ifndef PETRI_CONFIG_H
#define PETRI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum cfg_type {
    CFG_STR,  /* any string */
    CFG_INT,  /* signed 64-bit integer within [min, max], base 10 */
    CFG_BOOL, /* true/false/yes/no/on/off/1/0 (any case); read back as "true"/"false" */
    CFG_ADDR, /* host:port or [v6]:port (port 1..65535; host non-empty);
               * "" is accepted and means "not set" (e.g. an optional
               * advertise address); read it with cfg_str */
} cfg_type_t;

#define CFG_SECRET 0x1 /* value masked when printed */

typedef struct cfg_opt {
    const char *section;
    const char *key;
    cfg_type_t type;
    const char *def;  /* default, as text; "" allowed for CFG_STR */
    int64_t min, max; /* CFG_INT bounds (inclusive) */
    unsigned flags;   /* CFG_SECRET */
    const char *why;  /* the reason for the default, printed by -n */
} cfg_opt_t;

typedef struct cfg cfg_t;

/* opts: table ending with an entry whose section is NULL; it must outlive
 * the cfg. Section and key names are lowercase with underscores. Returns
 * NULL on allocation failure. Defaults are applied; an invalid default is
 * a programming error (assert). */
cfg_t *cfg_new(const cfg_opt_t *opts);
void cfg_destroy(cfg_t **c);

/* Each returns 0 or ERR_CONFIG (or -errno for an unreadable file) and
 * writes a one-line message naming the file:line / variable, the key and
 * the bad value into err[errlen], e.g.
 *   agent.conf:12: [beam] max_rss_mb: not an integer (value 'lots')
 *   PETRI_BEAM_MAX_RSS_MB: [beam] max_rss_mb: out of range [64, 65536] (value '1')
 *   flag: [beam] nodes: unknown key
 * Secret values are shown as ******** in messages. A file error stops at
 * the first bad line (values set before it stay set). */
int cfg_load_file(cfg_t *c, const char *path, char *err, size_t errlen);
/* Reads every PETRI_<SECTION>_<KEY> variable of envp (NULL = environ);
 * a PETRI_ variable that names no option is an error, except the reserved
 * names below, used by the CLI and the test rigs. Matching is exact and
 * upper case: PETRI_BEAM_MAX_RSS_MB -> [beam] max_rss_mb. */
#define CFG_ENV_RESERVED_NAMES                                                                     \
    "PETRI_BUILD", "PETRI_ADDR", "PETRI_TOKEN", "PETRI_CONFIG", "PETRI_DATA_DIR", "PETRI_KEY",     \
        "PETRI_KEY_FILE", "PETRI_LOG_LEVEL", "PETRI_JSON", "PETRI_NO_COLOR", "PETRI_INSECURE"
/* Any variable starting with this prefix is reserved too (test harnesses). */
#define CFG_ENV_RESERVED_PREFIX "PETRI_TEST_"
extern const char *const cfg_env_reserved[]; /* CFG_ENV_RESERVED_NAMES, then NULL */
/* True if name[0..len) is a reserved non-config PETRI_ variable. */
bool cfg_env_is_reserved(const char *name, size_t len);
int cfg_load_env(cfg_t *c, char **envp, char *err, size_t errlen);
/* One override, "section.key=value" (the -o flag of the daemons); the
 * value may be empty and may contain '=' or '.'. Source: "flag". */
int cfg_set_arg(cfg_t *c, const char *arg, char *err, size_t errlen);
/* Sets one value; source (NULL = "flag") is recorded and prefixes errors. */
int cfg_set(cfg_t *c, const char *section, const char *key, const char *value, const char *source,
            char *err, size_t errlen);

/* The whole load of a daemon's settings: defaults, then the file (path may
 * be NULL), then PETRI_* variables, then the "section.key=value" overrides.
 * NULL with a message naming the bad key in err. */
cfg_t *cfg_load_all(const cfg_opt_t *opts, const char *path, char **overrides, int noverrides,
                    char *err, size_t errlen);

/* Accessors; asserting that (section, key) is in the table with that type
 * (cfg_str serves CFG_STR and CFG_ADDR). Strings live until the option is
 * set again or the cfg is destroyed. */
const char *cfg_str(const cfg_t *c, const char *section, const char *key);
int64_t cfg_int(const cfg_t *c, const char *section, const char *key);
bool cfg_bool(const cfg_t *c, const char *section, const char *key);
/* Where the value came from: "default", "<path>:<line>", "env", "flag" (or
 * the source given to cfg_set). */
const char *cfg_source(const cfg_t *c, const char *section, const char *key);

/* Prints the effective configuration as INI, sections in table order:
 *   [section]
 *   key = value   ; <source>
 * Non-empty secrets print as ********. The output parses back as a file. */
void cfg_print(const cfg_t *c, FILE *out);

/* Splits "host:port" ("[v6]:port" too; host is returned without brackets).
 * host (hostcap bytes) and port may be NULL to only validate. Returns 0 or
 * ERR_INVAL (also when host does not fit). */
int cfg_split_addr(const char *addr, char *host, size_t hostcap, int *port);

#endif
