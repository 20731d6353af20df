/* cli.h - the `petri` operator commands (members, population, genome,
 * lineage, keygen, top, live): argument parsing, calls to the coordinator API
 * (client.h) and text rendering. The renderers are public for tests. */
#ifndef PETRI_CLI_H
#define PETRI_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Exit codes of every subcommand. */
enum {
    CLI_OK = 0,         /* success */
    CLI_FAIL = 1,       /* a negative verdict: verify failed, population failed, not found,
                         * already exists, coordinator unreachable or failing */
    CLI_USAGE = 2,      /* bad usage or input: unknown option, unreadable file, HTTP 400 ... */
    CLI_INTERRUPT = 130 /* Ctrl-C during a request (not during --watch or top) */
};

/* Runs one subcommand: argv[0] is "petri", argv[1] the subcommand (or
 * --help/--version). Returns the exit code. Unblocks SIGINT/SIGTERM for
 * the calling thread (a daemon main may have blocked them) and installs
 * its own handlers for them. */
int cli_main(int argc, char **argv);

/* ---- argument parsing ---- */
#define CLI_MAX_POS 8

/* Options: global ones are accepted anywhere on the line; the others only
 * by the commands that take them (checked with cli_args_allow). */
enum {
    CLI_O_WATCH = 1u << 0,
    CLI_O_INTERVAL = 1u << 1,
    CLI_O_TIMEOUT = 1u << 2,
    CLI_O_DEPTH = 1u << 3,
    CLI_O_REPLAY = 1u << 4,
    CLI_O_FORMAT = 1u << 5,
    CLI_O_OUTPUT = 1u << 6,
    CLI_O_DIR = 1u << 7,
    CLI_O_LANGUAGE = 1u << 8,
    CLI_O_PIN = 1u << 9,
    CLI_O_FILE = 1u << 10,
    /* petri mutate (cli_mutate.c checks the values) */
    CLI_O_COMMAND = 1u << 11,
    CLI_O_NAME = 1u << 12,
    CLI_O_CONCURRENCY = 1u << 13,
    CLI_O_RATE = 1u << 14,
    CLI_O_COUNT = 1u << 15,
    CLI_O_MAX_BYTES = 1u << 16,
    CLI_O_MEMBERS = 1u << 17,
    CLI_O_DEME = 1u << 18,
    /* petri live upgrade (cli_live.c checks the values) */
    CLI_O_MUTATOR = 1u << 19,
    CLI_O_INPUT_HASH = 1u << 20,
    CLI_O_LIVE = 1u << 21, /* petri mutate --live */
};

typedef struct cli_args {
    /* global */
    const char *addr;       /* --addr, else $PETRI_ADDR, else 127.0.0.1:7951 */
    const char *token;      /* --token, else $PETRI_TOKEN */
    const char *token_file; /* --token-file */
    int json;               /* --json (or PETRI_JSON=1) */
    int help;               /* --help / -h */
    int version;            /* --version */
    /* per command */
    unsigned seen; /* CLI_O_* given */
    int watch;
    int live;          /* petri mutate --live */
    double interval_s; /* default 1 */
    double timeout_s;  /* default 0 = the command's own */
    long depth;        /* -1 = not given */
    long replay;       /* -1 = not given */
    const char *format;
    const char *output;
    const char *pin;  /* lineage verify --pin FINGERPRINT */
    const char *file; /* lineage verify --file EXPORT.json */
    const char *dir;
    const char *language;
    /* petri mutate: the values as given (cli_mutate_settings checks them) */
    const char *command, *name, *concurrency, *rate, *count, *max_bytes, *members, *deme;
    /* petri live upgrade: as given */
    const char *mutator, *input_hash;
    const char *pos[CLI_MAX_POS]; /* positionals after "petri": pos[0] = subcommand */
    int npos;
} cli_args_t;

/* Parses argv[1..argc) into a. Accepts "--opt value" and "--opt=value";
 * "--" ends options. Returns 0, or CLI_USAGE with a message in err
 * (unknown option, missing or bad value, too many arguments). Reads
 * PETRI_ADDR / PETRI_TOKEN / PETRI_JSON from the environment for what the
 * line does not set. */
int cli_parse_args(int argc, char **argv, cli_args_t *a, char *err, size_t errlen);
/* CLI_USAGE with a message naming the first option in a->seen that is not
 * in allowed, else 0. */
int cli_args_allow(const cli_args_t *a, unsigned allowed, const char *cmd, char *err,
                   size_t errlen);

/* ---- exit codes ---- */
/* Exit code for an API answer with this HTTP status: 2xx -> 0; 400, 401,
 * 403, 405, 411, 413, 414, 415, 422 -> CLI_USAGE; anything else -> CLI_FAIL. */
int cli_exit_for_status(long status);
/* Exit code for a client_call() error: -ECANCELED -> CLI_INTERRUPT, others
 * (unreachable, timeout, not JSON) -> CLI_FAIL. */
int cli_exit_for_error(int rc);

/* ---- rendering (UTF-8 block characters) ---- */
/* A sparkline of v[0..n) in at most width cells ("▁▂▃▄▅▆▇█"); with more
 * points than cells each cell shows the last point of its slice. Non-finite
 * values are drawn as ' '. Writes nothing for n == 0. */
void cli_sparkline(FILE *f, const double *v, size_t n, size_t width);
/* A horizontal histogram of counts[0..n) over [min, max] (equal bins),
 * one line per bin (adjacent bins are merged down to at most max_rows),
 * bars at most bar_width cells wide, scaled to the largest count. */
void cli_histogram(FILE *f, double min, double max, const double *counts, size_t n, size_t max_rows,
                   size_t bar_width);
/* A JSON value as a short display string into out[cap]: numbers with up
 * to 6 significant digits, strings as is, null/absent as "-". */
const char *cli_fmt_value(const json_t *v, char *out, size_t cap);

/* The views of the API documents, as printed without --json. now_ms is
 * the wall clock in ms (for "started ... ago"); 0 omits it. */
void cli_print_members(FILE *f, const json_t *members);
void cli_print_populations(FILE *f, const json_t *pops);
void cli_print_population(FILE *f, const json_t *pop, uint64_t now_ms);
void cli_print_lineage(FILE *f, const json_t *node);
void cli_print_genome(FILE *f, const json_t *genome);
void cli_print_verify(FILE *f, const json_t *report);

#endif
