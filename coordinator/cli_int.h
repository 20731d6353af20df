/* cli_int.h - what the cli_*.c files share: the command context, the API
 * call wrapper with the CLI's error reporting, text tables, and the
 * entry point of each command. Not part of the public interface. */
#ifndef PETRI_CLI_INT_H
#define PETRI_CLI_INT_H

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>

#include <jansson.h>

#include "cli.h"
#include "client.h"

typedef struct cli {
    cli_args_t a;
    client_opts_t co;
    char *token_owned; /* read from --token-file */
} cli_t;

/* Set by SIGINT/SIGTERM while a command runs. */
extern volatile sig_atomic_t cli_stop;

/* Calls the API. On a 2xx answer returns CLI_OK with *out (may be NULL)
 * set. Otherwise prints what went wrong on stderr (with --json, also the
 * API's error document on stdout), and returns the exit code. When the
 * status is 404 and notfound is not NULL, notfound is printed instead of
 * the API's message. timeout_ms 0 = the default. */
int cli_api(cli_t *c, const char *method, const char *path, const char *body, size_t len,
            long timeout_ms, json_t **out, long *status, const char *notfound);
/* Prints j on stdout: pretty, or compact on one line. */
void cli_put_json(const json_t *j, int compact);
/* Prints "petri: <message>" on stderr. */
void cli_errf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints a usage error and the hint to see `petri <cmd> --help`; returns CLI_USAGE. */
int cli_usagef(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sleeps ms, waking early on Ctrl-C; returns nonzero if interrupted. */
int cli_sleep_ms(long ms);
/* Wall clock in ms. */
uint64_t cli_wall_ms(void);
/* Percent-encodes s for a URL path segment into out[cap]; returns out. */
const char *cli_url_seg(const char *s, char *out, size_t cap);
/* First n characters of a hash/id ("-" when NULL). */
const char *cli_short(const char *s, size_t n, char *out, size_t cap);
/* Shared by the renderers. */
void cli_print_population_n(FILE *f, const json_t *pop, uint64_t now_ms, int max_src_lines);
void cli_fmt_duration(double s, char *out, size_t cap);
/* Progress line on stderr (only when it is a terminal): "\r<what>... N s". */
void cli_progress_line(const char *what, double elapsed_s);
void cli_progress_done(void);

/* A text table with left-aligned columns sized to their widest cell. */
typedef struct cli_table cli_table_t;
cli_table_t *cli_table_new(size_t ncols, const char *const *headers);
/* Adds a row of ncols cells (copied; NULL = "-"). */
void cli_table_row(cli_table_t *t, const char *const *cells);
void cli_table_print(FILE *f, const cli_table_t *t, const char *indent);
void cli_table_destroy(cli_table_t **t);

/* Commands: c->a.pos[0] is the command name. */
int cli_cmd_members(cli_t *c);
int cli_cmd_population(cli_t *c);
int cli_cmd_genome(cli_t *c);
int cli_cmd_lineage(cli_t *c);
int cli_cmd_keygen(cli_t *c);
int cli_cmd_top(cli_t *c);
int cli_cmd_scale(cli_t *c);
int cli_cmd_agent(cli_t *c);
int cli_cmd_mutate(cli_t *c);
int cli_cmd_live(cli_t *c);

/* ---- petri mutate (cli_mutate.c) ---- */
#define MUTATE_NAME_MAX 32        /* the store's mutator names */
#define MUTATE_MAX_CONCURRENCY 64 /* commands at once */
#define MUTATE_DEFAULT_TIMEOUT_S 60.0
#define MUTATE_DEFAULT_MAX_BYTES 65536
#define MUTATE_MAX_MAX_BYTES (1u << 20) /* a genome's cap in the store */
#define MUTATE_DEFAULT_MEMBERS 4
#define MUTATE_MAX_MEMBERS 16 /* the coordinator's bundle cap */

typedef struct cli_mutate_cfg {
    const char *command;            /* run by /bin/sh -c */
    char name[MUTATE_NAME_MAX + 1]; /* the mutator's name in the lineage */
    int concurrency;                /* 1..MUTATE_MAX_CONCURRENCY, default 1 */
    double rate;                    /* bundles per second at most; 0 = no limit */
    long count;                     /* children to submit; 0 = until stopped */
    double timeout_s;               /* per command, default 60 */
    long max_bytes;                 /* of an answer, 1..1 MiB, default 65536 */
    int members;                    /* parents per bundle, 1..16, default 4 */
    long deme;                      /* -1 = any deme */
} cli_mutate_cfg_t;

/* Checks petri mutate's options in a into *out (defaults for what is
 * absent). 0, or CLI_USAGE with a message naming the option in err. */
int cli_mutate_settings(const cli_args_t *a, cli_mutate_cfg_t *out, char *err, size_t errlen);
/* The default mutator name of a command: the basename of its first word
 * (its second after an interpreter such as sh, python3 or env), lowercased,
 * other characters than [a-z0-9_.-] as '-', at most 32; "external" when
 * nothing is left. */
void cli_mutate_default_name(const char *command, char out[MUTATE_NAME_MAX + 1]);

/* ---- petri live (cli_live.c: commands and request bodies; cli_live_fmt.c:
 * views) ---- */
#define LIVE_CONFIG_MAX                                                                            \
    (64u << 20)                    /* a config file, and the body built from it                    \
                                    * (the API's own cap, max_body_bytes, is                       \
                                    * at most 64 MiB) */
#define LIVE_TRACE_MAX (64u << 20) /* a trace_file */
#define LIVE_GENOME_MAX                                                                            \
    (1u << 20) /* a genome_file or upgrade FILE: the                                               \
                * store's cap on a genome */
#define LIVE_MAX_INDEX                                                                             \
    100000L                  /* individuals' indexes and versions are                              \
                              * checked against this before any request */
#define LIVE_SHOW_VERSIONS 8 /* versions per individual in `show NAME` */

/* Builds POST /v1/live's body from the config file at path: a JSON object
 * whose "trace_file" and "genome_file" (paths relative to the config's
 * directory, or absolute) are read and sent inline as "trace" and "genome"
 * (naming both "trace" and "trace_file", or both "genome" and
 * "genome_file", is an error). Everything else goes as it is: the
 * coordinator checks the config. *body is malloc'd compact JSON (owned by
 * the caller), *len its length; name[cap] receives the config's "name"
 * ("" when it has none). Returns 0, or
 * CLI_USAGE with a message naming the file or the key in err: unreadable,
 * missing, over its cap, not JSON, not an object, a file key that is not a
 * string, a file that is empty or not UTF-8 text. */
int cli_live_body(const char *path, char **body, size_t *len, char *name, size_t cap, char *err,
                  size_t errlen);
/* Builds POST .../upgrade's body {"source", "mutator", "input_hash"?} from
 * the module file at path. mutator NULL = "manual"; it must be 1..32 of
 * [a-z0-9_.-]; input_hash NULL = absent, else 64 lowercase hex digits.
 * hash_hex receives the BLAKE2b-256 hex of the source (the version's hash
 * in the API). 0, or CLI_USAGE with a message in err. */
int cli_live_upgrade_body(const char *path, const char *mutator, const char *input_hash,
                          char **body, size_t *len, char hash_hex[65], char *err, size_t errlen);
/* An individual's INDEX (0..LIVE_MAX_INDEX) or a VERSION (1..LIVE_MAX_INDEX),
 * decimal: 0 and *out, or -1. */
int cli_live_parse_index(const char *s, long *out);
int cli_live_parse_version(const char *s, long *out);

/* GET /v1/live's document as a table. */
void cli_print_lives(FILE *f, const json_t *doc);
/* GET /v1/live/NAME: the population, a table of its individuals and each
 * one's last LIVE_SHOW_VERSIONS versions (index < 0); or one individual in
 * full: counters, pin, the fitness series as a sparkline and every version
 * (index >= 0; a line saying so when there is no such individual). Returns
 * 0, or -1 when index names no individual. */
int cli_print_live(FILE *f, const json_t *pop, long index);
/* A versions table (newest last); last > 0 shows only the last `last`
 * versions. */
void cli_print_live_versions(FILE *f, const json_t *versions, size_t last, const char *indent);

#endif
