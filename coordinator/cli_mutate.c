/* cli_mutate.c - `petri mutate POP --command CMD`: any program as a mutator.
 * Loops: fetch a prompt bundle, run CMD (/bin/sh -c, the bundle on stdin,
 * its own process group), read the child module on its stdout, submit it
 * with its parents, the mutator's name and the bundle's hash.
 *
 * Invariants:
 *  1. A command's answer is submitted once, whole, or recorded as a failure
 *     (empty, too big, late); never both, never in part. A submission, once
 *     started, is not interrupted (a stop waits for it).
 *  2. A command that outlives --timeout, sends more than --max-bytes or is
 *     running at a stop has its whole process group killed (SIGKILL) and is
 *     reaped before the next bundle is fetched for its slot.
 *  3. Nothing a command does (garbage, silence, a flood, an early exit)
 *     stops the loop: only a stop signal, --count, a population that stops
 *     running or an API that refuses the token/population does.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_mut.h"
#include "cli_int.h"
#include "err.h"
#include "loop.h"
#include "util.h"

#define RETRY_MS 1000    /* after a bundle the coordinator cannot give yet */
#define PROGRESS_MS 1000 /* progress line on stderr at most this often */
#define SUBMIT_TIMEOUT_MS 30000L
#define PARENTS_TAG "petri-parents:"
#define EXIT_GRACE_MS 200 /* for a command to exit once it closed its stdout */

static const char help_mutate[] =
    "usage: petri mutate POPULATION --command CMD [--name NAME] [--concurrency N]\n"
    "                    [--rate R] [--count N] [--timeout S] [--max-bytes B]\n"
    "                    [--members K] [--deme D] [--live] [--json]\n"
    "\n"
    "Runs an external program as a mutator of a running population. Each round\n"
    "fetches a prompt bundle (GET /v1/populations/POP/bundle: the spec, the deme's\n"
    "best and diverse members with their sources and failing cases), runs CMD\n"
    "with /bin/sh -c, the bundle JSON on its stdin, and submits what CMD prints on\n"
    "stdout as a child module with operator `external`, its parents, the mutator's\n"
    "name and the bundle's hash (POST /v1/populations/POP/genomes). The parents are\n"
    "the bundle's first two, unless the answer has a comment line naming 1 or 2 of\n"
    "the bundle's parents: `%% petri-parents: HASH[,HASH]` (`# ...` in Elixir).\n"
    "\n"
    "  --command CMD      the mutator (required)\n"
    "  --name NAME        its name in the lineage, [a-z0-9_.-]{1,32}\n"
    "                     (default: the command's basename)\n"
    "  --concurrency N    commands running at once (default 1, at most 64)\n"
    "  --rate R           bundles per second at most (default: no limit)\n"
    "  --count N          children to submit, then stop (default: until SIGINT/SIGTERM)\n"
    "  --timeout S        seconds per command (default 60); then its process group\n"
    "                     is killed\n"
    "  --max-bytes B      largest answer (default 65536, at most 1048576)\n"
    "  --members K        parents in each bundle (default 4, at most 16)\n"
    "  --deme D           take bundles from deme D only (default: a random deme)\n"
    "  --live             POPULATION is a live population (petri live): each bundle\n"
    "                     (GET /v1/live/POP/bundle) holds one idle individual's\n"
    "                     running source, live fitness, last upgrades and a sample\n"
    "                     of the trace; the answer upgrades that individual in\n"
    "                     place (POST .../individuals/I/upgrade), judged over its\n"
    "                     probation and rolled back when worse\n"
    "\n"
    "An empty, non-UTF-8, too big or late answer is recorded in the lineage as a\n"
    "failure (status parse_error, or timeout when late) with at most its first 4096\n"
    "bytes; anything else is scored by the cluster like any genome (garbage gets\n"
    "parse_error, a forbidden call unsafe). Progress goes to stderr; one line per\n"
    "child on stdout (a JSON object with --json). Exit 0 on a clean stop (--count\n"
    "reached, SIGINT/SIGTERM, the population stopped); 1 the coordinator cannot be\n"
    "reached or the population is unknown; 2 bad usage or a refused token.\n";

/* ---- settings ---- */

static int parse_long(const char *s, long lo, long hi, long *out)
{
    int64_t v;
    if (!s || util_parse_i64(s, &v) != 0 || v < lo || v > hi)
        return -1;
    *out = (long)v;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || errno || end == s || *end || !(v >= lo) || !(v <= hi))
        return -1;
    *out = v;
    return 0;
}

/* The i-th blank-separated word of s into out[cap] (empty when absent). */
static void word_at(const char *s, int i, char *out, size_t cap)
{
    out[0] = '\0';
    for (int w = 0; *s; w++) {
        s += strspn(s, " \t");
        size_t n = strcspn(s, " \t");
        if (n == 0)
            return;
        if (w == i) {
            snprintf(out, cap, "%.*s", (int)(n < cap - 1 ? n : cap - 1), s);
            return;
        }
        s += n;
    }
}

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

void cli_mutate_default_name(const char *command, char out[MUTATE_NAME_MAX + 1])
{
    static const char *const interp[] = {"sh",      "bash", "dash", "env",  "python",
                                         "python3", "node", "perl", "ruby", NULL};
    char word[256], next[256];
    word_at(command ? command : "", 0, word, sizeof word);
    word_at(command ? command : "", 1, next, sizeof next);
    for (int k = 0; interp[k]; k++)
        if (!strcmp(base_name(word), interp[k]) && next[0] && next[0] != '-')
            memcpy(word, next, sizeof word);
    const char *base = base_name(word);
    size_t n = 0;
    for (; *base && n < MUTATE_NAME_MAX; base++) {
        char ch = *base;
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
              ch == '-'))
            ch = '-';
        out[n++] = ch;
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, MUTATE_NAME_MAX + 1, "external");
}

int cli_mutate_settings(const cli_args_t *a, cli_mutate_cfg_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->concurrency = 1;
    out->timeout_s = MUTATE_DEFAULT_TIMEOUT_S;
    out->max_bytes = MUTATE_DEFAULT_MAX_BYTES;
    out->members = MUTATE_DEFAULT_MEMBERS;
    out->deme = -1;
    long v;
    if (!a->command || !a->command[0]) {
        snprintf(err, errlen, "--command CMD is required");
        return CLI_USAGE;
    }
    out->command = a->command;
    if (a->name) {
        size_t n = strlen(a->name), ok = n >= 1 && n <= MUTATE_NAME_MAX;
        for (const char *c = a->name; ok && *c; c++)
            ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' ||
                 *c == '-';
        if (!ok) {
            snprintf(err, errlen, "--name: '%.40s' is not 1..%d characters of [a-z0-9_.-]", a->name,
                     MUTATE_NAME_MAX);
            return CLI_USAGE;
        }
        snprintf(out->name, sizeof out->name, "%s", a->name);
    } else {
        cli_mutate_default_name(a->command, out->name);
    }
    if (a->concurrency) {
        if (parse_long(a->concurrency, 1, MUTATE_MAX_CONCURRENCY, &v) != 0) {
            snprintf(err, errlen, "--concurrency: '%.40s' is not an integer in [1, %d]",
                     a->concurrency, MUTATE_MAX_CONCURRENCY);
            return CLI_USAGE;
        }
        out->concurrency = (int)v;
    }
    if (a->rate && parse_double(a->rate, 1e-6, 1e6, &out->rate) != 0) {
        snprintf(err, errlen,
                 "--rate: '%.40s' is not a number of bundles per second in "
                 "(0, 1000000]",
                 a->rate);
        return CLI_USAGE;
    }
    if (a->count && parse_long(a->count, 1, 1000000000L, &out->count) != 0) {
        snprintf(err, errlen, "--count: '%.40s' is not an integer in [1, 1000000000]", a->count);
        return CLI_USAGE;
    }
    if (a->timeout_s > 0)
        out->timeout_s = a->timeout_s;
    if (a->max_bytes &&
        parse_long(a->max_bytes, 1, (long)MUTATE_MAX_MAX_BYTES, &out->max_bytes) != 0) {
        snprintf(err, errlen, "--max-bytes: '%.40s' is not an integer in [1, %u]", a->max_bytes,
                 MUTATE_MAX_MAX_BYTES);
        return CLI_USAGE;
    }
    if (a->members) {
        if (parse_long(a->members, 1, MUTATE_MAX_MEMBERS, &v) != 0) {
            snprintf(err, errlen, "--members: '%.40s' is not an integer in [1, %d]", a->members,
                     MUTATE_MAX_MEMBERS);
            return CLI_USAGE;
        }
        out->members = (int)v;
    }
    if (a->deme && parse_long(a->deme, 0, 255, &out->deme) != 0) {
        snprintf(err, errlen, "--deme: '%.40s' is not an integer in [0, 255]", a->deme);
        return CLI_USAGE;
    }
    return 0;
}

/* ---- one running command ---- */

typedef struct slot {
    pid_t pid; /* 0 = idle */
    int in_fd, out_fd;
    char *bundle; /* the bundle's JSON text, written to stdin */
    size_t bundle_len, written;
    char bundle_hash[65];
    char parents[2][65]; /* the bundle's first two parents */
    int nparents;
    json_t *parent_list; /* every parent hash of the bundle */
    char language[16];
    char submit[700]; /* --live: the individual's upgrade path the bundle names */
    char *out;
    size_t out_len, out_cap;
    int too_big, status_set, exit_status;
    uint64_t started_ms, deadline_ms;
} slot_t;

typedef struct mut {
    cli_t *c;
    cli_mutate_cfg_t cfg;
    const char *pop;
    char path_bundle[700], path_submit[700];
    slot_t slots[MUTATE_MAX_CONCURRENCY];
    uint64_t handled, submitted, ok, failed, started_ms, next_fetch_ms, last_progress_ms;
    int done;    /* stop fetching (count reached, stop, population not running) */
    int exit_rc; /* the exit code once done */
} mut_t;

static void slot_reset(slot_t *s)
{
    if (s->in_fd >= 0)
        close(s->in_fd);
    if (s->out_fd >= 0)
        close(s->out_fd);
    free(s->bundle);
    free(s->out);
    json_decref(s->parent_list);
    memset(s, 0, sizeof *s);
    s->in_fd = s->out_fd = -1;
}

/* Kills a command's process group and reaps it. */
static void slot_kill(slot_t *s)
{
    if (s->pid > 0) {
        kill(-s->pid, SIGKILL);
        int st;
        while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
            ;
        s->pid = 0;
    }
}

static int spawn(mut_t *m, slot_t *s)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0)
        return -errno;
    if (pipe2(out, O_CLOEXEC) != 0) {
        int e = -errno;
        close(in[0]);
        close(in[1]);
        return e;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = -errno;
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        return e;
    }
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        dup2(in[0], 0);
        dup2(out[1], 1);
        setenv("PETRI_POPULATION", m->pop, 1);
        setenv("PETRI_BUNDLE_HASH", s->bundle_hash, 1);
        execl("/bin/sh", "sh", "-c", m->cfg.command, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid); /* both sides, so that a kill never misses the group */
    close(in[0]);
    close(out[1]);
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    s->pid = pid;
    s->in_fd = in[1];
    s->out_fd = out[0];
    s->started_ms = mono_ms();
    s->deadline_ms = s->started_ms + (uint64_t)(m->cfg.timeout_s * 1000.0);
    return 0;
}

/* ---- the API ---- */

/* Fetches a bundle into slot s. 0 = got one; 1 = none yet (retry later);
 * or an exit code when the loop must stop (*fatal set). */
static int fetch_bundle(mut_t *m, slot_t *s, int *fatal)
{
    client_opts_t o = m->c->co;
    o.progress = NULL;
    char err[512];
    long st = 0;
    char *text = NULL;
    size_t len = 0;
    int rc = client_call_raw(&o, "GET", m->path_bundle, NULL, 0, &st, &text, &len, err, sizeof err);
    if (rc != 0) {
        cli_errf("%s", err);
        *fatal = 1;
        return cli_exit_for_error(rc);
    }
    json_error_t je;
    json_t *b = json_loadb(text, len, 0, &je);
    const char *state = json_string_value(json_object_get(b, "state"));
    if ((st == 409 || st == 200) && state && strcmp(state, "running") != 0) {
        fprintf(stderr, "petri mutate: population %s is %s; stopping\n", m->pop, state);
        json_decref(b);
        free(text);
        *fatal = 1; /* a clean stop */
        return CLI_OK;
    }
    if (st == 409) {
        json_decref(b);
        free(text);
        return 1; /* no member yet */
    }
    if (st != 200) {
        cli_errf("bundle: %s (HTTP %ld)", err, st);
        json_decref(b);
        free(text);
        *fatal = 1;
        return st == 404 ? CLI_FAIL : cli_exit_for_status(st);
    }
    const char *h = json_string_value(json_object_get(b, "bundle_hash"));
    char mine[65];
    if (!b || !h || api_bundle_hash(b, mine) != 0 || strcmp(mine, h) != 0) {
        cli_errf("bundle: the coordinator's answer is not a bundle whose bundle_hash matches "
                 "its bytes");
        json_decref(b);
        free(text);
        *fatal = 1;
        return CLI_FAIL;
    }
    snprintf(s->bundle_hash, sizeof s->bundle_hash, "%s", h);
    const char *sub = json_string_value(json_object_get(b, "submit"));
    s->submit[0] = '\0';
    if (m->c->a.live) {
        char want[600];
        snprintf(want, sizeof want, "/v1/live/%s/individuals/", m->pop);
        if (!sub || strncmp(sub, want, strlen(want)) != 0 || strlen(sub) >= sizeof s->submit) {
            cli_errf("bundle: a live bundle names no upgrade path of %s", m->pop);
            json_decref(b);
            free(text);
            *fatal = 1;
            return CLI_FAIL;
        }
        snprintf(s->submit, sizeof s->submit, "%s", sub);
    }
    const char *lang = json_string_value(json_object_get(json_object_get(b, "spec"), "language"));
    snprintf(s->language, sizeof s->language, "%s", lang ? lang : "erlang");
    s->parent_list = json_array();
    const json_t *ps = json_object_get(b, "parents");
    for (size_t i = 0; i < json_array_size(ps); i++) {
        const char *ph = json_string_value(json_object_get(json_array_get(ps, i), "hash"));
        if (!ph || strlen(ph) != 64)
            continue;
        json_array_append_new(s->parent_list, json_string(ph));
        if (s->nparents < 2)
            snprintf(s->parents[s->nparents++], 65, "%s", ph);
    }
    json_decref(b);
    s->bundle = text;
    s->bundle_len = len;
    return 0;
}

/* A `petri-parents:` comment naming 1..2 of the bundle's parents overrides
 * the default parents. */
static void parents_from_answer(slot_t *s)
{
    const char *tag = memmem(s->out, s->out_len, PARENTS_TAG, strlen(PARENTS_TAG));
    if (!tag)
        return;
    const char *p = tag + strlen(PARENTS_TAG), *end = s->out + s->out_len;
    char got[2][65];
    int n = 0;
    while (p < end && *p != '\n' && n < 2) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        size_t k = 0;
        while (p + k < end && k < 64 && strchr("0123456789abcdef", p[k]) && p[k])
            k++;
        if (k != 64)
            break;
        memcpy(got[n], p, 64);
        got[n][64] = '\0';
        int known = 0;
        for (size_t i = 0; i < json_array_size(s->parent_list); i++)
            known |= !strcmp(json_string_value(json_array_get(s->parent_list, i)), got[n]);
        if (!known) { /* only the bundle's own parents */
            fprintf(stderr,
                    "petri mutate: the answer names %.16s... as a parent, not one of the "
                    "bundle's; its first two are recorded instead\n",
                    got[n]);
            return;
        }
        n++;
        p += 64;
    }
    if (n == 0)
        return;
    s->nparents = n;
    for (int i = 0; i < n; i++)
        memcpy(s->parents[i], got[i], 65);
}

/* Submits the slot's answer (or its failure). Returns 0, or an exit code
 * when the loop must stop (*fatal). */
static int submit(mut_t *m, slot_t *s, const char *failure, int *fatal)
{
    double secs = (double)(mono_ms() - s->started_ms) / 1000.0;
    size_t keep = s->out_len;
    if (failure && keep > FAILURE_MAX_BYTES)
        keep = FAILURE_MAX_BYTES;
    if (!failure)
        parents_from_answer(s);
    json_t *req = json_object();
    json_t *src = json_stringn(s->out ? s->out : "", keep);
    if (!src && !failure) {
        failure = "not_text"; /* not UTF-8: no JSON string carries it to the cluster */
        keep = s->out_len < FAILURE_MAX_BYTES ? s->out_len : FAILURE_MAX_BYTES;
    }
    if (!src) /* keep the valid UTF-8 prefix of a failure's bytes */
        for (; keep > 0 && !(src = json_stringn(s->out, keep)); keep--)
            ;
    json_object_set_new(req, "source", src ? src : json_string(""));
    json_object_set_new(req, "language", json_string(s->language));
    json_object_set_new(req, "mutator", json_string(m->cfg.name));
    json_object_set_new(req, "input_hash", json_string(s->bundle_hash));
    json_t *par = json_array();
    for (int i = 0; i < s->nparents; i++)
        json_array_append_new(par, json_string(s->parents[i]));
    json_object_set_new(req, "parents", par);
    if (failure)
        json_object_set_new(req, "failure", json_string(failure));
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    client_opts_t o = m->c->co;
    o.progress = NULL; /* a submission is never cut short (invariant 1) */
    o.timeout_ms = SUBMIT_TIMEOUT_MS;
    char err[512];
    long st = 0;
    json_t *ack = NULL;
    int rc = client_call(&o, "POST", s->submit[0] ? s->submit : m->path_submit, body,
                         body ? strlen(body) : 0, &st, &ack, err, sizeof err);
    free(body);
    if (rc == 0 && st == 413 && !failure) {
        /* over the coordinator's [http] max_body_bytes: too big after all */
        json_decref(ack);
        return submit(m, s, "too_big", fatal);
    }
    const char *hash = json_string_value(json_object_get(ack, "hash"));
    int accepted = rc == 0 && st == 202 && hash;
    m->submitted += accepted;
    if (accepted && !failure)
        m->ok++;
    else
        m->failed++;
    const char *outcome = !accepted ? "rejected" : failure ? failure : "submitted";
    if (m->c->a.json) {
        json_t *line = json_pack(
            "{s:I, s:s, s:o, s:s, s:I, s:f, s:i, s:s, s:s}", "n", (json_int_t)++m->handled,
            "outcome", outcome, "hash", hash ? json_string(hash) : json_null(), "bundle_hash",
            s->bundle_hash, "bytes", (json_int_t)s->out_len, "seconds", secs, "exit_status",
            s->exit_status, "mutator", m->cfg.name, "population", m->pop);
        json_object_set(line, "parents", json_object_get(ack, "parents"));
        json_object_set(line, "deme", json_object_get(ack, "deme"));
        json_object_set(line, "dseq", json_object_get(ack, "dseq"));
        if (!accepted)
            json_object_set_new(line, "error", json_string(rc ? err : err[0] ? err : "no hash"));
        cli_put_json(line, 1);
        json_decref(line);
    } else {
        printf("%-10s %.12s  %zu bytes  %.2f s%s%s\n", outcome, hash ? hash : "-", s->out_len, secs,
               accepted ? "" : "  ", accepted ? "" : err);
        fflush(stdout);
    }
    int ret = 0;
    if (rc != 0) {
        cli_errf("submit: %s", err);
        *fatal = 1;
        ret = cli_exit_for_error(rc);
    } else if (st == 409 && m->c->a.live) {
        cli_errf("submit: %s (HTTP 409)", err); /* the individual took another child first */
    } else if (st == 409) {
        fprintf(stderr, "petri mutate: %s; stopping\n", err);
        *fatal = 1; /* the population stopped running: a clean stop */
    } else if (st == 401 || st == 404) {
        cli_errf("submit: %s (HTTP %ld)%s", err, st,
                 st == 401 ? " (pass the coordinator's API token with --token, --token-file or "
                             "PETRI_TOKEN)"
                           : "");
        *fatal = 1;
        ret = st == 404 ? CLI_FAIL : CLI_USAGE;
    } else if (!accepted) {
        cli_errf("submit: %s (HTTP %ld)", err[0] ? err : "no genome hash", st);
    }
    json_decref(ack);
    return ret;
}

/* ---- the loop ---- */

static void progress(mut_t *m, int force)
{
    uint64_t now = mono_ms();
    if (!force && now - m->last_progress_ms < PROGRESS_MS)
        return;
    m->last_progress_ms = now;
    double el = (double)(now - m->started_ms) / 1000.0;
    fprintf(stderr, "petri mutate: %llu submitted, %llu ok, %llu failed, %.2f/s\n",
            (unsigned long long)m->submitted, (unsigned long long)m->ok,
            (unsigned long long)m->failed, el > 0 ? (double)(m->submitted) / el : 0.0);
}

/* Finishes slot s: its command has closed stdout (or must be stopped). */
static void finish(mut_t *m, slot_t *s, const char *failure)
{
    if (s->pid > 0) {
        if (failure) {
            slot_kill(s);
        } else {
            /* stdout is closed: the answer is whole. A command that lingers
             * past EXIT_GRACE_MS after that is killed, not waited for. */
            int st = 0;
            pid_t r = 0;
            for (int i = 0; i <= EXIT_GRACE_MS && (r = waitpid(s->pid, &st, WNOHANG)) == 0; i++)
                cli_sleep_ms(1);
            kill(-s->pid, SIGKILL); /* whatever it left behind in its group */
            if (r == 0)
                while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
                    ;
            s->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            s->pid = 0;
        }
    }
    if (!failure && s->out_len == 0)
        failure = "empty";
    int fatal = 0;
    if (!m->done && (!m->cfg.count || (long)m->submitted < m->cfg.count)) {
        int rc = submit(m, s, failure, &fatal);
        if (fatal) {
            m->done = 1;
            m->exit_rc = rc;
        }
    }
    if (m->cfg.count && (long)m->submitted >= m->cfg.count)
        m->done = 1;
    slot_reset(s);
    progress(m, 0);
}

static void on_output(mut_t *m, slot_t *s)
{
    for (;;) {
        if (s->out_cap - s->out_len < 4096) {
            size_t ncap = s->out_cap ? s->out_cap * 2 : 8192;
            char *n = realloc(s->out, ncap);
            if (!n) {
                finish(m, s, "too_big");
                return;
            }
            s->out = n;
            s->out_cap = ncap;
        }
        ssize_t r = read(s->out_fd, s->out + s->out_len, s->out_cap - s->out_len);
        if (r > 0) {
            s->out_len += (size_t)r;
            if (s->out_len > (size_t)m->cfg.max_bytes) {
                finish(m, s, "too_big");
                return;
            }
            continue;
        }
        if (r == 0) {
            finish(m, s, NULL);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            finish(m, s, NULL);
        return;
    }
}

static void on_input(slot_t *s)
{
    while (s->written < s->bundle_len) {
        ssize_t w = write(s->in_fd, s->bundle + s->written, s->bundle_len - s->written);
        if (w > 0) {
            s->written += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            return;
        break; /* EPIPE: the command does not read its input; fine */
    }
    close(s->in_fd);
    s->in_fd = -1;
}

/* Starts a command in every idle slot the rate allows. */
static void start_slots(mut_t *m)
{
    for (int i = 0; i < m->cfg.concurrency && !m->done && !cli_stop; i++) {
        slot_t *s = &m->slots[i];
        if (s->pid)
            continue;
        long running = 0;
        for (int k = 0; k < m->cfg.concurrency; k++)
            running += m->slots[k].pid != 0;
        if (m->cfg.count && (long)m->submitted + running >= m->cfg.count)
            return;
        uint64_t now = mono_ms();
        if (now < m->next_fetch_ms)
            return;
        int fatal = 0;
        int rc = fetch_bundle(m, s, &fatal);
        if (fatal) {
            slot_reset(s);
            m->done = 1;
            m->exit_rc = rc;
            return;
        }
        if (rc == 1) {
            slot_reset(s);
            m->next_fetch_ms = now + RETRY_MS;
            return;
        }
        if (m->cfg.rate > 0)
            m->next_fetch_ms = now + (uint64_t)(1000.0 / m->cfg.rate);
        rc = spawn(m, s);
        if (rc != 0) {
            cli_errf("cannot start the command: %s", err_str(rc));
            slot_reset(s);
            m->done = 1;
            m->exit_rc = CLI_FAIL;
            return;
        }
        on_input(s);
    }
}

static int run(mut_t *m)
{
    for (int i = 0; i < MUTATE_MAX_CONCURRENCY; i++)
        m->slots[i].in_fd = m->slots[i].out_fd = -1;
    m->started_ms = mono_ms();
    m->last_progress_ms = m->started_ms;
    for (;;) {
        start_slots(m);
        struct pollfd pf[2 * MUTATE_MAX_CONCURRENCY];
        slot_t *who[2 * MUTATE_MAX_CONCURRENCY];
        int n = 0, running = 0;
        uint64_t now = mono_ms(), wake = now + PROGRESS_MS;
        for (int i = 0; i < m->cfg.concurrency; i++) {
            slot_t *s = &m->slots[i];
            if (!s->pid)
                continue;
            running++;
            if (s->deadline_ms < wake)
                wake = s->deadline_ms;
            pf[n] = (struct pollfd){.fd = s->out_fd, .events = POLLIN};
            who[n++] = s;
            if (s->in_fd >= 0) {
                pf[n] = (struct pollfd){.fd = s->in_fd, .events = POLLOUT};
                who[n++] = s;
            }
        }
        if (cli_stop || m->done)
            break;
        if (m->next_fetch_ms > now && m->next_fetch_ms < wake)
            wake = m->next_fetch_ms;
        int ms = wake > now ? (int)(wake - now) : 0;
        int r = poll(pf, (nfds_t)n, ms);
        if (r < 0 && errno != EINTR)
            break;
        /* output before deadlines: an answer that arrived is not late */
        for (int k = 0; r > 0 && k < n; k++) {
            if (!pf[k].revents || !who[k]->pid)
                continue;
            if (pf[k].fd == who[k]->in_fd)
                on_input(who[k]);
            else if (pf[k].fd == who[k]->out_fd)
                on_output(m, who[k]);
        }
        now = mono_ms();
        for (int i = 0; i < m->cfg.concurrency && !cli_stop; i++) {
            slot_t *s = &m->slots[i];
            if (s->pid && now >= s->deadline_ms)
                finish(m, s, "timeout");
        }
        progress(m, 0);
    }
    /* stop: running commands are killed, their answers dropped (invariant 2) */
    for (int i = 0; i < MUTATE_MAX_CONCURRENCY; i++) {
        slot_kill(&m->slots[i]);
        slot_reset(&m->slots[i]);
    }
    progress(m, 1);
    return m->exit_rc;
}

int cli_cmd_mutate(cli_t *c)
{
    if (c->a.help) {
        fputs(help_mutate, stdout);
        return CLI_OK;
    }
    char err[256];
    unsigned allowed = CLI_O_COMMAND | CLI_O_NAME | CLI_O_CONCURRENCY | CLI_O_RATE | CLI_O_COUNT |
                       CLI_O_TIMEOUT | CLI_O_MAX_BYTES | CLI_O_MEMBERS | CLI_O_DEME | CLI_O_LIVE;
    if (cli_args_allow(&c->a, allowed, "mutate", err, sizeof err))
        return cli_usagef("mutate ", "%s", err);
    if (c->a.npos != 2)
        return cli_usagef("mutate ", "expected one POPULATION");
    mut_t *m = calloc(1, sizeof *m);
    if (!m) {
        cli_errf("out of memory");
        return CLI_FAIL;
    }
    m->c = c;
    m->pop = c->a.pos[1];
    if (cli_mutate_settings(&c->a, &m->cfg, err, sizeof err) != 0) {
        free(m);
        return cli_usagef("mutate ", "%s", err);
    }
    char seg[512];
    cli_url_seg(m->pop, seg, sizeof seg);
    if (c->a.live)
        snprintf(m->path_bundle, sizeof m->path_bundle, "/v1/live/%s/bundle", seg);
    else if (m->cfg.deme >= 0)
        snprintf(m->path_bundle, sizeof m->path_bundle,
                 "/v1/populations/%s/bundle?members=%d&deme=%ld", seg, m->cfg.members, m->cfg.deme);
    else
        snprintf(m->path_bundle, sizeof m->path_bundle, "/v1/populations/%s/bundle?members=%d", seg,
                 m->cfg.members);
    snprintf(m->path_submit, sizeof m->path_submit, "/v1/populations/%s/genomes", seg);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN; /* a command that stops reading its input */
    sigaction(SIGPIPE, &sa, &old);
    int rc = run(m);
    sigaction(SIGPIPE, &old, NULL);
    free(m);
    return rc;
}
