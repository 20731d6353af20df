/* store_export.c - lineage exports: streamed out of the store, checked
 * offline (store_export.h). */
#include "store_export.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest.h"
#include "err.h"

static json_t *hex_json(const uint8_t *p, size_t n)
{
    char *hex = malloc(2 * n + 1);
    if (!hex)
        return NULL;
    crypto_hex(p, n, hex);
    json_t *s = json_string(hex);
    free(hex);
    return s;
}

json_t *store_rec_breeder_json(const lineage_rec_t *r)
{
    if (!store_rec_breeder(r))
        return json_null();
    char hex[2 * WIRE_BREEDER_LEN + 1];
    crypto_hex(r->breeder, WIRE_BREEDER_LEN, hex);
    return json_string(hex);
}

json_t *store_export_rec_json(const lineage_rec_t *r, const uint8_t *raw, size_t len)
{
    uint8_t h[CRYPTO_HASH_LEN];
    crypto_hash(raw, len, h);
    json_t *parents = json_array();
    for (int k = 0; k < r->nparents; k++)
        json_array_append_new(parents, hex_json(r->parents[k], CRYPTO_HASH_LEN));
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
    json_object_set_new(o, "hash", hex_json(h, CRYPTO_HASH_LEN));
    json_object_set_new(o, "prev_hash", hex_json(r->prev_hash, CRYPTO_HASH_LEN));
    json_object_set_new(o, "population", json_string(r->population));
    json_object_set_new(o, "deme", json_integer(r->deme));
    json_object_set_new(o, "dseq", json_integer((json_int_t)r->dseq));
    json_object_set_new(o, "child", hex_json(r->child_hash, CRYPTO_HASH_LEN));
    json_object_set_new(o, "parents", parents);
    json_object_set_new(o, "operator", json_string(r->op));
    json_object_set_new(o, "seed", json_integer((json_int_t)r->seed));
    json_object_set_new(o, "status", json_string(wire_status_str(r->status)));
    json_object_set_new(o, "fitness", isfinite(r->fitness) ? json_real(r->fitness) : json_null());
    json_object_set_new(o, "agent", hex_json(r->agent_id, CRYPTO_ID_LEN));
    json_object_set_new(o, "agent_pk", hex_json(r->agent_pk, CRYPTO_PK_LEN));
    json_object_set_new(o, "agent_sig", hex_json(r->agent_sig, CRYPTO_SIG_LEN));
    json_object_set_new(o, "time_ms", json_integer((json_int_t)r->time_ms));
    json_object_set_new(o, "record_version", json_integer(r->version));
    if (r->version >= 2) { /* the per-case summary the agent attested */
        json_object_set_new(o, "passed", json_integer(r->passed));
        json_object_set_new(o, "cases", json_integer(r->cases));
        json_object_set_new(o, "cost", isfinite(r->cost) ? json_real(r->cost) : json_null());
        json_object_set_new(o, "reused", json_boolean(r->reused));
        json_object_set_new(o, "errors_hash", hex_json(r->errors_hash, CRYPTO_HASH_LEN));
    }
    if (r->mutator[0]) { /* the origin of an external mutator's child */
        json_object_set_new(o, "mutator", json_string(r->mutator));
        json_object_set_new(o, "input_hash", hex_json(r->input_hash, CRYPTO_HASH_LEN));
    }
    json_object_set_new(o, "breeder", store_rec_breeder_json(r));
    if (r->version == 3) /* a live individual's event (store.h) */
        json_object_set_new(
            o, "live",
            json_pack("{s:s, s:i, s:o, s:o, s:o, s:i, s:s}", "event",
                      wire_live_event_str(r->live.kind), "version", (int)r->live.version,
                      "state_before", hex_json(r->live.state_before, CRYPTO_HASH_LEN),
                      "state_after", hex_json(r->live.state_after, CRYPTO_HASH_LEN), "parent_score",
                      isfinite(r->live.parent_score) ? json_real(r->live.parent_score)
                                                     : json_null(),
                      "probation", (int)r->live.probation, "reason", r->live.reason));
    json_object_set_new(o, "coord_sig", hex_json(r->coord_sig, CRYPTO_SIG_LEN));
    json_object_set_new(o, "raw", hex_json(raw, len));
    return o;
}

/* ---- writing ---- */

struct out {
    store_write_fn w;
    void *arg;
    int rc;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->rc == 0 && n > 0)
        o->rc = o->w(o->arg, s, n);
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    put(o, buf, n < 0 ? 0 : (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void put_json(struct out *o, json_t *j)
{
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!t) {
        if (o->rc == 0)
            o->rc = -ENOMEM;
        return;
    }
    put(o, t, strlen(t));
    free(t);
}

static void dot_rec(struct out *o, const lineage_rec_t *r)
{
    char ch[2 * CRYPTO_HASH_LEN + 1], ph[2 * CRYPTO_HASH_LEN + 1];
    crypto_hex(r->child_hash, CRYPTO_HASH_LEN, ch);
    if (isfinite(r->fitness) && r->version >= 2 && r->cases > 0)
        putf(o, "  \"%.12s\" [label=\"%.12s\\n%g\\n%u/%u\"];\n", ch, ch, r->fitness, r->passed,
             r->cases);
    else if (isfinite(r->fitness))
        putf(o, "  \"%.12s\" [label=\"%.12s\\n%g\"];\n", ch, ch, r->fitness);
    for (int k = 0; k < r->nparents; k++) {
        crypto_hex(r->parents[k], CRYPTO_HASH_LEN, ph);
        putf(o, "  \"%.12s\" -> \"%.12s\" [label=\"%s\"];\n", ph, ch, r->op);
    }
}

int store_export(store_t *s, enum store_export_fmt fmt, store_write_fn w, void *arg,
                 uint64_t *records, uint64_t *damaged)
{
    struct out o = {.w = w, .arg = arg};
    uint64_t head;
    uint8_t head_hash[CRYPTO_HASH_LEN], pk[CRYPTO_PK_LEN];
    int have;
    store_head(s, &head, head_hash);
    store_coord_pk(s, pk, &have);
    char fp[STORE_FP_LEN + 1] = "";
    if (have)
        store_fingerprint(pk, fp);
    *records = *damaged = 0;
    if (fmt == STORE_EXPORT_JSON) {
        char pkhex[2 * CRYPTO_PK_LEN + 1] = "";
        if (have)
            crypto_hex(pk, CRYPTO_PK_LEN, pkhex);
        putf(&o, "{\"format\":\"%s\",\"coord_pk\":\"%s\",\"key\":\"%s\",\"records\":[\n",
             STORE_EXPORT_FORMAT, pkhex, fp);
    } else {
        putf(&o,
             "digraph lineage {\n  rankdir=LR;\n  node [shape=box, fontname=monospace];\n"
             "  // coordinator key %s\n",
             fp);
    }
    for (uint64_t seq = 1; seq <= head && o.rc == 0; seq++) {
        uint8_t *raw = NULL;
        size_t len = 0;
        lineage_rec_t r;
        int rc = store_get_raw(s, seq, &raw, &len);
        if (rc == 0)
            rc = store_rec_decode(raw, len, &r);
        if (rc == 0 && r.seq != seq)
            rc = ERR_PROTO;
        if (fmt == STORE_EXPORT_JSON) {
            if (seq > 1)
                put(&o, ",\n", 2);
            if (rc == 0) {
                put_json(&o, store_export_rec_json(&r, raw, len));
            } else {
                char why[160];
                snprintf(why, sizeof why, "record %llu cannot be read from the store: %s",
                         (unsigned long long)seq, err_str(rc));
                put_json(&o, json_pack("{s:I, s:s}", "seq", (json_int_t)seq, "error", why));
            }
        } else if (rc == 0) {
            dot_rec(&o, &r);
        } else {
            putf(&o, "  // damaged record %llu: %s\n", (unsigned long long)seq, err_str(rc));
        }
        free(raw);
        ++*records;
        *damaged += rc != 0;
    }
    if (fmt == STORE_EXPORT_JSON) {
        char hh[2 * CRYPTO_HASH_LEN + 1];
        crypto_hex(head_hash, CRYPTO_HASH_LEN, hh);
        putf(&o, "\n],\"damaged\":%llu,\"end\":{\"seq\":%llu,\"hash\":\"%s\"}}\n",
             (unsigned long long)*damaged, (unsigned long long)head, hh);
    } else {
        putf(&o, "  // %llu records, %llu damaged\n}\n", (unsigned long long)*records,
             (unsigned long long)*damaged);
    }
    return o.rc;
}

/* ---- offline verification ---- */

struct vstate {
    store_verify_cb cb;
    void *arg;
    int first;
};

static void problem(struct vstate *v, uint64_t seq, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(struct vstate *v, uint64_t seq, int code, const char *fmt, ...)
{
    char buf[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (!v->first)
        v->first = code;
    if (v->cb)
        v->cb(v->arg, seq, buf);
}

static int unhex_any(const char *s, uint8_t **out, size_t *len)
{
    size_t n = s ? strlen(s) : 0;
    if (!s || n % 2)
        return ERR_PROTO;
    *out = malloc(n / 2 + 1);
    if (!*out)
        return -ENOMEM;
    *len = n / 2;
    if (n && crypto_unhex(s, *out, n / 2) != 0) {
        free(*out);
        *out = NULL;
        return ERR_PROTO;
    }
    return 0;
}

static void check_entry(struct vstate *v, json_t *e, uint64_t want, const uint8_t pk[CRYPTO_PK_LEN],
                        uint8_t prev[CRYPTO_HASH_LEN])
{
    json_t *jseq = json_object_get(e, "seq");
    uint64_t seq = json_is_integer(jseq) ? (uint64_t)json_integer_value(jseq) : 0;
    if (json_object_get(e, "error")) {
        problem(v, seq, ERR_PROTO, "the export marks record %llu damaged: %s",
                (unsigned long long)seq,
                json_string_value(json_object_get(e, "error")) ?: "(no reason)");
        memset(prev, 0, CRYPTO_HASH_LEN); /* the chain cannot be followed past it */
        return;
    }
    if (seq != want)
        problem(v, seq, ERR_PROTO, "expected record %llu here, found seq %llu",
                (unsigned long long)want, (unsigned long long)seq);
    uint8_t *raw = NULL;
    size_t len = 0;
    lineage_rec_t r;
    if (unhex_any(json_string_value(json_object_get(e, "raw")), &raw, &len) != 0) {
        problem(v, want, ERR_PROTO, "raw: missing or not hex");
        memset(prev, 0, CRYPTO_HASH_LEN);
        return;
    }
    int rc = store_rec_decode(raw, len, &r);
    if (rc) {
        problem(v, want, ERR_PROTO, "raw does not decode: %s", err_str(rc));
        free(raw);
        memset(prev, 0, CRYPTO_HASH_LEN);
        return;
    }
    if (r.seq != want)
        problem(v, want, ERR_PROTO, "raw holds seq %llu", (unsigned long long)r.seq);
    if (memcmp(r.prev_hash, prev, CRYPTO_HASH_LEN) != 0)
        problem(v, want, ERR_PROTO, "prev_hash does not match the previous record's hash");
    if (store_rec_check_sig(pk, &r) != 0)
        problem(v, want, ERR_CRYPTO, "coordinator signature invalid for coord_pk");
    if (store_rec_check_agent_sig(&r) != 0)
        problem(v, want, ERR_CRYPTO, "agent signature invalid");
    json_t *expect = store_export_rec_json(&r, raw, len);
    if (!json_equal(expect, e)) {
        const char *key;
        json_t *val;
        json_object_foreach(expect, key, val)
        {
            if (!json_equal(val, json_object_get(e, key))) {
                problem(v, want, ERR_PROTO, "field %s differs from what the signed record says",
                        key);
                break;
            }
        }
        if (json_object_size(e) != json_object_size(expect))
            problem(v, want, ERR_PROTO, "fields beyond the record's");
    }
    json_decref(expect);
    crypto_hash(raw, len, prev);
    free(raw);
}

int store_export_verify(json_t *doc, const char *pin, store_verify_cb on_error, void *arg,
                        uint64_t *checked, char fp[STORE_FP_LEN + 1])
{
    struct vstate v = {.cb = on_error, .arg = arg};
    *checked = 0;
    if (fp)
        fp[0] = '\0';
    const char *format = json_string_value(json_object_get(doc, "format"));
    json_t *recs = json_object_get(doc, "records");
    if (!json_is_object(doc) || !format || strcmp(format, STORE_EXPORT_FORMAT) != 0 ||
        !json_is_array(recs)) {
        problem(&v, 0, ERR_PROTO, "not a lineage export (format %s with records)",
                STORE_EXPORT_FORMAT);
        return v.first;
    }
    uint8_t pk[CRYPTO_PK_LEN];
    const char *pkhex = json_string_value(json_object_get(doc, "coord_pk"));
    if (!pkhex || strlen(pkhex) != 2 * CRYPTO_PK_LEN || crypto_unhex(pkhex, pk, CRYPTO_PK_LEN)) {
        problem(&v, 0, ERR_CRYPTO, "coord_pk: missing or not 64 hex characters");
        return v.first;
    }
    char have[STORE_FP_LEN + 1];
    store_fingerprint(pk, have);
    if (fp)
        memcpy(fp, have, sizeof have);
    if (pin && strcmp(pin, have) != 0) {
        problem(&v, 0, ERR_CRYPTO,
                "signed by coordinator key %s, not the pinned key %s: the lineage was re-signed "
                "or comes from another coordinator",
                have, pin);
        return v.first;
    }
    uint8_t prev[CRYPTO_HASH_LEN] = {0};
    size_t i;
    json_t *e;
    json_array_foreach(recs, i, e)
    {
        check_entry(&v, e, (uint64_t)i + 1, pk, prev);
        ++*checked;
    }
    json_t *end = json_object_get(doc, "end");
    json_t *eseq = json_object_get(end, "seq");
    const char *ehash = json_string_value(json_object_get(end, "hash"));
    char ph[2 * CRYPTO_HASH_LEN + 1];
    crypto_hex(prev, CRYPTO_HASH_LEN, ph);
    if (!json_is_integer(eseq) || (uint64_t)json_integer_value(eseq) != *checked || !ehash ||
        (*checked > 0 && strcmp(ehash, ph) != 0))
        problem(&v, 0, ERR_PROTO, "end: does not name the last record (seq %llu)",
                (unsigned long long)*checked);
    return v.first;
}
