/* store_verify.c - full verification of the lineage store (store_verify in
 * store.h): density, hash chain, both signatures, genomes and indexes, with
 * every problem named by the seq of the record it concerns. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "attest.h"
#include "err.h"
#include "store.h"
#include "store_int.h"

#define PROGRESS_EVERY 4096

struct vctx {
    store_t *s;
    MDB_txn *txn;
    MDB_cursor *by_child, *by_parent;
    store_verify_cb on_error;
    void *arg;
    int first; /* code of the first problem */
    uint64_t problems;
    wire_buf_t msg; /* the coord_sig message, rebuilt per record */
};

static void report(struct vctx *v, uint64_t seq, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(struct vctx *v, uint64_t seq, int code, const char *fmt, ...)
{
    if (!v->first)
        v->first = code;
    v->problems++;
    if (!v->on_error)
        return;
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    v->on_error(v->arg, seq, reason);
}

static void hex_prefix(const uint8_t *h, char out[17])
{
    crypto_hex(h, 8, out);
}

/* Checks the index entries and the genome of a decoded record. */
static void check_links(struct vctx *v, const lineage_rec_t *r)
{
    store_t *s = v->s;
    char hx[17];
    uint8_t seqb[8];
    store_be64(seqb, r->seq);

    uint8_t keyb[STORE_KEY_MAX];
    size_t klen = store_key_encode(keyb, r->population, r->deme, r->dseq);
    MDB_val k = {klen, keyb}, d;
    int rc = mdb_get(v->txn, s->by_key, &k, &d);
    if (rc == MDB_NOTFOUND)
        report(v, r->seq, ERR_NOTFOUND, "derivation key missing from by_key");
    else if (rc)
        report(v, r->seq, -EIO, "by_key: %s", mdb_strerror(rc));
    else if (d.mv_size != 8 || memcmp(d.mv_data, seqb, 8) != 0)
        report(v, r->seq, ERR_PROTO, "by_key names another record for its derivation key");

    k.mv_size = CRYPTO_HASH_LEN;
    k.mv_data = (void *)r->child_hash;
    d.mv_size = 8;
    d.mv_data = seqb;
    rc = mdb_cursor_get(v->by_child, &k, &d, MDB_GET_BOTH);
    if (rc == MDB_NOTFOUND)
        report(v, r->seq, ERR_NOTFOUND, "record missing from by_child");
    else if (rc)
        report(v, r->seq, -EIO, "by_child: %s", mdb_strerror(rc));

    for (unsigned i = 0; i < r->nparents; i++) {
        k.mv_size = CRYPTO_HASH_LEN;
        k.mv_data = (void *)r->parents[i];
        d.mv_size = CRYPTO_HASH_LEN;
        d.mv_data = (void *)r->child_hash;
        rc = mdb_cursor_get(v->by_parent, &k, &d, MDB_GET_BOTH);
        if (rc) {
            hex_prefix(r->parents[i], hx);
            report(v, r->seq, rc == MDB_NOTFOUND ? ERR_NOTFOUND : -EIO,
                   "parent %s... -> child missing from by_parent", hx);
        }
    }

    k.mv_size = CRYPTO_HASH_LEN;
    k.mv_data = (void *)r->child_hash;
    rc = mdb_get(v->txn, s->genomes, &k, &d);
    hex_prefix(r->child_hash, hx);
    if (rc == MDB_NOTFOUND) {
        report(v, r->seq, ERR_NOTFOUND, "genome %s... missing", hx);
    } else if (rc) {
        report(v, r->seq, -EIO, "genomes: %s", mdb_strerror(rc));
    } else {
        uint8_t h[CRYPTO_HASH_LEN];
        crypto_hash(d.mv_data, d.mv_size, h);
        if (memcmp(h, r->child_hash, CRYPTO_HASH_LEN) != 0)
            report(v, r->seq, ERR_CRYPTO, "genome %s... does not hash to child_hash", hx);
    }
}

/* Checks one record held in val[0..len) under key seq. */
static void check_record(struct vctx *v, uint64_t seq, const uint8_t *val, size_t len,
                         const uint8_t prev[CRYPTO_HASH_LEN])
{
    lineage_rec_t r;
    int rc = store_rec_decode(val, len, &r);
    if (rc) {
        report(v, seq, ERR_PROTO, "record does not decode: %s", err_str(rc));
        return;
    }
    if (r.seq != seq)
        report(v, seq, ERR_PROTO, "seq field %llu differs from its key", (unsigned long long)r.seq);
    if (memcmp(r.prev_hash, prev, CRYPTO_HASH_LEN) != 0)
        report(v, seq, ERR_PROTO, "prev_hash is not the hash of record %llu",
               (unsigned long long)(seq - 1));
    if (!v->s->have_pk) {
        report(v, seq, ERR_STATE, "no coordinator key (meta coord_pk) to check against");
    } else {
        /* The decoder accepts the canonical encoding only, so the signed
         * message is the domain followed by the stored bytes minus coord_sig. */
        wire_buf_reset(&v->msg);
        wire_put_str(&v->msg, store_rec_domain(r.version));
        wire_put_raw(&v->msg, val, len - CRYPTO_SIG_LEN);
        if (v->msg.err || crypto_verify(v->s->coord_pk, v->msg.data, v->msg.len, r.coord_sig) != 0)
            report(v, seq, ERR_CRYPTO, "coordinator signature invalid");
    }
    if (store_rec_check_agent_sig(&r) != 0)
        report(v, seq, ERR_CRYPTO, "agent signature invalid");
    if (!store_op_valid(r.op))
        report(v, seq, ERR_PROTO, "unknown operator");
    if (r.status >= WIRE_ST__COUNT)
        report(v, seq, ERR_PROTO, "unknown status %u", r.status);
    check_links(v, &r);
}

/* An index whose entry count differs from the records' has extra entries
 * (missing ones are named per record). */
static void check_count(struct vctx *v, MDB_dbi dbi, const char *name, uint64_t records)
{
    MDB_stat st;
    int rc = mdb_stat(v->txn, dbi, &st);
    if (rc)
        report(v, 0, -EIO, "%s: %s", name, mdb_strerror(rc));
    else if (st.ms_entries > records)
        report(v, 0, ERR_PROTO, "%s holds %llu entries for %llu records", name,
               (unsigned long long)st.ms_entries, (unsigned long long)records);
}

int store_verify(store_t *s, store_verify_cb on_error, store_progress_cb progress, void *arg,
                 uint64_t *records_checked)
{
    if (records_checked)
        *records_checked = 0;
    struct vctx v = {.s = s, .on_error = on_error, .arg = arg};
    wire_buf_init(&v.msg);
    int rc = store_rd_begin(s, &v.txn);
    if (rc)
        return rc;
    MDB_cursor *c = NULL;
    if ((rc = mdb_cursor_open(v.txn, s->log, &c)) != 0 ||
        (rc = mdb_cursor_open(v.txn, s->by_child, &v.by_child)) != 0 ||
        (rc = mdb_cursor_open(v.txn, s->by_parent, &v.by_parent)) != 0) {
        rc = store_mdb_err("verify", rc);
        goto out;
    }

    uint64_t total = 0, checked = 0, expect = 1, last_seq = 0;
    uint8_t prev[CRYPTO_HASH_LEN] = {0};
    MDB_val k, d;
    if (mdb_cursor_get(c, &k, &d, MDB_LAST) == 0 && k.mv_size == 8)
        total = store_get_be64(k.mv_data);
    int mrc;
    for (mrc = mdb_cursor_get(c, &k, &d, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        checked++;
        if (k.mv_size != 8) {
            report(&v, 0, ERR_PROTO, "log key of %zu bytes (entry %llu)", k.mv_size,
                   (unsigned long long)checked);
            continue;
        }
        uint64_t seq = store_get_be64(k.mv_data);
        if (seq != expect) {
            if (seq > expect && seq - expect == 1)
                report(&v, expect, ERR_PROTO, "record missing (gap before %llu)",
                       (unsigned long long)seq);
            else if (seq > expect)
                report(&v, expect, ERR_PROTO, "records %llu..%llu missing (gap)",
                       (unsigned long long)expect, (unsigned long long)(seq - 1));
            else
                report(&v, seq, ERR_PROTO, "out of order (expected %llu)",
                       (unsigned long long)expect);
        }
        if (d.mv_size < CRYPTO_SIG_LEN)
            report(&v, seq, ERR_PROTO, "record of %zu bytes does not decode", d.mv_size);
        else
            check_record(&v, seq, d.mv_data, d.mv_size, prev);
        /* The chain goes on from the stored bytes, decodable or not, so one
         * damaged record is named once rather than breaking every later one. */
        crypto_hash(d.mv_data, d.mv_size, prev);
        expect = seq + 1;
        last_seq = seq;
        if (progress && checked % PROGRESS_EVERY == 0 && progress(arg, checked, total) != 0) {
            rc = -ECANCELED;
            goto out;
        }
    }
    if (mrc != MDB_NOTFOUND) {
        rc = store_mdb_err("verify", mrc);
        goto out;
    }

    MDB_val hk = {4, (void *)"head"};
    mrc = mdb_get(v.txn, s->meta, &hk, &d);
    if (mrc == MDB_NOTFOUND) {
        if (last_seq)
            report(&v, last_seq, ERR_PROTO, "meta head missing");
    } else if (mrc) {
        report(&v, 0, -EIO, "meta head: %s", mdb_strerror(mrc));
    } else if (d.mv_size != STORE_HEAD_LEN) {
        report(&v, last_seq, ERR_PROTO, "meta head malformed");
    } else {
        uint64_t hseq = store_get_be64(d.mv_data);
        if (hseq != last_seq)
            report(&v, hseq > last_seq ? hseq : last_seq, ERR_PROTO,
                   "meta head names seq %llu but the log ends at %llu", (unsigned long long)hseq,
                   (unsigned long long)last_seq);
        else if (memcmp((uint8_t *)d.mv_data + 8, prev, CRYPTO_HASH_LEN) != 0)
            report(&v, last_seq, ERR_PROTO, "meta head hash is not the last record's hash");
    }
    check_count(&v, s->by_key, "by_key", checked);
    check_count(&v, s->by_child, "by_child", checked);
    if (progress)
        (void)progress(arg, checked, total);
    if (records_checked)
        *records_checked = checked;
    rc = v.first;
out:
    if (v.by_parent)
        mdb_cursor_close(v.by_parent);
    if (v.by_child)
        mdb_cursor_close(v.by_child);
    if (c)
        mdb_cursor_close(c);
    store_rd_end(s, v.txn);
    wire_buf_free(&v.msg);
    return rc;
}
