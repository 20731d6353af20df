/* api_mut.h - the HTTP resources of external mutators (api_mut.c): the
 * prompt bundle sampled from a running population, and the submission of
 * an external mutator's child with its origin. Both run on the loop thread,
 * called from api.c after the population is found.
 *
 * A prompt bundle (GET /v1/populations/NAME/bundle?members=K&deme=D) is a
 * JSON object: bundle_version (1), population, deme, spec (the function,
 * arity, language, variables, primitives, atoms, error, limits and the
 * fitness cases or an even sample of them), parents (the deme's best, then
 * members of other fitness values and hashes: hash, source, fitness,
 * passed, cases, cost and the failing cases when the population keeps
 * per-case errors), notes (what was capped or is unknown) and bundle_hash:
 * BLAKE2b-256 hex of the bundle's canonical bytes, the compact encoding with
 * sorted keys (jansson JSON_COMPACT | JSON_SORT_KEYS) of the object without
 * bundle_hash. Loading the served document, removing bundle_hash and
 * encoding it so gives the same bytes (api_bundle_hash). */
#ifndef PETRI_API_MUT_H
#define PETRI_API_MUT_H

#include <jansson.h>

#include "coord.h"

#define BUNDLE_VERSION 1
#define BUNDLE_MAX_MEMBERS 16    /* parents in one bundle */
#define BUNDLE_DEFAULT_MEMBERS 4 /* when members= is absent */
#define BUNDLE_MAX_CASES 64      /* fitness cases shown in spec.cases (an even sample past it) */
#define BUNDLE_MAX_FAILING 16    /* failing cases shown per parent */
#define BUNDLE_MAX_BYTES (256u << 10) /* parents past the best are left out beyond it */
#define FAILURE_MAX_BYTES 4096        /* bytes of a failed answer the lineage keeps */

/* GET /v1/populations/NAME/bundle: 200 the bundle; 400 a bad members/deme;
 * 409 {"error", "state"} when the deme has no member yet. */
void api_bundle(coord_t *c, pop_t *p, const char *query, http_resp_t *resp);

/* 1 if a submission body names an origin (mutator, parents, input_hash or
 * failure): api_submit_external handles it. */
int api_is_external(const json_t *body);
/* POST /v1/populations/NAME/genomes with an origin: 202 as a plain
 * submission plus operator, parents [{hash, known_as}] and, for a failure,
 * the status it was recorded with; 400 naming the field. body is borrowed. */
void api_submit_external(coord_t *c, pop_t *p, json_t *body, http_resp_t *resp);

/* coord.c: hands a result the coordinator reached itself (an item no agent
 * ran) to the path an agent's verified result takes: recorded (a version 4
 * record: r->sig is over attest_result_v2() with the breeder), counted. */
void coord_local_result(coord_t *c, work_item_t *it, const work_result_t *r);

/* BLAKE2b-256 hex (65 bytes with the NUL) of bundle's canonical encoding,
 * leaving out a "bundle_hash" member. 0, or -ENOMEM. */
int api_bundle_hash(const json_t *bundle, char hex[65]);

#endif
