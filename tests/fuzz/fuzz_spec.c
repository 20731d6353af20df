/* fuzz_spec.c - fuzz target for spec parsing (shared/spec.c), which the
 * coordinator runs on specs from its HTTP API, and the JSON -> term mapping
 * (shared/etf.c). Any bytes: no crash, an error names a field; a spec that
 * parses encodes, and its term cases are one well-formed external term (a
 * list of {Inputs, Expected} with arity inputs each) that names no atom
 * but true, false, nil and the declared ones, within the byte cap. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "etf.h"
#include "spec.h"
#include "wire.h"
#include "fuzz.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int atom_ok(const spec_t *s, const uint8_t *name, size_t len)
{
    static const char *const fixed[] = {"true", "false", "nil"};
    for (int i = 0; i < 3; i++)
        if (strlen(fixed[i]) == len && !memcmp(fixed[i], name, len))
            return 1;
    for (size_t i = 0; i < s->natoms; i++)
        if (strlen(s->atoms[i]) == len && !memcmp(s->atoms[i], name, len))
            return 1;
    return 0;
}

/* Bytes of the one term at p (at most n), or 0 when it is malformed. */
static size_t term(const spec_t *s, const uint8_t *p, size_t n, int depth)
{
    if (n < 1 || depth > SPEC_TERM_MAX_DEPTH + 4)
        return 0;
    size_t off, count, k;
    switch (p[0]) {
    case ETF_SMALL_INTEGER_EXT:
        return n >= 2 ? 2 : 0;
    case ETF_INTEGER_EXT:
        return n >= 5 ? 5 : 0;
    case ETF_NEW_FLOAT_EXT: {
        if (n < 9)
            return 0;
        uint64_t bits = (uint64_t)be32(p + 1) << 32 | be32(p + 5);
        double d;
        memcpy(&d, &bits, sizeof d);
        return isfinite(d) ? 9 : 0;
    }
    case ETF_SMALL_BIG_EXT:
        if (n < 3 || p[1] > 8 || p[2] > 1 || n - 3 < p[1])
            return 0;
        return 3 + (size_t)p[1];
    case ETF_BINARY_EXT:
        if (n < 5 || n - 5 < be32(p + 1))
            return 0;
        return 5 + (size_t)be32(p + 1);
    case ETF_SMALL_ATOM_UTF8_EXT:
        if (n < 2 || n - 2 < p[1] || !atom_ok(s, p + 2, p[1]))
            return 0;
        return 2 + (size_t)p[1];
    case ETF_NIL_EXT:
        return 1;
    case ETF_LIST_EXT:
    case ETF_LARGE_TUPLE_EXT:
    case ETF_MAP_EXT:
        if (n < 5)
            return 0;
        count = (size_t)be32(p + 1) * (p[0] == ETF_MAP_EXT ? 2 : 1);
        off = 5;
        break;
    case ETF_SMALL_TUPLE_EXT:
        if (n < 2)
            return 0;
        count = p[1];
        off = 2;
        break;
    default:
        return 0;
    }
    for (size_t i = 0; i < count; i++) {
        if (!(k = term(s, p + off, n - off, depth + 1)))
            return 0;
        off += k;
    }
    if (p[0] == ETF_LIST_EXT) { /* a proper list: the tail is [] */
        if (off >= n || p[off] != ETF_NIL_EXT)
            return 0;
        off++;
    }
    return off;
}

static void check_term_cases(const spec_t *s)
{
    const uint8_t *p = s->term_cases;
    size_t n = s->term_cases_len;
    CHECK(n >= 2 && n <= SPEC_TERM_MAX_BYTES && p[0] == ETF_VERSION);
    CHECK(term(s, p + 1, n - 1, 0) == n - 1);
    /* the shape: [{Inputs, Expected}, ...] with arity inputs */
    CHECK(p[1] == ETF_LIST_EXT && be32(p + 2) == s->nterm_cases);
    size_t off = 6;
    for (size_t i = 0; i < s->nterm_cases; i++) {
        CHECK(p[off] == ETF_SMALL_TUPLE_EXT && p[off + 1] == 2);
        off += 2;
        if (s->arity == 0)
            CHECK(p[off] == ETF_NIL_EXT);
        else
            CHECK(p[off] == ETF_LIST_EXT && be32(p + off + 1) == s->arity);
        size_t k = term(s, p + off, n - off, 0); /* inputs */
        CHECK(k);
        off += k;
        k = term(s, p + off, n - off, 0); /* expected */
        CHECK(k);
        off += k;
    }
    CHECK(p[off] == ETF_NIL_EXT && off + 1 == n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return 0;
    spec_t *s = NULL;
    char err[512] = "";
    int rc = spec_from_json(root, NULL, &s, err, sizeof err);
    json_decref(root);
    if (rc) {
        CHECK(s == NULL);
        CHECK(rc == ERR_SPEC || rc == -ENOMEM);
        CHECK(rc != ERR_SPEC || err[0] != '\0');
        return 0;
    }
    CHECK(s != NULL);
    CHECK(!(s->cases && s->term_cases));
    CHECK(spec_case_count(s) <= SPEC_MAX_CASES);
    CHECK(!s->evaluator || (s->evaluator_len > 0 && s->evaluator_len <= SPEC_EVALUATOR_MAX_BYTES));
    CHECK(spec_case_count(s) > 0 || s->evaluator);
    if (s->term_cases)
        check_term_cases(s);
    wire_buf_t b;
    wire_buf_init(&b);
    spec_encode(s, -1, &b);
    CHECK(b.err == 0 && b.len > 0);
    wire_buf_free(&b);
    spec_destroy(&s);
    CHECK(s == NULL);
    return 0;
}
