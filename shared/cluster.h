/* cluster.h - what every daemon needs to take part in the cluster: the
 * cluster keyring from its config, and the node metadata it gossips
 * (compact JSON, <= 512 bytes): role, capacity, VM health, load, version,
 * public key, work endpoint. */
#ifndef PETRI_CLUSTER_H
#define PETRI_CLUSTER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "crypto.h"

#define CLUSTER_META_MAX 512

/* Fills kr from [gossip] key (base64) and/or [gossip] keyring_file. With
 * neither: ERR_CONFIG with a message, unless insecure, which installs the
 * all-zero key (every --insecure node can talk to every other; none of
 * them to a keyed cluster) and logs a warning. */
int cluster_keys_load(const cfg_t *c, keyring_t *kr, int insecure, char *err, size_t errlen);

/* "tcp://host:port" where agents reach the coordinator's work socket:
 * [work] advertise, else the host of [gossip] advertise (or of [gossip]
 * bind when it is not 0.0.0.0) with the port of [work] bind. */
int cluster_work_endpoint(const cfg_t *c, char *out, size_t cap);

/* Metadata documents; each returns the length written (always < cap). */
size_t cluster_meta_coordinator(char *out, size_t cap, const uint8_t pk[CRYPTO_PK_LEN],
                                const char *work_endpoint);
size_t cluster_meta_agent(char *out, size_t cap, const uint8_t pk[CRYPTO_PK_LEN], int vms_ready,
                          int vms_total, double load, const char *coordinator);

/* Adds (or replaces) key: val, a string, in the metadata document
 * meta[0..len) and writes the result back (cap bytes). Returns the new
 * length, or len with meta unchanged if it would not fit (the caller logs
 * that) or meta is not a JSON object. Used for "ckpt", the newest lineage
 * checkpoint a node holds (ckpt.h). */
size_t cluster_meta_set(char *meta, size_t len, size_t cap, const char *key, const char *val);

/* Parses metadata bytes into a JSON object (new reference); bytes that are
 * not a JSON object become {"raw": "<hex>"} so nothing is lost or trusted. */
json_t *cluster_meta_parse(const uint8_t *meta, size_t len);
/* The members as the API and the CLI show them: an array of objects with
 * exactly name, id, addr, status, incarnation, role, meta (new reference). */
struct gossip;
json_t *cluster_members_json(const struct gossip *g);
/* Gossip counters and probe round trips as JSON (new reference). */
json_t *cluster_gossip_json(const struct gossip *g);
/* The role in metadata ("agent", "coordinator"), "" if none. */
const char *cluster_meta_role(json_t *meta);
/* Does the public key advertised in meta ("pk", base64) derive the member's
 * id (crypto_id_check)? 1 if it does or meta advertises none, 0 if it does
 * not or cannot be read: such metadata names a key its member cannot hold. */
int cluster_meta_key_ok(const uint8_t id[CRYPTO_ID_LEN], json_t *meta);

#endif
