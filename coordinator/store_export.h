/* store_export.h - the lineage export: every record with everything a third
 * party needs to check it offline (its stored bytes, hashes, both
 * signatures and public keys), streamed from the store, and the offline
 * check of such a file (`petri lineage verify --file`).
 *
 * JSON format STORE_EXPORT_FORMAT, written in this order:
 *   {"format": "petri-lineage-export-v1", "coord_pk": hex, "key": fingerprint,
 *    "records": [ENTRY, ...], "damaged": count, "end": {"seq": n, "hash": hex}}
 * ENTRY is either a record, whose "raw" (hex of the stored bytes) is
 * authoritative and whose other fields are what store_export_rec_json makes
 * of it, or {"seq": n, "error": reason} for a record the store could not
 * read or decode. A file cut short is not valid JSON: truncation is never
 * silent. DOT output names damaged records in comments and ends with a
 * comment giving the count. */
#ifndef PETRI_STORE_EXPORT_H
#define PETRI_STORE_EXPORT_H

#include <jansson.h>

#include "store.h"

#define STORE_EXPORT_FORMAT "petri-lineage-export-v1"

enum store_export_fmt { STORE_EXPORT_JSON, STORE_EXPORT_DOT };

/* Receives the export's bytes in order; nonzero stops the export (then
 * store_export returns that value). */
typedef int (*store_write_fn)(void *arg, const char *data, size_t len);

/* Streams records 1..head (the durable head when it starts) through w.
 * *records gets the entries written, *damaged those that were error
 * entries. 0, the writer's nonzero value, or -ENOMEM. */
int store_export(store_t *s, enum store_export_fmt fmt, store_write_fn w, void *arg,
                 uint64_t *records, uint64_t *damaged);

/* r's breeder as a JSON hex string, or JSON null when r names none
 * (store_rec_breeder). A new reference. */
json_t *store_rec_breeder_json(const lineage_rec_t *r);

/* The export entry of a decoded record and its stored bytes (new ref). */
json_t *store_export_rec_json(const lineage_rec_t *r, const uint8_t *raw, size_t len);

/* Checks an export document without a store: the format; for every record,
 * that seqs run 1, 2, ... with no gap; that raw decodes and hashes to
 * "hash"; the prev_hash chain; the coordinator signature against coord_pk;
 * the agent signature; that every other field is what raw says; no error
 * entries; that "end" names the last record. With pin (a fingerprint, or
 * NULL) coord_pk must have that fingerprint. Problems go to on_error (seq
 * 0 for the file's own); *checked gets the records checked; fp (may be
 * NULL) the fingerprint of the export's coord_pk. Returns 0 if all holds,
 * else the first problem's code (ERR_CRYPTO for a key or signature,
 * ERR_PROTO otherwise). Genome sources are not in an export: that a
 * genome hashes to its child hash is checked by store_verify only. */
int store_export_verify(json_t *doc, const char *pin, store_verify_cb on_error, void *arg,
                        uint64_t *checked, char fp[STORE_FP_LEN + 1]);

#endif
