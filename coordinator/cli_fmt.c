/* cli_fmt.c - text rendering for the `petri` commands: tables, values,
 * sparklines and histograms in Unicode block characters, and the views of
 * members, populations, genomes, lineage trees and verify reports. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_int.h"

static const char *const spark_blocks[8] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
static const char *const eighths[8] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};

/* Display cells of a UTF-8 string (one per code point). */
static size_t cells(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static void pad(FILE *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fputc(' ', f);
}

/* ---- tables ---- */

struct cli_table {
    size_t ncols, nrows, cap;
    char **cell; /* (nrows + 1) * ncols, row 0 = headers */
};

cli_table_t *cli_table_new(size_t ncols, const char *const *headers)
{
    cli_table_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = ncols;
    cli_table_row(t, headers);
    return t;
}

void cli_table_row(cli_table_t *t, const char *const *row)
{
    if (!t)
        return;
    if (t->nrows == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 16;
        char **ncell = realloc(t->cell, nc * t->ncols * sizeof *ncell);
        if (!ncell)
            return;
        t->cell = ncell;
        t->cap = nc;
    }
    for (size_t i = 0; i < t->ncols; i++) {
        const char *s = row[i] ? row[i] : "-";
        /* control characters from the network never reach the terminal */
        char *d = strdup(s);
        for (char *p = d; p && *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
        t->cell[t->nrows * t->ncols + i] = d;
    }
    t->nrows++;
}

void cli_table_print(FILE *f, const cli_table_t *t, const char *indent)
{
    if (!t)
        return;
    size_t w[32] = {0};
    size_t nc = t->ncols < 32 ? t->ncols : 32;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t i = 0; i < nc; i++) {
            const char *s = t->cell[r * t->ncols + i];
            size_t n = s ? cells(s) : 1;
            if (n > w[i])
                w[i] = n;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        fputs(indent ? indent : "", f);
        size_t used = nc; /* empty trailing cells leave no trailing blanks */
        while (used > 1 && t->cell[r * t->ncols + used - 1] && !t->cell[r * t->ncols + used - 1][0])
            used--;
        for (size_t i = 0; i < used; i++) {
            const char *s = t->cell[r * t->ncols + i];
            fputs(s ? s : "?", f);
            if (i + 1 < used)
                pad(f, w[i] - (s ? cells(s) : 1) + 2);
        }
        fputc('\n', f);
    }
}

void cli_table_destroy(cli_table_t **tp)
{
    if (!tp || !*tp)
        return;
    cli_table_t *t = *tp;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cell[i]);
    free(t->cell);
    free(t);
    *tp = NULL;
}

/* ---- values ---- */

const char *cli_fmt_value(const json_t *v, char *out, size_t cap)
{
    if (!v || json_is_null(v))
        snprintf(out, cap, "-");
    else if (json_is_integer(v))
        snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, cap, "%.6g", json_real_value(v));
    else if (json_is_string(v))
        snprintf(out, cap, "%s", json_string_value(v));
    else if (json_is_boolean(v))
        snprintf(out, cap, "%s", json_is_true(v) ? "true" : "false");
    else {
        char *s = json_dumps(v, JSON_COMPACT);
        snprintf(out, cap, "%s", s ? s : "?");
        free(s);
    }
    return out;
}

const char *cli_short(const char *s, size_t n, char *out, size_t cap)
{
    if (!s || !*s)
        s = "-";
    size_t len = strlen(s);
    if (len > n)
        len = n;
    if (len >= cap)
        len = cap - 1;
    memcpy(out, s, len);
    out[len] = '\0';
    return out;
}

void cli_fmt_duration(double s, char *out, size_t cap)
{
    if (!(s >= 0))
        s = 0;
    long t = (long)s;
    if (t < 60)
        snprintf(out, cap, "%.1fs", s);
    else if (t < 3600)
        snprintf(out, cap, "%ldm%02lds", t / 60, t % 60);
    else if (t < 86400)
        snprintf(out, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else
        snprintf(out, cap, "%ldd%02ldh", t / 86400, t / 3600 % 24);
}

static double num(const json_t *v, double dflt)
{
    return json_is_number(v) ? json_number_value(v) : dflt;
}

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* ---- sparkline and histogram ---- */

void cli_sparkline(FILE *f, const double *v, size_t n, size_t width)
{
    if (n == 0 || width == 0)
        return;
    size_t nc = n < width ? n : width;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t c = 0; c < nc; c++) {
        double x = v[(c + 1) * n / nc - 1];
        if (isfinite(x)) {
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
        }
    }
    for (size_t c = 0; c < nc; c++) {
        double x = v[(c + 1) * n / nc - 1];
        if (!isfinite(x)) {
            fputc(' ', f);
            continue;
        }
        int lvl = hi > lo ? (int)lround((x - lo) / (hi - lo) * 7.0) : 3;
        fputs(spark_blocks[lvl < 0 ? 0 : lvl > 7 ? 7 : lvl], f);
    }
}

void cli_histogram(FILE *f, double min, double max, const double *counts, size_t n, size_t max_rows,
                   size_t bar_width)
{
    if (n == 0)
        return;
    if (max_rows == 0)
        max_rows = 1;
    size_t k = (n + max_rows - 1) / max_rows;
    size_t rows = (n + k - 1) / k;
    double binw = (max - min) / (double)n;
    double peak = 0;
    for (size_t r = 0; r < rows; r++) {
        double sum = 0;
        for (size_t i = r * k; i < n && i < (r + 1) * k; i++)
            sum += counts[i] > 0 ? counts[i] : 0;
        peak = sum > peak ? sum : peak;
    }
    for (size_t r = 0; r < rows; r++) {
        size_t b0 = r * k, b1 = (r + 1) * k < n ? (r + 1) * k : n;
        double sum = 0;
        for (size_t i = b0; i < b1; i++)
            sum += counts[i] > 0 ? counts[i] : 0;
        long e8 = peak > 0 ? lround(sum / peak * (double)bar_width * 8.0) : 0;
        if (sum > 0 && e8 == 0)
            e8 = 1;
        char range[64];
        snprintf(range, sizeof range, "%.4g .. %.4g", min + (double)b0 * binw,
                 min + (double)b1 * binw);
        fprintf(f, "    %-20s │", range);
        for (long i = 0; i < e8 / 8; i++)
            fputs("█", f);
        fputs(eighths[e8 % 8], f);
        pad(f, bar_width - (size_t)(e8 / 8) - (e8 % 8 ? 1 : 0));
        fprintf(f, " %.0f\n", sum);
    }
}

/* ---- views ---- */

void cli_print_members(FILE *f, const json_t *members)
{
    static const char *const hdr[] = {"NAME", "ID", "ADDR", "STATUS", "INC", "ROLE", "VMS", "LOAD"};
    cli_table_t *t = cli_table_new(8, hdr);
    size_t i;
    const json_t *m;
    json_array_foreach(members, i, m)
    {
        char id[16], inc[32], vms[48], load[32], role[64];
        const json_t *meta = json_object_get(m, "meta");
        const json_t *vh = json_object_get(meta, "vms_healthy"),
                     *vt = json_object_get(meta, "vms_total");
        if (vh || vt) {
            char a[16], b[16];
            snprintf(vms, sizeof vms, "%s/%s", cli_fmt_value(vh, a, sizeof a),
                     cli_fmt_value(vt, b, sizeof b));
        } else {
            snprintf(vms, sizeof vms, "-");
        }
        const json_t *r = json_object_get(m, "role");
        if (!r)
            r = json_object_get(meta, "role");
        const char *row[8] = {str(m, "name"),
                              cli_short(str(m, "id"), 8, id, sizeof id),
                              str(m, "addr"),
                              str(m, "status"),
                              cli_fmt_value(json_object_get(m, "incarnation"), inc, sizeof inc),
                              cli_fmt_value(r, role, sizeof role),
                              vms,
                              cli_fmt_value(json_object_get(meta, "load"), load, sizeof load)};
        cli_table_row(t, row);
    }
    cli_table_print(f, t, "");
    cli_table_destroy(&t);
}

void cli_print_populations(FILE *f, const json_t *pops)
{
    static const char *const hdr[] = {"NAME", "STATE", "EVALS", "EVALS/S", "BEST", "BEST HASH"};
    cli_table_t *t = cli_table_new(6, hdr);
    size_t i;
    const json_t *p;
    json_array_foreach(pops, i, p)
    {
        char ev[32], eps[32], best[32], hash[16];
        const json_t *b = json_object_get(p, "best");
        snprintf(eps, sizeof eps, "%.1f", num(json_object_get(p, "evals_per_s"), 0));
        const char *row[6] = {str(p, "name"),
                              str(p, "state"),
                              cli_fmt_value(json_object_get(p, "evaluations"), ev, sizeof ev),
                              eps,
                              cli_fmt_value(json_object_get(b, "fitness"), best, sizeof best),
                              cli_short(str(b, "hash"), 12, hash, sizeof hash)};
        cli_table_row(t, row);
    }
    cli_table_print(f, t, "");
    cli_table_destroy(&t);
}

/* The numbers under key in each element of arr, as a malloc'd array. */
static double *series(const json_t *arr, const char *key, size_t *n)
{
    *n = json_array_size(arr);
    double *v = calloc(*n ? *n : 1, sizeof *v);
    if (!v) {
        *n = 0;
        return NULL;
    }
    for (size_t i = 0; i < *n; i++)
        v[i] = num(json_object_get(json_array_get(arr, i), key), NAN);
    return v;
}

static void print_source(FILE *f, const char *src, int max_lines, const char *indent)
{
    int line = 0;
    const char *p = src;
    while (*p) {
        if (max_lines > 0 && line >= max_lines) {
            fprintf(f, "%s...\n", indent);
            return;
        }
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        fputs(indent, f);
        for (size_t i = 0; i < len; i++) {
            unsigned char ch = (unsigned char)p[i];
            fputc(ch == '\t' || ch >= 0x20 ? ch : '?', f);
        }
        fputc('\n', f);
        line++;
        p += len + (nl ? 1 : 0);
    }
}

void cli_print_population_n(FILE *f, const json_t *pop, uint64_t now_ms, int max_src_lines)
{
    char v1[64], v2[64], buf[64];
    const json_t *best = json_object_get(pop, "best");
    fprintf(f, "population %s  %s", str(pop, "name") ? str(pop, "name") : "?",
            str(pop, "state") ? str(pop, "state") : "?");
    double started = num(json_object_get(pop, "started_ms"), 0);
    if (started > 1e12) {
        time_t ts = (time_t)(started / 1000);
        struct tm tm;
        localtime_r(&ts, &tm);
        strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(f, "  started %s", buf);
        if (now_ms > started) {
            cli_fmt_duration(((double)now_ms - started) / 1000.0, v1, sizeof v1);
            fprintf(f, " (%s ago)", v1);
        }
    }
    fputc('\n', f);
    fprintf(f, "  evaluations  %s  (%.1f/s)\n",
            cli_fmt_value(json_object_get(pop, "evaluations"), v1, sizeof v1),
            num(json_object_get(pop, "evals_per_s"), 0));
    fprintf(f, "  best         %s  %s\n",
            cli_fmt_value(json_object_get(best, "fitness"), v1, sizeof v1),
            cli_short(str(best, "hash"), 12, v2, sizeof v2));
    fprintf(f, "  mean         %s\n",
            cli_fmt_value(json_object_get(pop, "mean_fitness"), v1, sizeof v1));
    const json_t *div = json_object_get(pop, "diversity");
    if (json_is_object(div)) {
        fprintf(f, "  diversity    %s fitness values (entropy %.2f bits), %s genomes",
                cli_fmt_value(json_object_get(div, "fitness_values"), v1, sizeof v1),
                num(json_object_get(div, "fitness_entropy_bits"), 0),
                cli_fmt_value(json_object_get(div, "genomes"), v2, sizeof v2));
        /* the detail view's "demes" is the list of them */
        if (json_is_integer(json_object_get(div, "collapsed_demes")))
            fprintf(f, "; %s of %zu demes collapsed",
                    cli_fmt_value(json_object_get(div, "collapsed_demes"), v1, sizeof v1),
                    json_array_size(json_object_get(pop, "demes")));
        fputc('\n', f);
    }
    const json_t *arch = json_object_get(pop, "archive");
    if (json_is_object(arch)) {
        fprintf(f, "  archive      map-elites over");
        size_t i;
        const json_t *d;
        json_array_foreach(json_object_get(arch, "descriptors"), i, d)
        {
            fprintf(f, "%s%s", i ? " x " : " ", json_is_string(d) ? json_string_value(d) : "?");
        }
        fprintf(f, ": %s of %s cells (%.1f%%)\n",
                cli_fmt_value(json_object_get(arch, "occupied"), v1, sizeof v1),
                cli_fmt_value(json_object_get(arch, "cells"), v2, sizeof v2),
                100 * num(json_object_get(arch, "coverage"), 0));
    }

    const json_t *hist = json_object_get(pop, "history");
    size_t n;
    double *b = series(hist, "best", &n);
    if (b && n > 0) {
        fprintf(f, "  best  over time  ");
        cli_sparkline(f, b, n, 60);
        fprintf(f, "  %s\n",
                cli_fmt_value(json_object_get(json_array_get(hist, n - 1), "best"), v1, sizeof v1));
    }
    free(b);
    double *m = series(hist, "mean", &n);
    if (m && n > 0) {
        fprintf(f, "  mean  over time  ");
        cli_sparkline(f, m, n, 60);
        fprintf(f, "  %s\n",
                cli_fmt_value(json_object_get(json_array_get(hist, n - 1), "mean"), v1, sizeof v1));
    }
    free(m);

    const json_t *dist = json_object_get(pop, "distribution");
    const json_t *counts = json_object_get(dist, "counts");
    size_t nc = json_array_size(counts);
    if (nc > 0) {
        double *cv = calloc(nc, sizeof *cv);
        if (cv) {
            for (size_t i = 0; i < nc; i++)
                cv[i] = num(json_array_get(counts, i), 0);
            fprintf(f, "  fitness distribution\n");
            cli_histogram(f, num(json_object_get(dist, "min"), 0),
                          num(json_object_get(dist, "max"), 0), cv, nc, 10, 40);
            free(cv);
        }
    }

    const json_t *demes = json_object_get(pop, "demes");
    if (json_array_size(demes) > 0) {
        /* VALUES (distinct fitness values) when the coordinator reports them */
        static const char *const hdr[] = {"DEME", "AGENT", "SIZE", "BEST", "VALUES"};
        int values = json_object_get(json_array_get(demes, 0), "fitness_values") != NULL;
        cli_table_t *t = cli_table_new(4 + values, hdr);
        size_t i;
        const json_t *d;
        json_array_foreach(demes, i, d)
        {
            char a[32], s[32], bb[32], fv[48];
            snprintf(fv, sizeof fv, "%s%s",
                     cli_fmt_value(json_object_get(d, "fitness_values"), a, sizeof a),
                     json_is_true(json_object_get(d, "collapsed")) ? " (collapsed)" : "");
            const char *row[5] = {cli_fmt_value(json_object_get(d, "index"), a, sizeof a),
                                  str(d, "agent"),
                                  cli_fmt_value(json_object_get(d, "size"), s, sizeof s),
                                  cli_fmt_value(json_object_get(d, "best"), bb, sizeof bb), fv};
            cli_table_row(t, row);
        }
        fprintf(f, "  demes\n");
        cli_table_print(f, t, "    ");
        cli_table_destroy(&t);
    }
    const char *src = str(best, "source");
    if (src && max_src_lines != 0) {
        fprintf(f, "  best genome\n");
        print_source(f, src, max_src_lines, "    ");
    }
}

void cli_print_population(FILE *f, const json_t *pop, uint64_t now_ms)
{
    cli_print_population_n(f, pop, now_ms, -1);
}

static void tree_node(FILE *f, const json_t *node, const char *prefix, int last, int root,
                      int depth)
{
    char h[16], fit[32], line[512];
    const char *hash = json_is_string(node) ? json_string_value(node) : str(node, "hash");
    snprintf(line, sizeof line, "%s%s", root ? "" : prefix, root ? "" : last ? "└── " : "├── ");
    fprintf(f, "%s%s", line, cli_short(hash, 12, h, sizeof h));
    if (json_is_true(json_object_get(node, "truncated"))) {
        fputs(" ...", f); /* deeper than the depth asked for */
    } else if (json_is_object(node)) {
        fprintf(f, " fitness=%s", cli_fmt_value(json_object_get(node, "fitness"), fit, sizeof fit));
        const char *op = str(node, "operator");
        fprintf(f, " op=%s", op ? op : "-");
        const char *mut = str(node, "mutator");
        if (mut)
            fprintf(f, " mutator=%s", mut);
        const char *st = str(node, "status");
        if (st && strcmp(st, "ok") != 0)
            fprintf(f, " status=%s", st);
    }
    fputc('\n', f);
    const json_t *parents = json_object_get(node, "parents");
    size_t n = json_array_size(parents);
    if (n == 0)
        return;
    char sub[512];
    snprintf(sub, sizeof sub, "%s%s", root ? "" : prefix, root ? "" : last ? "    " : "│   ");
    if (depth >= 64) {
        fprintf(f, "%s└── ... (%zu more)\n", sub, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        tree_node(f, json_array_get(parents, i), sub, i + 1 == n, 0, depth + 1);
}

void cli_print_lineage(FILE *f, const json_t *node)
{
    tree_node(f, node, "", 1, 1, 0);
}

static void fmt_time_ms(const json_t *v, char *out, size_t cap)
{
    double t = num(v, -1);
    if (t > 1e12) {
        time_t ts = (time_t)(t / 1000);
        struct tm tm;
        localtime_r(&ts, &tm);
        strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm);
    } else if (t >= 0) {
        snprintf(out, cap, "%.0f ms", t);
    } else {
        snprintf(out, cap, "-");
    }
}

void cli_print_genome(FILE *f, const json_t *g)
{
    fprintf(f, "genome %s\n", str(g, "hash") ? str(g, "hash") : "?");
    const json_t *recs = json_object_get(g, "records");
    if (json_array_size(recs) == 0) {
        fprintf(f, "  no lineage records yet\n");
    } else {
        static const char *const hdr[] = {"SEQ",    "POPULATION", "DEME",   "OPERATOR", "PARENTS",
                                          "STATUS", "FITNESS",    "PASSED", "COST",     "REUSED",
                                          "AGENT",  "BREEDER",    "TIME"};
        cli_table_t *t = cli_table_new(13, hdr);
        size_t i;
        const json_t *r;
        json_array_foreach(recs, i, r)
        {
            char seq[32], deme[32], fit[32], tm[48], parents[160] = "", agent[16], breeder[16],
                                                     passed[48], cost[32];
            size_t k;
            const json_t *p;
            json_array_foreach(json_object_get(r, "parents"), k, p)
            {
                char s[16];
                size_t l = strlen(parents);
                snprintf(parents + l, sizeof parents - l, "%s%s", k ? "," : "",
                         cli_short(json_string_value(p), 8, s, sizeof s));
            }
            fmt_time_ms(json_object_get(r, "time_ms"), tm, sizeof tm);
            const json_t *nc = json_object_get(r, "cases"), *ru = json_object_get(r, "reused");
            if (json_is_integer(nc))
                snprintf(passed, sizeof passed, "%lld/%lld",
                         (long long)json_integer_value(json_object_get(r, "passed")),
                         (long long)json_integer_value(nc));
            else
                snprintf(passed, sizeof passed, "-"); /* a version 1 record */
            const char *row[13] = {cli_fmt_value(json_object_get(r, "seq"), seq, sizeof seq),
                                   str(r, "population"),
                                   cli_fmt_value(json_object_get(r, "deme"), deme, sizeof deme),
                                   str(r, "operator"),
                                   parents[0] ? parents : "-",
                                   str(r, "status"),
                                   cli_fmt_value(json_object_get(r, "fitness"), fit, sizeof fit),
                                   passed,
                                   cli_fmt_value(json_object_get(r, "cost"), cost, sizeof cost),
                                   json_is_boolean(ru) ? (json_is_true(ru) ? "yes" : "no") : "-",
                                   cli_short(str(r, "agent"), 8, agent, sizeof agent),
                                   str(r, "breeder")
                                       ? cli_short(str(r, "breeder"), 8, breeder, sizeof breeder)
                                       : "-", /* before version 4, or no VM bred it */
                                   tm};
            cli_table_row(t, row);
        }
        cli_table_print(f, t, "  ");
        cli_table_destroy(&t);
        json_array_foreach(recs, i, r)
        {
            const char *d = str(r, "detail");
            if (d && *d)
                fprintf(f, "  detail (seq %lld): %s\n",
                        (long long)json_integer_value(json_object_get(r, "seq")), d);
            const char *mut = str(r, "mutator"), *in = str(r, "input_hash");
            if (mut)
                fprintf(f, "  origin (seq %lld): mutator %s, input %s\n",
                        (long long)json_integer_value(json_object_get(r, "seq")), mut,
                        in ? in : "-");
        }
    }
    const char *src = str(g, "source");
    if (src) {
        fprintf(f, "source\n");
        print_source(f, src, -1, "  ");
    }
}

void cli_print_verify(FILE *f, const json_t *rep)
{
    char n[32];
    int ok = json_is_true(json_object_get(rep, "ok"));
    fprintf(f, "lineage: %s records, %s\n",
            cli_fmt_value(json_object_get(rep, "records"), n, sizeof n),
            ok ? "hash chain and signatures OK" : "verification FAILED");
    const json_t *rp = json_object_get(rep, "replayed");
    if (rp && json_integer_value(rp) > 0) {
        char m[32];
        fprintf(f, "replayed %s derivations, %s mismatches\n", cli_fmt_value(rp, n, sizeof n),
                cli_fmt_value(json_object_get(rep, "replay_mismatches"), m, sizeof m));
        json_int_t other = json_integer_value(json_object_get(rep, "replay_other_breeder"));
        if (other > 0)
            fprintf(f,
                    "%lld not compared: replayed on another breeder than the one that bred "
                    "them (petri changed since)\n",
                    (long long)other);
    }
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(rep, "errors"), i, e)
    {
        fprintf(f, "  seq %s: %s\n", cli_fmt_value(json_object_get(e, "seq"), n, sizeof n),
                str(e, "reason") ? str(e, "reason") : "?");
    }
    json_array_foreach(json_object_get(rep, "replay_not_compared"), i, e)
    {
        fprintf(f, "  seq %s: %s\n", cli_fmt_value(json_object_get(e, "seq"), n, sizeof n),
                str(e, "reason") ? str(e, "reason") : "?");
    }
}
