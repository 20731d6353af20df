/* cli_lineage.c - `petri genome submit|show` and `petri lineage
 * show|verify|export`: external genomes, their records, ancestry trees,
 * verification of the signed log, and exports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"
#include "err.h"
#include "loop.h"
#include "store_export.h"
#include "util.h"

#define GENOME_MAX (4u << 20)
#define VERIFY_TIMEOUT_MS (30L * 60 * 1000)
#define EXPORT_TIMEOUT_MS (10L * 60 * 1000)
#define SUBMIT_TIMEOUT_S 60.0
#define POLL_MS 500

static const char help_genome[] = "usage: petri genome <submit|show> ...\n"
                                  "\n"
                                  "  submit POPULATION FILE   evaluate an external genome\n"
                                  "  show HASH                a genome's source and records\n";

static const char help_submit[] =
    "usage: petri genome submit POPULATION FILE [--timeout S] [--language L] [--json]\n"
    "\n"
    "Sends FILE (an Erlang module; Elixir for .ex/.exs, or as --language says)\n"
    "into a population (POST /v1/populations/POPULATION/genomes), then waits for\n"
    "its evaluation (up to --timeout seconds, default 60) and prints its hash,\n"
    "status (ok, parse_error, unsafe, compile_error, timeout, heap_limit, crash,\n"
    "bad_result, unsupported, internal, vm_killed), fitness and detail.\n"
    "Exit status: 0 evaluated ok; 1 evaluated with another status, no result in\n"
    "time, or no such population; 2 unreadable file or rejected genome.\n";

static const char help_show[] =
    "usage: petri genome show HASH [--json]\n"
    "\n"
    "Prints a genome's lineage records (sequence, population, deme, operator,\n"
    "parents, status, fitness, cases passed, cost, reused, evaluating agent,\n"
    "time) and its source.\n";

static const char help_lineage[] =
    "usage: petri lineage <show|verify|export> ...\n"
    "\n"
    "  show HASH [--depth N]                  ancestry tree of a genome\n"
    "  verify [--replay N] [--pin FP]         check the hash chain and signatures\n"
    "  verify --file EXPORT.json [--pin FP]   check an export offline\n"
    "  export [--format json|dot] [-o FILE]   the whole lineage\n";

static const char help_lshow[] =
    "usage: petri lineage show HASH [--depth N] [--json]\n"
    "\n"
    "Prints the ancestry of a genome as a tree, one line per individual:\n"
    "<hash> fitness=<f> op=<operator that made it>, parents below.\n"
    "  --depth N   generations to follow (the coordinator's default if absent)\n";

static const char help_verify[] =
    "usage: petri lineage verify [--replay N] [--json]\n"
    "\n"
    "Asks the coordinator to check the lineage log from genesis: the hash chain,\n"
    "every coordinator signature and every agent signature; with --replay N it\n"
    "also re-derives N random children from (parents, operator, seed) and\n"
    "compares them. A replay that ran on another breeder than the one that bred\n"
    "the child (petri or OTP upgraded since) is listed as not compared, with both\n"
    "breeders, not as a mismatch. Progress is shown on stderr; the wait is up to\n"
    "30 minutes.\n"
    "  --pin FP          the log must be signed by the coordinator key with this\n"
    "                    fingerprint (as `petri keygen --dir` and the coordinator's\n"
    "                    start line print it): a store re-signed under another key fails\n"
    "  --file EXPORT     check an export (petri lineage export) offline, without a\n"
    "                    coordinator: the chain, both signatures of every record, that\n"
    "                    every field is what the signed record says, and the end\n"
    "Exit status: 0 the log verifies; 1 any error (each one is listed); 2 bad usage\n"
    "or an unreadable file.\n";

static const char help_export[] =
    "usage: petri lineage export [--format json|dot] [-o FILE]\n"
    "\n"
    "Writes the whole lineage (GET /v1/lineage/export) to stdout or FILE:\n"
    "JSON (default) or a Graphviz digraph (dot -Tsvg lineage.dot > lineage.svg).\n"
    "The JSON carries each record's stored bytes, hashes, signatures and keys, so\n"
    "`petri lineage verify --file` can check it anywhere. Records the store cannot\n"
    "read appear as {\"seq\": N, \"error\": ...} (DOT: a comment).\n"
    "Exit status: 0 written whole; 1 damaged records (written, and listed) or an\n"
    "export cut short; 2 bad usage or an unwritable FILE.\n";

static int is_hash(const char *s)
{
    size_t n = strlen(s);
    if (n < 4 || n > 128)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
            return 0;
    return 1;
}

static const char *language_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && (!strcmp(dot, ".ex") || !strcmp(dot, ".exs")))
        return "elixir";
    return "erlang";
}

/* The record of g for population pop (else the latest one), or NULL. */
static const json_t *pick_record(const json_t *g, const char *pop)
{
    const json_t *recs = json_object_get(g, "records");
    size_t n = json_array_size(recs);
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(recs, i);
        const char *p = json_string_value(json_object_get(r, "population"));
        if (p && !strcmp(p, pop))
            return r;
    }
    return n ? json_array_get(recs, n - 1) : NULL;
}

static int genome_submit(cli_t *c)
{
    if (c->a.help) {
        fputs(help_submit, stdout);
        return CLI_OK;
    }
    if (c->a.npos != 4)
        return cli_usagef("genome submit ", "expected POPULATION and FILE");
    const char *pop = c->a.pos[2], *file = c->a.pos[3];
    const char *lang = c->a.language ? c->a.language : language_of(file);
    if (strcmp(lang, "erlang") && strcmp(lang, "elixir"))
        return cli_usagef("genome submit ", "--language: '%s' is not erlang or elixir", lang);
    char *src = NULL;
    size_t len = 0;
    int rc = util_read_file(file, GENOME_MAX, &src, &len);
    if (rc != 0) {
        cli_errf("cannot read %s: %s", file, err_str(rc));
        return CLI_USAGE;
    }
    json_t *req = json_object();
    json_object_set_new(req, "source", json_stringn(src, len));
    json_object_set_new(req, "language", json_string(lang));
    free(src);
    if (!json_object_get(req, "source")) {
        json_decref(req);
        cli_errf("%s is not UTF-8 text", file);
        return CLI_USAGE;
    }
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    char seg[512], path[700], nf[600];
    snprintf(path, sizeof path, "/v1/populations/%s/genomes", cli_url_seg(pop, seg, sizeof seg));
    snprintf(nf, sizeof nf, "no population named %s", pop);
    json_t *ack = NULL;
    rc = cli_api(c, "POST", path, body, body ? strlen(body) : 0, 0, &ack, NULL, nf);
    free(body);
    if (rc != CLI_OK)
        return rc;
    const char *h = json_string_value(json_object_get(ack, "hash"));
    if (!h || !is_hash(h)) {
        cli_errf("unexpected answer from the coordinator (no genome hash)");
        json_decref(ack);
        return CLI_FAIL;
    }
    char hash[130];
    snprintf(hash, sizeof hash, "%s", h);
    json_decref(ack);
    if (!c->a.json)
        fprintf(stderr, "submitted %s to %s\n", hash, pop);

    double limit = c->a.timeout_s > 0 ? c->a.timeout_s : SUBMIT_TIMEOUT_S;
    uint64_t start = mono_ms();
    snprintf(path, sizeof path, "/v1/genomes/%s", hash);
    client_opts_t o = c->co;
    o.progress = NULL;
    for (;;) {
        double el = (double)(mono_ms() - start) / 1000.0;
        char err[512];
        long st = 0;
        json_t *g = NULL;
        int r = client_call(&o, "GET", path, NULL, 0, &st, &g, err, sizeof err);
        if (r == 0 && st == 200 && pick_record(g, pop)) {
            cli_progress_done();
            const json_t *rec = pick_record(g, pop);
            const char *status = json_string_value(json_object_get(rec, "status"));
            if (c->a.json) {
                cli_put_json(g, 0);
            } else {
                char fit[32];
                const char *d = json_string_value(json_object_get(rec, "detail"));
                printf("hash     %s\n", hash);
                printf("status   %s\n", status ? status : "?");
                printf("fitness  %s\n",
                       cli_fmt_value(json_object_get(rec, "fitness"), fit, sizeof fit));
                const json_t *nc = json_object_get(rec, "cases");
                if (json_is_integer(nc) && json_integer_value(nc) > 0)
                    printf("passed   %lld/%lld\n",
                           (long long)json_integer_value(json_object_get(rec, "passed")),
                           (long long)json_integer_value(nc));
                const json_t *cost = json_object_get(rec, "cost");
                if (json_is_number(cost) && json_number_value(cost) != 0)
                    printf("cost     %s\n", cli_fmt_value(cost, fit, sizeof fit));
                if (json_is_true(json_object_get(rec, "reused")))
                    printf("reused   yes (an identical earlier evaluation)\n");
                if (d && *d)
                    printf("detail   %s\n", d);
            }
            int ok = status && !strcmp(status, "ok");
            json_decref(g);
            return ok ? CLI_OK : CLI_FAIL;
        }
        json_decref(g);
        if (r != 0 && r != ERR_TIMEOUT) {
            cli_progress_done();
            cli_errf("%s", err);
            return cli_exit_for_error(r);
        }
        if (r == 0 && st != 200 && st != 404) {
            cli_progress_done();
            cli_errf("%s (HTTP %ld)", err, st);
            return cli_exit_for_status(st);
        }
        if (el >= limit) {
            cli_progress_done();
            cli_errf("no evaluation of %s within %.0f s; check later with: petri genome show %s",
                     hash, limit, hash);
            return CLI_FAIL;
        }
        cli_progress_line("waiting for the evaluation", el);
        if (cli_sleep_ms(POLL_MS)) {
            cli_progress_done();
            return CLI_INTERRUPT;
        }
    }
}

static int genome_show(cli_t *c)
{
    if (c->a.help) {
        fputs(help_show, stdout);
        return CLI_OK;
    }
    if (c->a.npos != 3)
        return cli_usagef("genome show ", "expected one genome HASH");
    const char *h = c->a.pos[2];
    if (!is_hash(h))
        return cli_usagef("genome show ", "'%s' is not a genome hash (hex)", h);
    char path[300], nf[300];
    snprintf(path, sizeof path, "/v1/genomes/%s", h);
    snprintf(nf, sizeof nf, "no genome %s", h);
    json_t *g = NULL;
    int rc = cli_api(c, "GET", path, NULL, 0, 0, &g, NULL, nf);
    if (rc != CLI_OK)
        return rc;
    if (c->a.json)
        cli_put_json(g, 0);
    else
        cli_print_genome(stdout, g);
    json_decref(g);
    return CLI_OK;
}

int cli_cmd_genome(cli_t *c)
{
    char err[256];
    const char *sub = c->a.npos > 1 ? c->a.pos[1] : NULL;
    if (!sub) {
        fputs(help_genome, c->a.help ? stdout : stderr);
        return c->a.help ? CLI_OK : CLI_USAGE;
    }
    unsigned allowed = !strcmp(sub, "submit") ? CLI_O_TIMEOUT | CLI_O_LANGUAGE : 0;
    char cmd[80];
    snprintf(cmd, sizeof cmd, "genome %.40s", sub);
    if (!c->a.help && cli_args_allow(&c->a, allowed, cmd, err, sizeof err)) {
        strcat(cmd, " ");
        return cli_usagef(cmd, "%s", err);
    }
    if (!strcmp(sub, "submit"))
        return genome_submit(c);
    if (!strcmp(sub, "show"))
        return genome_show(c);
    return cli_usagef("genome ", "unknown subcommand '%s'", sub);
}

static int lineage_show(cli_t *c)
{
    if (c->a.help) {
        fputs(help_lshow, stdout);
        return CLI_OK;
    }
    if (c->a.npos != 3)
        return cli_usagef("lineage show ", "expected one genome HASH");
    const char *h = c->a.pos[2];
    if (!is_hash(h))
        return cli_usagef("lineage show ", "'%s' is not a genome hash (hex)", h);
    char path[300], nf[300];
    if (c->a.depth >= 0)
        snprintf(path, sizeof path, "/v1/lineage/%s?depth=%ld", h, c->a.depth);
    else
        snprintf(path, sizeof path, "/v1/lineage/%s", h);
    snprintf(nf, sizeof nf, "no lineage for %s", h);
    json_t *t = NULL;
    int rc = cli_api(c, "GET", path, NULL, 0, 0, &t, NULL, nf);
    if (rc != CLI_OK)
        return rc;
    if (c->a.json)
        cli_put_json(t, 0);
    else
        cli_print_lineage(stdout, t);
    json_decref(t);
    return CLI_OK;
}

static void collect_error(void *arg, uint64_t seq, const char *reason)
{
    json_t *errors = arg;
    if (json_array_size(errors) < 1000)
        json_array_append_new(errors,
                              json_pack("{s:I, s:s}", "seq", (json_int_t)seq, "reason", reason));
}

static void print_key(FILE *f, const char *key, const char *pin)
{
    if (key && *key)
        fprintf(f, "coordinator key %s%s\n", key,
                !pin                ? " (not pinned: --pin checks it)"
                : !strcmp(key, pin) ? " (the pinned key)"
                                    : " - NOT the pinned key");
}

/* petri lineage verify --file: no coordinator involved. */
static int verify_file(cli_t *c, const char *pin)
{
    json_error_t je;
    json_t *doc = json_load_file(c->a.file, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        cli_errf("%s: not a whole JSON document (line %d: %s); an export cut short is "
                 "not valid",
                 c->a.file, je.line, je.text);
        return je.line == -1 && je.position == 0 ? CLI_USAGE : CLI_FAIL;
    }
    json_t *errors = json_array();
    uint64_t checked = 0;
    char fp[STORE_FP_LEN + 1];
    int rc = store_export_verify(doc, pin, collect_error, errors, &checked, fp);
    json_decref(doc);
    json_t *rep = json_pack("{s:I, s:b, s:o, s:s, s:s}", "records", (json_int_t)checked, "ok",
                            rc == 0, "errors", errors, "key", fp, "file", c->a.file);
    if (c->a.json) {
        cli_put_json(rep, 0);
    } else {
        cli_print_verify(rc == 0 ? stdout : stderr, rep);
        print_key(rc == 0 ? stdout : stderr, fp, pin);
    }
    json_decref(rep);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}

static int lineage_verify(cli_t *c)
{
    if (c->a.help) {
        fputs(help_verify, stdout);
        return CLI_OK;
    }
    if (c->a.npos != 2)
        return cli_usagef("lineage verify ", "unexpected argument '%s'", c->a.pos[2]);
    char pinbuf[STORE_FP_LEN + 1];
    const char *pin = NULL;
    if (c->a.pin) {
        if (store_fingerprint_parse(c->a.pin, pinbuf) != 0)
            return cli_usagef("lineage verify ",
                              "--pin: '%s' is not a key fingerprint (32 hex characters)", c->a.pin);
        pin = pinbuf;
    }
    if (c->a.file) {
        if (c->a.replay > 0)
            return cli_usagef("lineage verify ", "--replay needs a coordinator, not --file");
        return verify_file(c, pin);
    }
    char path[64];
    snprintf(path, sizeof path, "/v1/lineage/verify?replay=%ld", c->a.replay > 0 ? c->a.replay : 0);
    c->co.progress_arg = (void *)"verifying the lineage";
    json_t *rep = NULL;
    int rc = cli_api(c, "POST", path, "", 0, VERIFY_TIMEOUT_MS, &rep, NULL, NULL);
    c->co.progress_arg = NULL;
    if (rc != CLI_OK)
        return rc;
    const char *key = json_string_value(json_object_get(rep, "key"));
    int ok = json_is_true(json_object_get(rep, "ok")) &&
             json_integer_value(json_object_get(rep, "replay_mismatches")) == 0;
    if (pin && (!key || strcmp(key, pin) != 0)) {
        ok = 0;
        json_object_set_new(rep, "ok", json_false());
        char why[200];
        snprintf(why, sizeof why,
                 "the log is signed by coordinator key %s, not the pinned key %s: it was "
                 "re-signed or comes from another coordinator",
                 key ? key : "(none)", pin);
        json_t *errs = json_object_get(rep, "errors");
        if (json_is_array(errs))
            json_array_insert_new(errs, 0, json_pack("{s:i, s:s}", "seq", 0, "reason", why));
    }
    if (c->a.json) {
        cli_put_json(rep, 0);
    } else {
        cli_print_verify(ok ? stdout : stderr, rep);
        print_key(ok ? stdout : stderr, key, pin);
    }
    json_decref(rep);
    return ok ? CLI_OK : CLI_FAIL;
}

static int lineage_export(cli_t *c)
{
    if (c->a.help) {
        fputs(help_export, stdout);
        return CLI_OK;
    }
    if (c->a.npos != 2)
        return cli_usagef("lineage export ", "unexpected argument '%s'", c->a.pos[2]);
    const char *fmt = c->a.format ? c->a.format : "json";
    if (strcmp(fmt, "json") && strcmp(fmt, "dot"))
        return cli_usagef("lineage export ", "--format: '%s' is not json or dot", fmt);
    char path[64], err[512];
    snprintf(path, sizeof path, "/v1/lineage/export?format=%s", fmt);
    client_opts_t o = c->co;
    o.timeout_ms = EXPORT_TIMEOUT_MS;
    o.progress_arg = (void *)"exporting the lineage";
    long st = 0;
    char *text = NULL;
    size_t len = 0;
    int rc = client_call_raw(&o, "GET", path, NULL, 0, &st, &text, &len, err, sizeof err);
    cli_progress_done();
    if (rc != 0) {
        cli_errf("%s", err);
        return cli_exit_for_error(rc);
    }
    if (st < 200 || st >= 300) {
        cli_errf("%s (HTTP %ld)", err, st);
        free(text);
        return cli_exit_for_status(st);
    }
    /* the last thing an export says is how many records were damaged: an
     * export without it was cut short */
    long long damaged = -1;
    const char *tail = len > 256 ? text + len - 256 : text;
    const char *m = NULL;
    for (const char *p = tail; p < text + len; p++) {
        const char *key = !strcmp(fmt, "json") ? "\"damaged\":" : " damaged\n";
        if (!strncmp(p, key, strlen(key)) && (size_t)(text + len - p) >= strlen(key))
            m = p;
    }
    if (m && !strcmp(fmt, "json")) {
        damaged = strtoll(m + strlen("\"damaged\":"), NULL, 10);
    } else if (m) { /* "  // N records, M damaged\n}" */
        const char *q = m;
        while (q > tail && q[-1] >= '0' && q[-1] <= '9')
            q--;
        damaged = strtoll(q, NULL, 10);
    }
    int ret = CLI_OK;
    if (c->a.output && strcmp(c->a.output, "-") != 0) {
        rc = util_write_file_atomic(c->a.output, text, len, 0644, 0);
        if (rc != 0) {
            cli_errf("cannot write %s: %s", c->a.output, err_str(rc));
            ret = CLI_USAGE;
        }
    } else if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
        cli_errf("cannot write the export to stdout");
        ret = CLI_FAIL;
    }
    free(text);
    if (ret == CLI_OK && damaged < 0) {
        cli_errf("the export was cut short (it does not end with its damaged-record count)");
        ret = CLI_FAIL;
    } else if (ret == CLI_OK && damaged > 0) {
        cli_errf("%lld damaged records: written as error entries naming their seq", damaged);
        ret = CLI_FAIL;
    }
    return ret;
}

int cli_cmd_lineage(cli_t *c)
{
    char err[256];
    const char *sub = c->a.npos > 1 ? c->a.pos[1] : NULL;
    if (!sub) {
        fputs(help_lineage, c->a.help ? stdout : stderr);
        return c->a.help ? CLI_OK : CLI_USAGE;
    }
    unsigned allowed = !strcmp(sub, "show")     ? CLI_O_DEPTH
                       : !strcmp(sub, "verify") ? CLI_O_REPLAY | CLI_O_PIN | CLI_O_FILE
                       : !strcmp(sub, "export") ? CLI_O_FORMAT | CLI_O_OUTPUT
                                                : 0;
    char cmd[80];
    snprintf(cmd, sizeof cmd, "lineage %.40s", sub);
    if (!c->a.help && cli_args_allow(&c->a, allowed, cmd, err, sizeof err)) {
        strcat(cmd, " ");
        return cli_usagef(cmd, "%s", err);
    }
    if (!strcmp(sub, "show"))
        return lineage_show(c);
    if (!strcmp(sub, "verify"))
        return lineage_verify(c);
    if (!strcmp(sub, "export"))
        return lineage_export(c);
    return cli_usagef("lineage ", "unknown subcommand '%s'", sub);
}
