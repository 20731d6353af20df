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
    "  verify [--replay N]                    check the hash chain and signatures\n"
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
    "compares them. Progress is shown on stderr; the wait is up to 30 minutes.\n"
    "Exit status: 0 the log verifies; 1 any error (each one is listed).\n";

static const char help_export[] =
    "usage: petri lineage export [--format json|dot] [-o FILE]\n"
    "\n"
    "Writes the whole lineage (GET /v1/lineage/export) to stdout or FILE:\n"
    "JSON (default) or a Graphviz digraph (dot -Tsvg lineage.dot > lineage.svg).\n";

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

static int lineage_verify(cli_t *c)
{
    if (c->a.help) {
        fputs(help_verify, stdout);
        return CLI_OK;
    }
    if (c->a.npos != 2)
        return cli_usagef("lineage verify ", "unexpected argument '%s'", c->a.pos[2]);
    char path[64];
    snprintf(path, sizeof path, "/v1/lineage/verify?replay=%ld", c->a.replay > 0 ? c->a.replay : 0);
    c->co.progress_arg = (void *)"verifying the lineage";
    json_t *rep = NULL;
    int rc = cli_api(c, "POST", path, "", 0, VERIFY_TIMEOUT_MS, &rep, NULL, NULL);
    c->co.progress_arg = NULL;
    if (rc != CLI_OK)
        return rc;
    int ok = json_is_true(json_object_get(rep, "ok")) &&
             json_integer_value(json_object_get(rep, "replay_mismatches")) == 0;
    if (c->a.json)
        cli_put_json(rep, 0);
    else
        cli_print_verify(ok ? stdout : stderr, rep);
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
                       : !strcmp(sub, "verify") ? CLI_O_REPLAY
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
