/* cli_live_fmt.c - text views of live populations for `petri live ls` and
 * `petri live show`: the populations table, individuals, versions tables
 * and the live fitness as a sparkline. Every string from the API goes
 * through a table (control characters replaced) or clean() first. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_int.h"

#define REASON_MAX 96 /* bytes of a reason in a versions table */

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* s (NULL = "-") with control characters as '?', at most cap - 1 bytes cut
 * on a UTF-8 boundary ("..." marks a cut when ellipsis is set). */
static const char *clean(const char *s, char *out, size_t cap, int ellipsis)
{
    if (!s || !*s)
        s = "-";
    size_t n = strlen(s), keep = n;
    if (keep > cap - 1) {
        keep = cap - 1 - (ellipsis ? 3 : 0);
        while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
            keep--;
    }
    for (size_t i = 0; i < keep; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    if (keep < n && ellipsis)
        memcpy(out + keep, "...", 3), keep += 3;
    out[keep] = '\0';
    return out;
}

static const char *score(const json_t *v, char *out, size_t cap)
{
    if (json_is_number(v) && isfinite(json_number_value(v)))
        snprintf(out, cap, "%.4f", json_number_value(v));
    else
        snprintf(out, cap, "-");
    return out;
}

static const char *clock_ms(const json_t *v, char *out, size_t cap)
{
    double t = json_is_number(v) ? json_number_value(v) : -1;
    if (t > 0) {
        time_t ts = (time_t)(t / 1000);
        struct tm tm;
        localtime_r(&ts, &tm);
        strftime(out, cap, "%H:%M:%S", &tm);
    } else {
        snprintf(out, cap, "-");
    }
    return out;
}

void cli_print_lives(FILE *f, const json_t *doc)
{
    static const char *const hdr[] = {"NAME",     "STATE",       "INDIVIDUALS", "UPGRADES",
                                      "PROMOTED", "ROLLED BACK", "REFUSED",     "BEST"};
    cli_table_t *t = cli_table_new(8, hdr);
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(doc, "live"), i, p)
    {
        char v[6][32];
        const char *row[8] = {str(p, "name"),
                              str(p, "state"),
                              cli_fmt_value(json_object_get(p, "individuals"), v[0], 32),
                              cli_fmt_value(json_object_get(p, "upgrades"), v[1], 32),
                              cli_fmt_value(json_object_get(p, "promoted"), v[2], 32),
                              cli_fmt_value(json_object_get(p, "rolled_back"), v[3], 32),
                              cli_fmt_value(json_object_get(p, "refused"), v[4], 32),
                              score(json_object_get(p, "best_fitness"), v[5], 32)};
        cli_table_row(t, row);
    }
    cli_table_print(f, t, "");
    cli_table_destroy(&t);
}

void cli_print_live_versions(FILE *f, const json_t *versions, size_t last, const char *indent)
{
    static const char *const hdr[] = {"VERSION",     "PARENT", "OP",   "OUTCOME", "PARENT SCORE",
                                      "CHILD SCORE", "SEQ",    "HASH", "AT",      "REASON"};
    size_t n = json_array_size(versions), from = last > 0 && n > last ? n - last : 0;
    if (n == 0) {
        fprintf(f, "%sno versions yet\n", indent);
        return;
    }
    cli_table_t *t = cli_table_new(10, hdr);
    for (size_t i = from; i < n; i++) {
        const json_t *v = json_array_get(versions, i);
        char ver[32], par[32], op[80], ps[32], cs[32], seq[32], hash[16], at[32], why[REASON_MAX];
        const char *mut = str(v, "mutator");
        if (mut && *mut)
            snprintf(op, sizeof op, "%s:%s", str(v, "op") ? str(v, "op") : "?", mut);
        else
            snprintf(op, sizeof op, "%s", str(v, "op") ? str(v, "op") : "-");
        const char *row[10] = {cli_fmt_value(json_object_get(v, "version"), ver, sizeof ver),
                               cli_fmt_value(json_object_get(v, "parent"), par, sizeof par),
                               op,
                               str(v, "outcome"),
                               score(json_object_get(v, "parent_score"), ps, sizeof ps),
                               score(json_object_get(v, "child_score"), cs, sizeof cs),
                               cli_fmt_value(json_object_get(v, "seq"), seq, sizeof seq),
                               cli_short(str(v, "hash"), 12, hash, sizeof hash),
                               clock_ms(json_object_get(v, "at_ms"), at, sizeof at),
                               str(v, "reason") && *str(v, "reason")
                                   ? clean(str(v, "reason"), why, sizeof why, 1)
                                   : ""};
        cli_table_row(t, row);
    }
    cli_table_print(f, t, indent);
    cli_table_destroy(&t);
}

static void print_header(FILE *f, const json_t *pop)
{
    char name[128], state[32], v[5][32];
    fprintf(f, "live population %s  %s", clean(str(pop, "name"), name, sizeof name, 1),
            clean(str(pop, "state"), state, sizeof state, 1));
    if (json_is_integer(json_object_get(pop, "upgrade_every_ms")))
        fprintf(f, "  upgrade every %s ms",
                cli_fmt_value(json_object_get(pop, "upgrade_every_ms"), v[0], 32));
    fprintf(f, "\n  upgrades %s: promoted %s, rolled back %s, refused %s\n",
            cli_fmt_value(json_object_get(pop, "upgrades"), v[1], 32),
            cli_fmt_value(json_object_get(pop, "promoted"), v[2], 32),
            cli_fmt_value(json_object_get(pop, "rolled_back"), v[3], 32),
            cli_fmt_value(json_object_get(pop, "refused"), v[4], 32));
}

/* "running", or "running, probation" while a child serves its probation. */
static const char *ind_state(const json_t *ind, char *out, size_t cap)
{
    char s[32];
    clean(str(ind, "state"), s, sizeof s, 1);
    snprintf(out, cap, "%s%s", s,
             json_is_true(json_object_get(ind, "on_probation")) ? ", probation" : "");
    return out;
}

static void print_individuals(FILE *f, const json_t *inds)
{
    static const char *const hdr[] = {"#",       "AGENT",    "STATE", "VERSION", "PINNED",
                                      "FITNESS", "REQUESTS", "WRONG", "FAILED",  "LOST",
                                      "TWICE",   "P50 US",   "P99 US"};
    cli_table_t *t = cli_table_new(13, hdr);
    size_t i;
    const json_t *d;
    json_array_foreach(inds, i, d)
    {
        char v[12][32], st[48];
        const char *row[13] = {cli_fmt_value(json_object_get(d, "index"), v[0], 32),
                               str(d, "agent"),
                               ind_state(d, st, sizeof st),
                               cli_fmt_value(json_object_get(d, "version"), v[1], 32),
                               cli_fmt_value(json_object_get(d, "pinned"), v[2], 32),
                               score(json_object_get(d, "fitness"), v[3], 32),
                               cli_fmt_value(json_object_get(d, "requests"), v[4], 32),
                               cli_fmt_value(json_object_get(d, "wrong"), v[5], 32),
                               cli_fmt_value(json_object_get(d, "failed"), v[6], 32),
                               cli_fmt_value(json_object_get(d, "lost"), v[7], 32),
                               cli_fmt_value(json_object_get(d, "twice"), v[8], 32),
                               cli_fmt_value(json_object_get(d, "latency_p50_us"), v[9], 32),
                               cli_fmt_value(json_object_get(d, "latency_p99_us"), v[10], 32)};
        cli_table_row(t, row);
    }
    cli_table_print(f, t, "  ");
    cli_table_destroy(&t);
}

/* The fitness of each point of a fitness_series ([t_ms, fitness, version]). */
static void print_series(FILE *f, const json_t *series)
{
    size_t n = json_array_size(series);
    if (n == 0)
        return;
    double *v = calloc(n, sizeof *v);
    if (!v)
        return;
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(json_array_get(series, i), 1);
        v[i] = json_is_number(x) ? json_number_value(x) : NAN;
    }
    fprintf(f, "  fitness over the last %zu s  ", n);
    cli_sparkline(f, v, n, 60);
    fputc('\n', f);
    free(v);
}

static void print_individual(FILE *f, const json_t *pop, const json_t *d)
{
    char name[128], agent[128], st[48], v[10][32], why[512];
    fprintf(f, "individual %s of %s  %s on %s  version %s",
            cli_fmt_value(json_object_get(d, "index"), v[0], 32),
            clean(str(pop, "name"), name, sizeof name, 1), ind_state(d, st, sizeof st),
            clean(str(d, "agent"), agent, sizeof agent, 1),
            cli_fmt_value(json_object_get(d, "version"), v[1], 32));
    if (json_is_integer(json_object_get(d, "pinned")))
        fprintf(f, "  (pinned at %s)", cli_fmt_value(json_object_get(d, "pinned"), v[2], 32));
    fprintf(f, "\n  live fitness %s\n", score(json_object_get(d, "fitness"), v[3], 32));
    print_series(f, json_object_get(d, "fitness_series"));
    fprintf(f, "  requests %s: correct %s, wrong %s, failed %s; lost %s, answered twice %s\n",
            cli_fmt_value(json_object_get(d, "requests"), v[4], 32),
            cli_fmt_value(json_object_get(d, "correct"), v[5], 32),
            cli_fmt_value(json_object_get(d, "wrong"), v[6], 32),
            cli_fmt_value(json_object_get(d, "failed"), v[7], 32),
            cli_fmt_value(json_object_get(d, "lost"), v[8], 32),
            cli_fmt_value(json_object_get(d, "twice"), v[9], 32));
    fprintf(f, "  latency p50 %s us, p99 %s us\n",
            cli_fmt_value(json_object_get(d, "latency_p50_us"), v[0], 32),
            cli_fmt_value(json_object_get(d, "latency_p99_us"), v[1], 32));
    const char *r = str(d, "reason");
    if (r && *r)
        fprintf(f, "  last failure: %s\n", clean(r, why, sizeof why, 1));
    const json_t *vs = json_object_get(d, "versions");
    fprintf(f, "  versions (%zu)\n", json_array_size(vs));
    cli_print_live_versions(f, vs, 0, "    ");
}

int cli_print_live(FILE *f, const json_t *pop, long index)
{
    const json_t *inds = json_object_get(pop, "individuals");
    size_t i;
    const json_t *d;
    if (index >= 0) {
        json_array_foreach(inds, i, d)
        {
            const json_t *ix = json_object_get(d, "index");
            if (json_is_integer(ix) ? json_integer_value(ix) == index : (long)i == index) {
                print_individual(f, pop, d);
                return 0;
            }
        }
        return -1;
    }
    print_header(f, pop);
    if (json_array_size(inds) == 0) {
        fprintf(f, "  no individuals\n");
        return 0;
    }
    print_individuals(f, inds);
    json_array_foreach(inds, i, d)
    {
        char why[512], ix[32];
        const char *r = str(d, "reason");
        cli_fmt_value(json_object_get(d, "index"), ix, sizeof ix);
        if (r && *r)
            fprintf(f, "  individual %s: %s\n", ix, clean(r, why, sizeof why, 1));
    }
    json_array_foreach(inds, i, d)
    {
        char agent[128], ix[32], name[128];
        const json_t *vs = json_object_get(d, "versions");
        cli_fmt_value(json_object_get(d, "index"), ix, sizeof ix);
        fprintf(f, "  individual %s on %s: ", ix, clean(str(d, "agent"), agent, sizeof agent, 1));
        if (json_array_size(vs) > LIVE_SHOW_VERSIONS)
            fprintf(f, "last %d of %zu versions (all: petri live show %s %s)\n", LIVE_SHOW_VERSIONS,
                    json_array_size(vs), clean(str(pop, "name"), name, sizeof name, 1), ix);
        else
            fprintf(f, "versions\n");
        cli_print_live_versions(f, vs, LIVE_SHOW_VERSIONS, "    ");
    }
    return 0;
}
