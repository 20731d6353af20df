/* cli.c - the `petri` command line: option parsing, dispatch to the
 * commands, the API-call wrapper with its error reporting and exit codes,
 * and the small commands (members, keygen). */
#include "cli.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_int.h"
#include "crypto.h"
#include "err.h"
#include "store.h"
#include "util.h"

#ifndef PETRI_VERSION
#define PETRI_VERSION "dev"
#endif

volatile sig_atomic_t cli_stop;

static const char help_main[] =
    "usage: petri <command> [options]\n"
    "\n"
    "Daemon:\n"
    "  coordinator -c FILE          run the coordinator (see petri coordinator --help)\n"
    "  demo                         a local cluster evolving a function live\n"
    "\n"
    "Cluster:\n"
    "  members                      the cluster's members and their health\n"
    "  top                          live view of members and populations (q to quit)\n"
    "  population create SPEC.json  start evolving a population\n"
    "  population list              every population with its progress\n"
    "  population status NAME       progress of one population (--watch to follow)\n"
    "  population stop NAME         stop a population\n"
    "  genome submit POP FILE       evaluate an external genome (.erl, .ex, .exs)\n"
    "  genome show HASH             a genome's source and lineage records\n"
    "  mutate POP --command CMD     an external program as a mutator (bundles in, children out)\n"
    "  live start CONFIG.json       start a live population (running individuals, hot-upgraded)\n"
    "  live ls | show | stop        live populations, an individual's versions, stop one\n"
    "  live pin | unpin | upgrade   hold an individual at a version, release it, send it a child\n"
    "  lineage show HASH            ancestry tree of a genome (--depth N)\n"
    "  lineage verify               check the hash chain and every signature\n"
    "  lineage export               the lineage as JSON or Graphviz dot\n"
    "  scale status                 the coordinator's VM decisions per agent, and why\n"
    "  agent list                   agents with their work state\n"
    "  agent drain NAME             move work off an agent before removing it\n"
    "  keygen                       fresh cluster key, API token, node keys\n"
    "\n"
    "Global options (anywhere on the line):\n"
    "  --addr HOST:PORT    coordinator API address (env PETRI_ADDR; default 127.0.0.1:7951);\n"
    "                      a URL base such as http://host:7951 works too\n"
    "  --token TOKEN       API token for changes (env PETRI_TOKEN)\n"
    "  --token-file FILE   read the API token from FILE\n"
    "  --json              print the API's JSON document instead of text (env PETRI_JSON=1)\n"
    "  -h, --help          help for any command or subcommand\n"
    "  --version           print the version\n"
    "\n"
    "Exit status: 0 success; 1 a negative answer (not found, already exists, verify\n"
    "failed, population failed, coordinator unreachable); 2 bad usage or input\n"
    "(including a request the coordinator rejects as invalid); 130 interrupted.\n";

static const char help_members[] =
    "usage: petri members [--json]\n"
    "\n"
    "Lists the cluster's members as the coordinator sees them (GET /v1/members):\n"
    "NAME, node ID (short), gossip ADDR, STATUS (alive, suspect, dead, left),\n"
    "incarnation INC, ROLE, healthy/total BEAM VMs, and LOAD.\n";

static const char help_keygen[] =
    "usage: petri keygen [--dir DIR] [--json]\n"
    "\n"
    "Prints fresh secrets, without contacting any server:\n"
    "  cluster key  32 random bytes, base64: the [gossip] key of every node\n"
    "  API token    32 random bytes, hex: the [http] token of the coordinator\n"
    "               (operators pass it as --token or PETRI_TOKEN)\n"
    "With --dir DIR, also creates the node's identity in DIR (node.id and\n"
    "node.key, mode 0600; kept if they exist) and prints the node id and its\n"
    "key fingerprint: for a coordinator, the key its lineage is signed with\n"
    "([lineage] pinned_key, petri lineage verify --pin).\n"
    "--json prints {\"cluster_key\", \"api_token\", \"node_id\", \"key_fingerprint\"}.\n";

/* ---- small helpers ---- */

void cli_errf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("petri: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_usagef(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("petri: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fprintf(stderr, "see 'petri %s--help'\n", cmd && *cmd ? cmd : "");
    return CLI_USAGE;
}

void cli_put_json(const json_t *j, int compact)
{
    char *s = json_dumps(j, JSON_ENCODE_ANY | (compact ? JSON_COMPACT : JSON_INDENT(2)));
    if (s) {
        puts(s);
        free(s);
    }
    fflush(stdout);
}

int cli_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (!cli_stop && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return cli_stop != 0;
}

uint64_t cli_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *cli_url_seg(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (; *s && n + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
    return out;
}

static int progress_shown;

void cli_progress_line(const char *what, double elapsed_s)
{
    if (!isatty(STDERR_FILENO))
        return;
    fprintf(stderr, "\r%s... %.0f s ", what, elapsed_s);
    fflush(stderr);
    progress_shown = 1;
}

void cli_progress_done(void)
{
    if (progress_shown)
        fputs("\r\033[K", stderr);
    progress_shown = 0;
}

static int on_progress(void *arg, double elapsed)
{
    const char *what = arg;
    static long last = -1;
    if (what && elapsed >= 1.0 && (long)elapsed != last) {
        last = (long)elapsed;
        cli_progress_line(what, elapsed);
    }
    return cli_stop != 0;
}

/* ---- exit codes ---- */

int cli_exit_for_status(long s)
{
    if (s >= 200 && s < 300)
        return CLI_OK;
    switch (s) {
    case 400:
    case 401:
    case 403:
    case 405:
    case 411:
    case 413:
    case 414:
    case 415:
    case 422:
        return CLI_USAGE;
    default:
        return CLI_FAIL;
    }
}

int cli_exit_for_error(int rc)
{
    if (rc == 0)
        return CLI_OK;
    return rc == -ECANCELED ? CLI_INTERRUPT : CLI_FAIL;
}

int cli_api(cli_t *c, const char *method, const char *path, const char *body, size_t len,
            long timeout_ms, json_t **out, long *status, const char *notfound)
{
    client_opts_t o = c->co;
    if (timeout_ms > 0)
        o.timeout_ms = timeout_ms;
    char err[512] = "";
    long st = 0;
    json_t *j = NULL;
    int rc = client_call(&o, method, path, body, len, &st, &j, err, sizeof err);
    cli_progress_done();
    if (status)
        *status = st;
    if (rc != 0) {
        cli_errf("%s", err);
        return cli_exit_for_error(rc);
    }
    int code = cli_exit_for_status(st);
    if (code == CLI_OK) {
        if (out)
            *out = j;
        else
            json_decref(j);
        return CLI_OK;
    }
    if (c->a.json && j)
        cli_put_json(j, 0);
    if (st == 404 && notfound)
        cli_errf("%s", notfound);
    else if (st == 401)
        cli_errf("%s (pass the coordinator's API token with --token, --token-file or "
                 "PETRI_TOKEN)",
                 err);
    else if (st == 400 || st == 422)
        cli_errf("invalid request: %s", err);
    else
        cli_errf("%s (HTTP %ld)", err, st);
    json_decref(j);
    return code;
}

/* ---- argument parsing ---- */

struct opt {
    const char *name;
    unsigned bit; /* 0 = global */
    int has_arg;
};

static const struct opt opts[] = {
    {"--addr", 0, 1},
    {"--token", 0, 1},
    {"--token-file", 0, 1},
    {"--json", 0, 0},
    {"--help", 0, 0},
    {"-h", 0, 0},
    {"--version", 0, 0},
    {"--watch", CLI_O_WATCH, 0},
    {"-w", CLI_O_WATCH, 0},
    {"--interval", CLI_O_INTERVAL, 1},
    {"--timeout", CLI_O_TIMEOUT, 1},
    {"--depth", CLI_O_DEPTH, 1},
    {"--replay", CLI_O_REPLAY, 1},
    {"--format", CLI_O_FORMAT, 1},
    {"-o", CLI_O_OUTPUT, 1},
    {"--output", CLI_O_OUTPUT, 1},
    {"--dir", CLI_O_DIR, 1},
    {"--language", CLI_O_LANGUAGE, 1},
    {"--pin", CLI_O_PIN, 1},
    {"--file", CLI_O_FILE, 1},
    {"--command", CLI_O_COMMAND, 1},
    {"--name", CLI_O_NAME, 1},
    {"--concurrency", CLI_O_CONCURRENCY, 1},
    {"--rate", CLI_O_RATE, 1},
    {"--count", CLI_O_COUNT, 1},
    {"--max-bytes", CLI_O_MAX_BYTES, 1},
    {"--members", CLI_O_MEMBERS, 1},
    {"--deme", CLI_O_DEME, 1},
    {"--mutator", CLI_O_MUTATOR, 1},
    {"--input-hash", CLI_O_INPUT_HASH, 1},
    {"--live", CLI_O_LIVE, 0},
};

static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > 1e7)
        return -1;
    *out = v;
    return 0;
}

static int parse_count(const char *s, long *out)
{
    int64_t v;
    if (util_parse_i64(s, &v) != 0 || v < 0 || v > 1000000000)
        return -1;
    *out = (long)v;
    return 0;
}

int cli_parse_args(int argc, char **argv, cli_args_t *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->interval_s = 1.0;
    a->depth = -1;
    a->replay = -1;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_pos || arg[0] != '-' || !strcmp(arg, "-")) {
            if (a->npos == CLI_MAX_POS) {
                snprintf(err, errlen, "too many arguments ('%s')", arg);
                return CLI_USAGE;
            }
            a->pos[a->npos++] = arg;
            continue;
        }
        if (!strcmp(arg, "--")) {
            only_pos = 1;
            continue;
        }
        const char *eq = strchr(arg, '=');
        size_t nlen = eq && arg[1] == '-' ? (size_t)(eq - arg) : strlen(arg);
        const struct opt *o = NULL;
        for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
            if (strlen(opts[k].name) == nlen && !strncmp(opts[k].name, arg, nlen))
                o = &opts[k];
        if (!o) {
            snprintf(err, errlen, "unknown option '%.*s'", (int)nlen, arg);
            return CLI_USAGE;
        }
        const char *val = NULL;
        if (o->has_arg) {
            if (eq && arg[1] == '-')
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                snprintf(err, errlen, "option %s needs a value", o->name);
                return CLI_USAGE;
            }
        } else if (eq && arg[1] == '-') {
            snprintf(err, errlen, "option %s takes no value", o->name);
            return CLI_USAGE;
        }
        a->seen |= o->bit;
        const char *n = o->name;
        if (!strcmp(n, "--addr"))
            a->addr = val;
        else if (!strcmp(n, "--token"))
            a->token = val;
        else if (!strcmp(n, "--token-file"))
            a->token_file = val;
        else if (!strcmp(n, "--json"))
            a->json = 1;
        else if (!strcmp(n, "--help") || !strcmp(n, "-h"))
            a->help = 1;
        else if (!strcmp(n, "--version"))
            a->version = 1;
        else if (o->bit == CLI_O_WATCH)
            a->watch = 1;
        else if (o->bit == CLI_O_LIVE)
            a->live = 1;
        else if (o->bit == CLI_O_INTERVAL || o->bit == CLI_O_TIMEOUT) {
            double *dst = o->bit == CLI_O_INTERVAL ? &a->interval_s : &a->timeout_s;
            if (parse_seconds(val, dst) != 0) {
                snprintf(err, errlen, "%s: '%s' is not a positive number of seconds", n, val);
                return CLI_USAGE;
            }
        } else if (o->bit == CLI_O_DEPTH || o->bit == CLI_O_REPLAY) {
            if (parse_count(val, o->bit == CLI_O_DEPTH ? &a->depth : &a->replay) != 0) {
                snprintf(err, errlen, "%s: '%s' is not a non-negative integer", n, val);
                return CLI_USAGE;
            }
        } else if (o->bit == CLI_O_FORMAT)
            a->format = val;
        else if (o->bit == CLI_O_OUTPUT)
            a->output = val;
        else if (o->bit == CLI_O_DIR)
            a->dir = val;
        else if (o->bit == CLI_O_LANGUAGE)
            a->language = val;
        else if (o->bit == CLI_O_PIN)
            a->pin = val;
        else if (o->bit == CLI_O_FILE)
            a->file = val;
        else if (o->bit >= (unsigned)CLI_O_COMMAND) {
            const char **dst[] = {&a->command, &a->name,      &a->concurrency, &a->rate,
                                  &a->count,   &a->max_bytes, &a->members,     &a->deme,
                                  &a->mutator, &a->input_hash};
            for (unsigned k = 0; k < sizeof dst / sizeof dst[0]; k++)
                if (o->bit == (unsigned)CLI_O_COMMAND << k)
                    *dst[k] = val;
        }
    }
    if (!a->addr || !*a->addr)
        a->addr = getenv("PETRI_ADDR");
    if (!a->addr || !*a->addr)
        a->addr = CLIENT_DEFAULT_ADDR;
    if (!a->token && !a->token_file)
        a->token = getenv("PETRI_TOKEN");
    const char *pj = getenv("PETRI_JSON");
    if (pj && (!strcmp(pj, "1") || !strcmp(pj, "true") || !strcmp(pj, "yes")))
        a->json = 1;
    return 0;
}

int cli_args_allow(const cli_args_t *a, unsigned allowed, const char *cmd, char *err, size_t errlen)
{
    unsigned bad = a->seen & ~allowed;
    if (!bad)
        return 0;
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
        if (opts[k].bit & bad) {
            snprintf(err, errlen, "'%s' does not take %s", cmd, opts[k].name);
            return CLI_USAGE;
        }
    return CLI_USAGE;
}

/* ---- members, keygen ---- */

int cli_cmd_members(cli_t *c)
{
    char err[256];
    if (c->a.help) {
        fputs(help_members, stdout);
        return CLI_OK;
    }
    if (cli_args_allow(&c->a, 0, "members", err, sizeof err))
        return cli_usagef("members ", "%s", err);
    if (c->a.npos > 1)
        return cli_usagef("members ", "unexpected argument '%s'", c->a.pos[1]);
    json_t *j = NULL;
    int rc = cli_api(c, "GET", "/v1/members", NULL, 0, 0, &j, NULL, NULL);
    if (rc != CLI_OK)
        return rc;
    if (c->a.json)
        cli_put_json(j, 0);
    else if (!json_is_array(j))
        rc = CLI_FAIL, cli_errf("unexpected answer from the coordinator (not a list)");
    else
        cli_print_members(stdout, j);
    json_decref(j);
    return rc;
}

int cli_cmd_keygen(cli_t *c)
{
    char err[512];
    if (c->a.help) {
        fputs(help_keygen, stdout);
        return CLI_OK;
    }
    if (cli_args_allow(&c->a, CLI_O_DIR, "keygen", err, sizeof err))
        return cli_usagef("keygen ", "%s", err);
    if (c->a.npos > 1)
        return cli_usagef("keygen ", "unexpected argument '%s'", c->a.pos[1]);
    if (crypto_init() != 0) {
        cli_errf("libsodium cannot initialise");
        return CLI_FAIL;
    }
    uint8_t key[CRYPTO_KEY_LEN], tok[32];
    char b64[CRYPTO_KEY_B64_LEN + 1], hex[2 * sizeof tok + 1], id[2 * CRYPTO_ID_LEN + 1] = "";
    char fp[STORE_FP_LEN + 1] = "";
    crypto_random(key, sizeof key);
    crypto_random(tok, sizeof tok);
    crypto_key_to_b64(key, b64);
    crypto_hex(tok, sizeof tok, hex);
    sodium_memzero(key, sizeof key);
    sodium_memzero(tok, sizeof tok);
    int rc = CLI_OK;
    if (c->a.dir) {
        node_identity_t idn;
        if (identity_load_or_create(c->a.dir, &idn, err, sizeof err) != 0) {
            cli_errf("%s: %s", c->a.dir, err);
            rc = CLI_FAIL;
        } else {
            crypto_hex(idn.id, sizeof idn.id, id);
            store_fingerprint(idn.pk, fp);
            identity_wipe(&idn);
        }
    }
    if (rc == CLI_OK) {
        if (c->a.json) {
            json_t *j = json_pack("{s:s, s:s}", "cluster_key", b64, "api_token", hex);
            if (id[0]) {
                json_object_set_new(j, "node_id", json_string(id));
                json_object_set_new(j, "key_fingerprint", json_string(fp));
            }
            cli_put_json(j, 0);
            json_decref(j);
        } else {
            printf("cluster key  %s\n", b64);
            printf("             ([gossip] key on every node, or one line of a key file)\n");
            printf("API token    %s\n", hex);
            printf("             ([http] token of the coordinator; PETRI_TOKEN for operators)\n");
            if (id[0]) {
                printf("node id      %s  (keys in %s)\n", id, c->a.dir);
                printf("key          %s\n", fp);
                printf("             (fingerprint; a coordinator signs its lineage with this key:\n"
                       "             [lineage] pinned_key, petri lineage verify --pin)\n");
            }
        }
    }
    sodium_memzero(b64, sizeof b64);
    sodium_memzero(hex, sizeof hex);
    return rc;
}

/* ---- entry ---- */

static void on_signal(int sig)
{
    cli_stop = 1;
}

static int read_token_file(cli_t *c)
{
    char *s = NULL;
    size_t len = 0;
    int rc = util_read_file(c->a.token_file, 4096, &s, &len);
    if (rc != 0) {
        cli_errf("cannot read the token file %s: %s", c->a.token_file, err_str(rc));
        return CLI_USAGE;
    }
    while (len > 0 &&
           (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
        s[--len] = '\0';
    char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    memmove(s, p, strlen(p) + 1);
    c->token_owned = s;
    c->co.token = s;
    return CLI_OK;
}

int cli_main(int argc, char **argv)
{
    cli_t c;
    memset(&c, 0, sizeof c);
    char err[512];
    if (cli_parse_args(argc, argv, &c.a, err, sizeof err) != 0) {
        const char *cmd = NULL;
        for (int i = 1; i < argc && !cmd; i++)
            if (argv[i][0] != '-')
                cmd = argv[i];
        char hint[64] = "";
        if (cmd)
            snprintf(hint, sizeof hint, "%s ", cmd);
        return cli_usagef(hint, "%s", err);
    }
    if (c.a.npos == 0 || !strcmp(c.a.pos[0], "help")) {
        if (c.a.version) {
            printf("petri %s\n", PETRI_VERSION);
            return CLI_OK;
        }
        if (c.a.npos == 0 && !c.a.help) {
            fputs(help_main, stderr);
            return CLI_USAGE;
        }
        fputs(help_main, stdout);
        return CLI_OK;
    }
    if (!strcmp(c.a.pos[0], "version")) {
        printf("petri %s\n", PETRI_VERSION);
        return CLI_OK;
    }

    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGINT);
    sigaddset(&ss, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: sleeps and polls wake up */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    cli_stop = 0;

    c.co.addr = c.a.addr;
    c.co.token = c.a.token;
    c.co.progress = on_progress;
    c.co.progress_arg = NULL;
    if (c.a.token_file && !c.a.help) {
        int rc = read_token_file(&c);
        if (rc != CLI_OK)
            return rc;
    }

    static const struct {
        const char *name;
        int (*fn)(cli_t *);
    } cmds[] = {{"members", cli_cmd_members}, {"population", cli_cmd_population},
                {"genome", cli_cmd_genome},   {"lineage", cli_cmd_lineage},
                {"keygen", cli_cmd_keygen},   {"top", cli_cmd_top},
                {"scale", cli_cmd_scale},     {"agent", cli_cmd_agent},
                {"mutate", cli_cmd_mutate},   {"live", cli_cmd_live}};
    int rc = -1;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(c.a.pos[0], cmds[i].name))
            rc = cmds[i].fn(&c);
    if (rc < 0)
        rc = cli_usagef("", "unknown command '%s'", c.a.pos[0]);
    if (c.token_owned) {
        sodium_memzero(c.token_owned, strlen(c.token_owned));
        free(c.token_owned);
    }
    return rc;
}
