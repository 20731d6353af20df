/* cli_live.c - `petri live start|ls|show|stop|pin|unpin|upgrade`: live
 * populations (individuals running on agents, hot-upgraded in place) from
 * the operator's side, over /v1/live. The views are in cli_live_fmt.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"
#include "crypto.h"
#include "err.h"
#include "util.h"

#define DEFAULT_MUTATOR "manual"

static const char help_live[] =
    "usage: petri live <start|ls|show|stop|pin|unpin|upgrade> ...\n"
    "\n"
    "  start CONFIG.json              start a live population from a config\n"
    "  ls                             every live population with its counters\n"
    "  show NAME [INDEX] [--watch [--interval S]]\n"
    "                                 individuals, their versions and live fitness\n"
    "  stop NAME                      stop every individual of a live population\n"
    "  pin NAME INDEX [VERSION]       hold an individual at a version (default: the\n"
    "                                 running one); it stops evolving\n"
    "  unpin NAME INDEX               let a pinned individual evolve again\n"
    "  upgrade NAME INDEX FILE [--mutator NAME] [--input-hash HEX]\n"
    "                                 send an individual a child module of your own\n"
    "\n"
    "A live individual is a genome module (init/1, handle/2, optional\n"
    "code_change/2) kept running on an agent's VM and replaying a request trace;\n"
    "children are loaded into it in place, promoted after a probation or rolled\n"
    "back, and every upgrade is a signed lineage record.\n"
    "See 'petri live <subcommand> --help'.\n";

static const char help_start[] =
    "usage: petri live start CONFIG.json [--json]\n"
    "\n"
    "Starts a live population (POST /v1/live). The config is a JSON object:\n"
    "  name, function (\"handle/2\"), language, primitives, operators (rates of the\n"
    "  breeding operators, e.g. {\"literal\": 1}), live (the live section, as\n"
    "  petri-agent live --spec reads it), individuals, upgrade_every_ms, stop\n"
    "  ({\"max_upgrades\": N}, 0 = no limit), and the request trace and the first\n"
    "  genome: inline as \"trace\" (JSON lines) and \"genome\" (source text), or\n"
    "  as \"trace_file\" and \"genome_file\", paths relative to the config's\n"
    "  directory, which petri reads and sends inline.\n"
    "Example: configs/live/ratelimit-population.json.\n"
    "Exit status: 0 started; 1 a live population of that name exists; 2 the\n"
    "config or a file it names cannot be read, or the coordinator rejects it\n"
    "(the message names the field; 413: the body is over [http] max_body_bytes).\n";

static const char help_ls[] =
    "usage: petri live ls [--json]\n"
    "\n"
    "Every live population (GET /v1/live): NAME, STATE, INDIVIDUALS, UPGRADES,\n"
    "PROMOTED, ROLLED BACK, REFUSED and the BEST live fitness (higher is better:\n"
    "the mean score of an individual's last `window` replies).\n";

static const char help_show[] =
    "usage: petri live show NAME [INDEX] [--watch [--interval S]] [--json]\n"
    "\n"
    "Without INDEX: the live population's counters, its individuals (agent,\n"
    "state, running version, pin, live fitness, requests, lost and twice-answered\n"
    "requests, latency) and each one's last versions. With INDEX: that\n"
    "individual in full, its fitness over time and every version the API keeps\n"
    "(the last 200): VERSION, PARENT, OP (an external child's mutator after a\n"
    "colon), OUTCOME (running, promoted, rollback, refused, pending), the\n"
    "PARENT and CHILD scores over the probation, the lineage record's SEQ, the\n"
    "source's HASH (petri genome show HASH) and the REASON.\n"
    "  -w, --watch       redraw every interval until the population stops\n"
    "  --interval S      seconds between polls (default 1)\n"
    "Exit status: 0 shown; 1 no such population or individual.\n";

static const char help_stop[] = "usage: petri live stop NAME [--json]\n"
                                "\n"
                                "Stops every individual of a live population\n"
                                "(POST /v1/live/NAME/stop); its versions and lineage\n"
                                "stay available.\n";

static const char help_pin[] =
    "usage: petri live pin NAME INDEX [VERSION] [--json]\n"
    "\n"
    "Pins individual INDEX (POST /v1/live/NAME/individuals/INDEX/pin): it is no\n"
    "longer evolved. Without VERSION it keeps the version it runs; with one, it is\n"
    "upgraded to that version's source first (op `pin`, no score comparison), e.g.\n"
    "to go back to a version that served better. `petri live unpin` releases it.\n";

static const char help_unpin[] =
    "usage: petri live unpin NAME INDEX [--json]\n"
    "\n"
    "Releases a pinned individual (POST .../individuals/INDEX/unpin): the\n"
    "coordinator evolves it again from the version it runs.\n";

static const char help_upgrade[] =
    "usage: petri live upgrade NAME INDEX FILE [--mutator NAME] [--input-hash HEX] [--json]\n"
    "\n"
    "Sends the module in FILE to individual INDEX as a child of the version it\n"
    "runs (POST .../individuals/INDEX/upgrade): it is loaded in place, serves its\n"
    "probation and is promoted or rolled back like any child, recorded with op\n"
    "`external`.\n"
    "  --mutator NAME     who wrote it, [a-z0-9_.-]{1,32} (default \"manual\")\n"
    "  --input-hash HEX   64 hex digits: what the mutator was given (e.g. a prompt's\n"
    "                     hash), kept in the lineage record\n"
    "Prints the upgrade's id and the child's hash; its outcome shows in\n"
    "'petri live show NAME INDEX'. Exit status: 0 accepted (202); 1 no such\n"
    "population or individual, or not now (409: e.g. the population stopped);\n"
    "2 FILE cannot be read or the coordinator refuses it (400, 413).\n";

/* ---- request bodies ---- */

static int parse_long(const char *s, long lo, long hi, long *out)
{
    int64_t v;
    if (!s || !isdigit((unsigned char)s[0]) || util_parse_i64(s, &v) != 0 || v < lo || v > hi)
        return -1;
    *out = (long)v;
    return 0;
}

int cli_live_parse_index(const char *s, long *out)
{
    return parse_long(s, 0, LIVE_MAX_INDEX, out);
}

int cli_live_parse_version(const char *s, long *out)
{
    return parse_long(s, 1, LIVE_MAX_INDEX, out);
}

/* Reads a text file named by a config or the command line: whole, at most
 * max bytes, not empty, no NUL byte (sources and traces are text). */
static int read_text(const char *what, const char *path, size_t max, char **out, size_t *len,
                     char *err, size_t errlen)
{
    int rc = util_read_file(path, max, out, len);
    if (rc == 0 && *len > max)
        rc = ERR_TOOBIG;
    if (rc == ERR_TOOBIG)
        snprintf(err, errlen, "%s %s: larger than %zu bytes", what, path, max);
    else if (rc != 0)
        snprintf(err, errlen, "%s %s: %s", what, path, err_str(rc));
    else if (*len == 0)
        snprintf(err, errlen, "%s %s: empty", what, path);
    else if (memchr(*out, '\0', *len))
        snprintf(err, errlen, "%s %s: not text (a NUL byte)", what, path);
    else
        return 0;
    free(*out);
    *out = NULL;
    return CLI_USAGE;
}

/* The file named by cfg[fkey] (relative to dir), inline as cfg[key]. */
static int inline_file(json_t *cfg, const char *cfgpath, const char *dir, const char *fkey,
                       const char *key, size_t max, char *err, size_t errlen)
{
    json_t *v = json_object_get(cfg, fkey);
    if (!v)
        return 0;
    const char *file = json_string_value(v);
    if (!file || !*file) {
        snprintf(err, errlen, "%s: \"%s\" must be a file name (a non-empty string)", cfgpath, fkey);
        return CLI_USAGE;
    }
    if (json_object_get(cfg, key)) {
        snprintf(err, errlen, "%s: names both \"%s\" and \"%s\"; keep one", cfgpath, key, fkey);
        return CLI_USAGE;
    }
    char *full = NULL;
    size_t dl = strlen(dir);
    if (file[0] == '/' || !strcmp(dir, "."))
        full = strdup(file);
    else if (asprintf(&full, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", file) < 0)
        full = NULL;
    if (!full) {
        snprintf(err, errlen, "out of memory");
        return CLI_USAGE;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = read_text(fkey, full, max, &text, &len, err, errlen);
    if (rc == 0) {
        json_t *s = json_stringn(text, len);
        if (!s) {
            snprintf(err, errlen, "%s %s: not UTF-8 text", fkey, full);
            rc = CLI_USAGE;
        } else {
            json_object_set_new(cfg, key, s);
            json_object_del(cfg, fkey);
        }
    }
    free(text);
    free(full);
    return rc;
}

int cli_live_body(const char *path, char **body, size_t *len, char *name, size_t cap, char *err,
                  size_t errlen)
{
    *body = NULL;
    *len = 0;
    if (cap)
        name[0] = '\0';
    if (!strcmp(path, "-")) {
        snprintf(err, errlen,
                 "the config must be a file (its trace_file and genome_file are relative to its "
                 "directory)");
        return CLI_USAGE;
    }
    char *text = NULL;
    size_t tlen = 0;
    int rc = read_text("config", path, LIVE_CONFIG_MAX, &text, &tlen, err, errlen);
    if (rc != 0)
        return rc;
    json_error_t je;
    json_t *cfg = json_loadb(text, tlen, 0, &je);
    free(text);
    if (!cfg) {
        snprintf(err, errlen, "%s:%d:%d: not valid JSON: %s", path, je.line, je.column, je.text);
        return CLI_USAGE;
    }
    if (!json_is_object(cfg)) {
        snprintf(err, errlen, "%s: a live population config is a JSON object", path);
        json_decref(cfg);
        return CLI_USAGE;
    }
    char *dir = strdup(path);
    if (!dir) {
        json_decref(cfg);
        snprintf(err, errlen, "out of memory");
        return CLI_USAGE;
    }
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    rc = inline_file(cfg, path, dir, "trace_file", "trace", LIVE_TRACE_MAX, err, errlen);
    if (rc == 0)
        rc = inline_file(cfg, path, dir, "genome_file", "genome", LIVE_GENOME_MAX, err, errlen);
    free(dir);
    if (rc == 0) {
        const char *n = json_string_value(json_object_get(cfg, "name"));
        if (n && cap)
            snprintf(name, cap, "%s", n);
        *body = json_dumps(cfg, JSON_COMPACT);
        if (!*body) {
            snprintf(err, errlen, "out of memory");
            rc = CLI_USAGE;
        } else if ((*len = strlen(*body)) > LIVE_CONFIG_MAX) {
            snprintf(err, errlen, "%s: with its files inline the config is %zu bytes, over %u",
                     path, *len, LIVE_CONFIG_MAX);
            free(*body);
            *body = NULL;
            *len = 0;
            rc = CLI_USAGE;
        }
    }
    json_decref(cfg);
    return rc;
}

static int mutator_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > MUTATE_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' ||
              *s == '-'))
            return 0;
    return 1;
}

int cli_live_upgrade_body(const char *path, const char *mutator, const char *input_hash,
                          char **body, size_t *len, char hash_hex[65], char *err, size_t errlen)
{
    *body = NULL;
    *len = 0;
    hash_hex[0] = '\0';
    if (!mutator)
        mutator = DEFAULT_MUTATOR;
    if (!mutator_ok(mutator)) {
        snprintf(err, errlen, "--mutator: '%.40s' is not 1..%d characters of [a-z0-9_.-]", mutator,
                 MUTATE_NAME_MAX);
        return CLI_USAGE;
    }
    char ih[65] = "";
    if (input_hash) {
        size_t n = strlen(input_hash);
        int ok = n == 64;
        for (size_t i = 0; ok && i < n; i++) {
            ok = isxdigit((unsigned char)input_hash[i]);
            ih[i] = (char)tolower((unsigned char)input_hash[i]);
        }
        if (!ok) {
            snprintf(err, errlen, "--input-hash: '%.70s' is not 64 hex digits", input_hash);
            return CLI_USAGE;
        }
        ih[64] = '\0';
    }
    if (!strcmp(path, "-")) {
        snprintf(err, errlen, "FILE: reading a module from stdin is not supported");
        return CLI_USAGE;
    }
    char *src = NULL;
    size_t slen = 0;
    int rc = read_text("module", path, LIVE_GENOME_MAX, &src, &slen, err, errlen);
    if (rc != 0)
        return rc;
    json_t *s = json_stringn(src, slen);
    if (!s) {
        snprintf(err, errlen, "module %s: not UTF-8 text", path);
        free(src);
        return CLI_USAGE;
    }
    uint8_t h[CRYPTO_HASH_LEN];
    crypto_hash(src, slen, h);
    crypto_hex(h, sizeof h, hash_hex);
    free(src);
    json_t *j = json_object();
    json_object_set_new(j, "source", s);
    json_object_set_new(j, "mutator", json_string(mutator));
    if (ih[0])
        json_object_set_new(j, "input_hash", json_string(ih));
    *body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!*body) {
        snprintf(err, errlen, "out of memory");
        return CLI_USAGE;
    }
    *len = strlen(*body);
    return 0;
}

/* ---- commands ---- */

/* "/v1/live/NAME" + tail (NAME percent-encoded) into out. */
static const char *live_path(const char *name, const char *tail, char *out, size_t cap)
{
    char seg[512];
    snprintf(out, cap, "/v1/live/%s%s", cli_url_seg(name, seg, sizeof seg), tail ? tail : "");
    return out;
}

static int live_start(cli_t *c)
{
    if (c->a.npos != 3)
        return cli_usagef("live start ", "expected one CONFIG.json file");
    char err[1024], name[128];
    char *body = NULL;
    size_t len = 0;
    if (cli_live_body(c->a.pos[2], &body, &len, name, sizeof name, err, sizeof err) != 0) {
        cli_errf("%s", err);
        return CLI_USAGE;
    }
    json_t *out = NULL;
    long st = 0;
    int rc = cli_api(c, "POST", "/v1/live", body, len, 0, &out, &st,
                     "this coordinator serves no live populations (POST /v1/live: 404)");
    free(body);
    if (st == 413)
        cli_errf("the config with its trace and genome inline is %zu bytes: raise the "
                 "coordinator's [http] max_body_bytes, or shorten the trace",
                 len);
    if (rc != CLI_OK)
        return rc;
    if (c->a.json) {
        cli_put_json(out, 0);
    } else {
        const char *n = json_string_value(json_object_get(out, "name"));
        char cnt[32];
        n = n ? n : name[0] ? name : "?";
        printf("started live population %s: %s individuals\n", n,
               cli_fmt_value(json_object_get(out, "individuals"), cnt, sizeof cnt));
        printf("follow it with: petri live show %s --watch\n", n);
    }
    json_decref(out);
    return CLI_OK;
}

static int live_ls(cli_t *c)
{
    if (c->a.npos != 2)
        return cli_usagef("live ls ", "unexpected argument '%s'", c->a.pos[2]);
    json_t *j = NULL;
    int rc = cli_api(c, "GET", "/v1/live", NULL, 0, 0, &j, NULL,
                     "this coordinator serves no live populations (GET /v1/live: 404)");
    if (rc != CLI_OK)
        return rc;
    if (c->a.json)
        cli_put_json(j, 0);
    else if (json_array_size(json_object_get(j, "live")) == 0)
        printf("no live populations (start one with: petri live start CONFIG.json)\n");
    else
        cli_print_lives(stdout, j);
    json_decref(j);
    return CLI_OK;
}

static int live_show(cli_t *c)
{
    if (c->a.npos < 3 || c->a.npos > 4)
        return cli_usagef("live show ", "expected a live population NAME and optionally an INDEX");
    if ((c->a.seen & CLI_O_INTERVAL) && !c->a.watch)
        return cli_usagef("live show ", "--interval goes with --watch");
    long index = -1;
    if (c->a.npos == 4 && cli_live_parse_index(c->a.pos[3], &index) != 0)
        return cli_usagef("live show ", "INDEX: '%s' is not an integer in [0, %ld]", c->a.pos[3],
                          LIVE_MAX_INDEX);
    const char *name = c->a.pos[2];
    char path[600], nf[600];
    live_path(name, NULL, path, sizeof path);
    snprintf(nf, sizeof nf, "no live population named %s", name);
    int tty = isatty(STDOUT_FILENO);
    long interval = (long)(c->a.interval_s * 1000.0);
    if (interval < 50)
        interval = 50;
    for (int first = 1;; first = 0) {
        json_t *j = NULL;
        int rc = cli_api(c, "GET", path, NULL, 0, 0, &j, NULL, nf);
        if (rc != CLI_OK)
            return rc == CLI_INTERRUPT && c->a.watch && !first ? CLI_OK : rc;
        const char *state = json_string_value(json_object_get(j, "state"));
        int running = state && !strcmp(state, "running");
        if (c->a.json) {
            cli_put_json(j, c->a.watch);
        } else {
            if (c->a.watch && tty)
                fputs("\033[H\033[2J", stdout);
            else if (c->a.watch && !first)
                fputc('\n', stdout);
            if (cli_print_live(stdout, j, index) != 0) {
                fflush(stdout);
                cli_errf("live population %s has no individual %ld", name, index);
                json_decref(j);
                return CLI_FAIL;
            }
            if (c->a.watch && tty)
                printf("\n(every %.3g s; Ctrl-C to stop watching)\n", c->a.interval_s);
        }
        fflush(stdout);
        json_decref(j);
        if (!c->a.watch || !running)
            return CLI_OK;
        if (cli_sleep_ms(interval))
            return CLI_OK;
    }
}

static int live_stop(cli_t *c)
{
    if (c->a.npos != 3)
        return cli_usagef("live stop ", "expected one live population NAME");
    const char *name = c->a.pos[2];
    char path[600], nf[600];
    snprintf(nf, sizeof nf, "no live population named %s", name);
    json_t *j = NULL;
    int rc =
        cli_api(c, "POST", live_path(name, "/stop", path, sizeof path), "", 0, 0, &j, NULL, nf);
    if (rc != CLI_OK)
        return rc;
    if (c->a.json)
        cli_put_json(j, 0);
    else
        printf("stopped live population %s\n", name);
    json_decref(j);
    return CLI_OK;
}

/* pin, unpin and upgrade: POST .../individuals/INDEX/<verb> with body. */
static int individual_post(cli_t *c, const char *verb, long index, const char *body, size_t len,
                           json_t **out)
{
    char tail[64], path[700];
    snprintf(tail, sizeof tail, "/individuals/%ld/%s", index, verb);
    live_path(c->a.pos[2], tail, path, sizeof path);
    /* a 404 names the population or the individual: the API's message says which */
    return cli_api(c, "POST", path, body, len, 0, out, NULL, NULL);
}

static int live_pin(cli_t *c, int pin)
{
    const char *cmd = pin ? "live pin " : "live unpin ";
    if (c->a.npos < 4 || c->a.npos > (pin ? 5 : 4))
        return cli_usagef(cmd, pin ? "expected NAME INDEX [VERSION]" : "expected NAME INDEX");
    long index, version = 0;
    if (cli_live_parse_index(c->a.pos[3], &index) != 0)
        return cli_usagef(cmd, "INDEX: '%s' is not an integer in [0, %ld]", c->a.pos[3],
                          LIVE_MAX_INDEX);
    if (c->a.npos == 5 && cli_live_parse_version(c->a.pos[4], &version) != 0)
        return cli_usagef(cmd, "VERSION: '%s' is not an integer in [1, %ld]", c->a.pos[4],
                          LIVE_MAX_INDEX);
    char body[64] = "";
    if (pin && version > 0)
        snprintf(body, sizeof body, "{\"version\":%ld}", version);
    else if (pin)
        snprintf(body, sizeof body, "{}");
    json_t *j = NULL;
    int rc = individual_post(c, pin ? "pin" : "unpin", index, body, strlen(body), &j);
    if (rc != CLI_OK)
        return rc;
    if (c->a.json) {
        cli_put_json(j, 0);
    } else if (pin) {
        char v[32];
        printf("individual %ld of %s pinned at version %s\n", index, c->a.pos[2],
               cli_fmt_value(json_object_get(j, "pinned"), v, sizeof v));
    } else {
        printf("individual %ld of %s unpinned: it evolves again\n", index, c->a.pos[2]);
    }
    json_decref(j);
    return CLI_OK;
}

static int live_upgrade(cli_t *c)
{
    if (c->a.npos != 5)
        return cli_usagef("live upgrade ", "expected NAME INDEX FILE");
    long index;
    if (cli_live_parse_index(c->a.pos[3], &index) != 0)
        return cli_usagef("live upgrade ", "INDEX: '%s' is not an integer in [0, %ld]", c->a.pos[3],
                          LIVE_MAX_INDEX);
    char err[1024], hash[65];
    char *body = NULL;
    size_t len = 0;
    if (cli_live_upgrade_body(c->a.pos[4], c->a.mutator, c->a.input_hash, &body, &len, hash, err,
                              sizeof err) != 0) {
        if (!strncmp(err, "--", 2))
            return cli_usagef("live upgrade ", "%s", err);
        cli_errf("%s", err);
        return CLI_USAGE;
    }
    json_t *j = NULL;
    int rc = individual_post(c, "upgrade", index, body, len, &j);
    free(body);
    if (rc != CLI_OK)
        return rc;
    if (c->a.json) {
        cli_put_json(j, 0);
    } else {
        char id[32];
        printf("upgrade %s: %.12s sent to individual %ld of %s (mutator %s)\n",
               cli_fmt_value(json_object_get(j, "upgrade_id"), id, sizeof id), hash, index,
               c->a.pos[2], c->a.mutator ? c->a.mutator : DEFAULT_MUTATOR);
        printf("its outcome: petri live show %s %ld\n", c->a.pos[2], index);
    }
    json_decref(j);
    return CLI_OK;
}

static int live_pin_cmd(cli_t *c)
{
    return live_pin(c, 1);
}

static int live_unpin_cmd(cli_t *c)
{
    return live_pin(c, 0);
}

int cli_cmd_live(cli_t *c)
{
    static const struct {
        const char *name, *help;
        unsigned allowed;
        int (*fn)(cli_t *);
    } subs[] = {
        {"start", help_start, 0, live_start},
        {"ls", help_ls, 0, live_ls},
        {"list", help_ls, 0, live_ls},
        {"show", help_show, CLI_O_WATCH | CLI_O_INTERVAL, live_show},
        {"stop", help_stop, 0, live_stop},
        {"pin", help_pin, 0, live_pin_cmd},
        {"unpin", help_unpin, 0, live_unpin_cmd},
        {"upgrade", help_upgrade, CLI_O_MUTATOR | CLI_O_INPUT_HASH, live_upgrade},
    };
    const char *sub = c->a.npos > 1 ? c->a.pos[1] : NULL;
    if (!sub) {
        fputs(help_live, c->a.help ? stdout : stderr);
        return c->a.help ? CLI_OK : CLI_USAGE;
    }
    for (size_t k = 0; k < sizeof subs / sizeof subs[0]; k++) {
        if (strcmp(sub, subs[k].name) != 0)
            continue;
        if (c->a.help) {
            fputs(subs[k].help, stdout);
            return CLI_OK;
        }
        char err[256], cmd[80];
        snprintf(cmd, sizeof cmd, "live %s", sub);
        if (cli_args_allow(&c->a, subs[k].allowed, cmd, err, sizeof err)) {
            strcat(cmd, " ");
            return cli_usagef(cmd, "%s", err);
        }
        return subs[k].fn(c);
    }
    return cli_usagef("live ", "unknown subcommand '%s'", sub);
}
