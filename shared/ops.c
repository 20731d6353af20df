/* ops.c - breeding operator names, parents and rates (see ops.h). */
#include "ops.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

const char *const ops_names[OPS_N] = {
    "crossover", "subtree", "point", "swap",       "hoist",      "shrink",      "call_swap",
    "literal",   "pattern", "guard", "clause_add", "clause_del", "clause_swap", "clause_xover",
    "helper",    "inline",  "fold",  "recurse",    "wrap"};
const double ops_default_rates[OPS_N] = {0.4, 0.2, 0.2, 0.1, 0.05, 0.05};
const char ops_known[] = "crossover, subtree, point, swap, hoist, shrink, call_swap, literal, "
                         "pattern, guard, clause_add, clause_del, clause_swap, clause_xover, "
                         "helper, inline, fold, recurse, wrap";

int ops_find(const char *name)
{
    for (int i = 0; i < OPS_N; i++)
        if (strcmp(ops_names[i], name) == 0)
            return i;
    return -1;
}

int ops_parents(const char *name)
{
    assert(ops_find(name) >= 0);
    return strcmp(name, "crossover") == 0 || strcmp(name, "clause_xover") == 0 ? 2 : 1;
}

int ops_parse_rates(const char *list, double rates[OPS_N], char *err, size_t errlen)
{
    double r[OPS_N] = {0}, sum = 0;
    const char *p = list;
    if (!*p) {
        snprintf(err, errlen, "no operators given (NAME=RATE,...; known: %s)", ops_known);
        return ERR_SPEC;
    }
    while (*p) {
        size_t n = strcspn(p, ",");
        char item[64];
        if (n == 0 || n >= sizeof item) {
            snprintf(err, errlen, "'%.*s': expected NAME=RATE", (int)(n < 64 ? n : 64), p);
            return ERR_SPEC;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        char *eq = strchr(item, '=');
        if (!eq) {
            snprintf(err, errlen, "'%s': expected NAME=RATE", item);
            return ERR_SPEC;
        }
        *eq = '\0';
        int i = ops_find(item);
        if (i < 0) {
            snprintf(err, errlen, "%s: unknown operator (known: %s)", item, ops_known);
            return ERR_SPEC;
        }
        char *end;
        double v = strtod(eq + 1, &end);
        if (end == eq + 1 || *end || !isfinite(v) || v < 0) {
            snprintf(err, errlen, "%s: rate '%s' must be a number >= 0", item, eq + 1);
            return ERR_SPEC;
        }
        r[i] = v;
        p += n;
        if (*p == ',')
            p++;
    }
    for (int i = 0; i < OPS_N; i++)
        sum += r[i];
    if (!(sum > 0)) {
        snprintf(err, errlen, "the rates add up to 0");
        return ERR_SPEC;
    }
    for (int i = 0; i < OPS_N; i++)
        rates[i] = r[i] / sum;
    return 0;
}
