/* store_rec.c - the lineage record codec (store.h): canonical encoding,
 * bounded decoding of untrusted stored bytes, and the coordinator signature
 * message. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "attest.h"
#include "ops.h"
#include "store.h"
#include "store_int.h"

#define CANON_NAN 0x7ff8000000000000ULL

/* The operators a record may name besides the breeding ones (ops.h). */
static const char *const other_ops[] = {"random",   "submitted", "migrate", "copy",
                                        "external", "start",     "pin"};

int store_op_valid(const char *op)
{
    if (!op)
        return 0;
    if (ops_find(op) >= 0)
        return 1;
    for (size_t i = 0; i < sizeof other_ops / sizeof other_ops[0]; i++)
        if (strcmp(op, other_ops[i]) == 0)
            return 1;
    return 0;
}

int store_mutator_valid(const char *name)
{
    if (!name || !name[0] || strlen(name) > STORE_MUTATOR_MAX)
        return 0;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' ||
              *c == '-'))
            return 0;
    return 1;
}

static int is_external(const char *op)
{
    return strcmp(op, "external") == 0;
}

/* 0 if r's origin fits its op and version (store.h), else ERR_INVAL. */
static int check_origin(const lineage_rec_t *r)
{
    static const uint8_t zero[CRYPTO_HASH_LEN];
    if (is_external(r->op))
        return r->version != 1 && store_mutator_valid(r->mutator) ? 0 : ERR_INVAL;
    return !r->mutator[0] && memcmp(r->input_hash, zero, CRYPTO_HASH_LEN) == 0 ? 0 : ERR_INVAL;
}

int store_live_fits(const lineage_live_t *l)
{
    return (l->kind == WIRE_LIVE_STARTED || l->kind == WIRE_LIVE_PROMOTED ||
            l->kind == WIRE_LIVE_ROLLBACK || l->kind == WIRE_LIVE_REFUSED) &&
           memchr(l->reason, 0, sizeof l->reason) != NULL;
}

int store_rec_has_summary(const lineage_rec_t *r)
{
    return r->version == 2 || r->version == 4;
}

int store_rec_breeder(const lineage_rec_t *r)
{
    static const uint8_t zero[WIRE_BREEDER_LEN];
    return r->version == 4 && memcmp(r->breeder, zero, WIRE_BREEDER_LEN) != 0;
}

static int check_str(const char *s, size_t max)
{
    if (!s || !s[0])
        return ERR_INVAL;
    if (strlen(s) > max)
        return ERR_TOOBIG;
    return 0;
}

static void put_fitness(wire_buf_t *b, double f)
{
    if (isnan(f))
        wire_put_u64(b, CANON_NAN);
    else
        wire_put_f64(b, f);
}

void store_rec_put_body(wire_buf_t *b, const lineage_rec_t *r)
{
    if (r->version != 1) {
        wire_put_u8(b, STORE_REC_MARK);
        wire_put_u8(b, r->version == 3 || r->version == 4 ? r->version : 2);
    }
    wire_put_u64(b, r->seq);
    wire_put_raw(b, r->prev_hash, CRYPTO_HASH_LEN);
    wire_put_str(b, r->population);
    wire_put_u32(b, r->deme);
    wire_put_u64(b, r->dseq);
    wire_put_raw(b, r->child_hash, CRYPTO_HASH_LEN);
    wire_put_u32(b, r->nparents);
    for (unsigned i = 0; i < r->nparents; i++)
        wire_put_raw(b, r->parents[i], CRYPTO_HASH_LEN);
    wire_put_str(b, r->op);
    wire_put_u64(b, r->seed);
    wire_put_u8(b, r->status);
    put_fitness(b, r->fitness);
    wire_put_raw(b, r->agent_id, CRYPTO_ID_LEN);
    wire_put_raw(b, r->agent_pk, CRYPTO_PK_LEN);
    wire_put_raw(b, r->agent_sig, CRYPTO_SIG_LEN);
    wire_put_u64(b, r->time_ms);
    if (r->version != 1) {
        wire_put_u32(b, r->passed);
        wire_put_u32(b, r->cases);
        put_fitness(b, r->cost);
        wire_put_u8(b, r->reused);
        wire_put_raw(b, r->errors_hash, CRYPTO_HASH_LEN);
        if (is_external(r->op)) {
            wire_put_str(b, r->mutator);
            wire_put_raw(b, r->input_hash, CRYPTO_HASH_LEN);
        }
    }
    if (r->version == 4)
        wire_put_raw(b, r->breeder, WIRE_BREEDER_LEN);
    if (r->version == 3) {
        wire_put_u8(b, r->live.kind);
        wire_put_u32(b, r->live.version);
        wire_put_raw(b, r->live.state_before, CRYPTO_HASH_LEN);
        wire_put_raw(b, r->live.state_after, CRYPTO_HASH_LEN);
        put_fitness(b, r->live.parent_score);
        wire_put_u32(b, r->live.probation);
        wire_put_str(b, r->live.reason);
    }
}

const char *store_rec_domain(uint8_t version)
{
    return version == 1   ? STORE_SIG_DOMAIN
           : version == 3 ? STORE_SIG_DOMAIN_V3
           : version == 4 ? STORE_SIG_DOMAIN_V4
                          : STORE_SIG_DOMAIN_V2;
}

int store_rec_check_fields(const lineage_rec_t *r)
{
    int rc = check_str(r->population, STORE_POP_MAX);
    if (rc == 0)
        rc = check_str(r->op, STORE_OP_MAX);
    if (rc == 0 &&
        (r->nparents > STORE_MAX_PARENTS || r->version > 4 || r->reused > 1 || r->seq >> 56 != 0))
        rc = ERR_INVAL;
    if (rc == 0 && r->version == 3 && !store_live_fits(&r->live))
        rc = ERR_INVAL;
    if (rc == 0)
        rc = check_origin(r);
    return rc;
}

int store_rec_encode(wire_buf_t *b, const lineage_rec_t *r)
{
    assert(b && r);
    int rc = store_rec_check_fields(r);
    if (rc)
        return rc;
    store_rec_put_body(b, r);
    wire_put_raw(b, r->coord_sig, CRYPTO_SIG_LEN);
    return b->err;
}

/* Reads a non-empty string into out[cap]. */
static int get_name(wire_rd_t *rd, char *out, size_t cap)
{
    if (wire_get_str(rd, out, cap))
        return rd->err;
    if (!out[0]) {
        rd->err = ERR_PROTO;
        rd->left = 0;
    }
    return rd->err;
}

int store_rec_decode(const uint8_t *p, size_t len, lineage_rec_t *out)
{
    assert(out);
    memset(out, 0, sizeof *out);
    wire_rd_t rd;
    wire_rd_init(&rd, p, len);
    uint32_t np = 0;
    uint64_t fbits = 0, cbits = 0;
    uint8_t version = 1;
    if (len > 0 && p[0] == STORE_REC_MARK) {
        uint8_t mark = 0;
        wire_get_u8(&rd, &mark);
        wire_get_u8(&rd, &version);
    }
    wire_get_u64(&rd, &out->seq);
    wire_get_raw(&rd, out->prev_hash, CRYPTO_HASH_LEN);
    get_name(&rd, out->population, sizeof out->population);
    wire_get_u32(&rd, &out->deme);
    wire_get_u64(&rd, &out->dseq);
    wire_get_raw(&rd, out->child_hash, CRYPTO_HASH_LEN);
    wire_get_count(&rd, &np, STORE_MAX_PARENTS, CRYPTO_HASH_LEN);
    out->nparents = (uint8_t)np;
    for (uint32_t i = 0; i < np; i++)
        wire_get_raw(&rd, out->parents[i], CRYPTO_HASH_LEN);
    get_name(&rd, out->op, sizeof out->op);
    wire_get_u64(&rd, &out->seed);
    wire_get_u8(&rd, &out->status);
    wire_get_u64(&rd, &fbits);
    wire_get_raw(&rd, out->agent_id, CRYPTO_ID_LEN);
    wire_get_raw(&rd, out->agent_pk, CRYPTO_PK_LEN);
    wire_get_raw(&rd, out->agent_sig, CRYPTO_SIG_LEN);
    wire_get_u64(&rd, &out->time_ms);
    if (version >= 2 && version <= 4) {
        wire_get_u32(&rd, &out->passed);
        wire_get_u32(&rd, &out->cases);
        wire_get_u64(&rd, &cbits);
        wire_get_u8(&rd, &out->reused);
        wire_get_raw(&rd, out->errors_hash, CRYPTO_HASH_LEN);
        if (rd.err == 0 && is_external(out->op)) {
            get_name(&rd, out->mutator, sizeof out->mutator);
            wire_get_raw(&rd, out->input_hash, CRYPTO_HASH_LEN);
        }
    }
    if (version == 4)
        wire_get_raw(&rd, out->breeder, WIRE_BREEDER_LEN);
    uint64_t pbits = 0;
    if (version == 3) {
        wire_get_u8(&rd, &out->live.kind);
        wire_get_u32(&rd, &out->live.version);
        wire_get_raw(&rd, out->live.state_before, CRYPTO_HASH_LEN);
        wire_get_raw(&rd, out->live.state_after, CRYPTO_HASH_LEN);
        wire_get_u64(&rd, &pbits);
        wire_get_u32(&rd, &out->live.probation);
        wire_get_str(&rd, out->live.reason, sizeof out->live.reason);
    }
    wire_get_raw(&rd, out->coord_sig, CRYPTO_SIG_LEN);
    int rc = rd.err;
    if (rc == 0 && rd.left != 0)
        rc = ERR_PROTO; /* trailing bytes: not the canonical encoding */
    if (rc == 0 && (version < 1 || version > 4 || out->seq >> 56 != 0))
        rc = ERR_PROTO;
    out->version = version;
    if (rc == 0 && (out->reused > 1 || check_origin(out) != 0 ||
                    (version == 3 && !store_live_fits(&out->live))))
        rc = ERR_PROTO;
    if (rc == 0) {
        memcpy(&out->fitness, &fbits, sizeof fbits);
        memcpy(&out->cost, &cbits, sizeof cbits);
        memcpy(&out->live.parent_score, &pbits, sizeof pbits);
        if ((isnan(out->fitness) && fbits != CANON_NAN) ||
            (isnan(out->cost) && cbits != CANON_NAN) ||
            (isnan(out->live.parent_score) && pbits != CANON_NAN))
            rc = ERR_PROTO;
    }
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}

int store_rec_sign_msg(wire_buf_t *b, const lineage_rec_t *r)
{
    wire_put_str(b, store_rec_domain(r->version));
    store_rec_put_body(b, r);
    return b->err;
}

int store_rec_check_sig(const uint8_t pk[CRYPTO_PK_LEN], const lineage_rec_t *r)
{
    assert(pk && r);
    wire_buf_t b;
    wire_buf_init(&b);
    int rc = store_rec_check_fields(r);
    if (rc == 0)
        rc = store_rec_sign_msg(&b, r);
    if (rc == 0)
        rc = crypto_verify(pk, b.data, b.len, r->coord_sig);
    else
        rc = ERR_CRYPTO;
    wire_buf_free(&b);
    return rc;
}

int store_rec_check_agent_sig(const lineage_rec_t *r)
{
    if (r->version == 1)
        return attest_verify(r->agent_pk, r->population, r->deme, r->dseq, r->child_hash, r->status,
                             r->fitness, r->agent_sig) == 0
                   ? 0
                   : ERR_CRYPTO;
    if (r->version == 3) {
        attest_live_t l = {.kind = r->live.kind,
                           .status = r->status,
                           .version = r->live.version,
                           .parent_score = r->live.parent_score,
                           .child_score = r->fitness,
                           .probation = r->live.probation};
        if (r->nparents > 0)
            memcpy(l.parent_hash, r->parents[0], CRYPTO_HASH_LEN);
        memcpy(l.state_before, r->live.state_before, CRYPTO_HASH_LEN);
        memcpy(l.state_after, r->live.state_after, CRYPTO_HASH_LEN);
        attest_reason_hash(r->live.reason, strlen(r->live.reason), l.reason_hash);
        return attest_verify_live(r->agent_pk, r->population, r->deme, r->dseq, r->child_hash, &l,
                                  r->agent_sig) == 0
                   ? 0
                   : ERR_CRYPTO;
    }
    attest_ext_t x = {.passed = r->passed,
                      .cases = r->cases,
                      .cost = r->cost,
                      .reused = r->reused,
                      .with_breeder = r->version == 4};
    memcpy(x.errors_hash, r->errors_hash, CRYPTO_HASH_LEN);
    memcpy(x.breeder, r->breeder, WIRE_BREEDER_LEN);
    return attest_verify_v2(r->agent_pk, r->population, r->deme, r->dseq, r->child_hash, r->status,
                            r->fitness, &x, r->agent_sig) == 0
               ? 0
               : ERR_CRYPTO;
}
