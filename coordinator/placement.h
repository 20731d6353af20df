/* placement.h - weighted rendezvous (highest random weight) hashing: which
 * agent owns a deme. Each (node, key) pair gets a score -weight / ln(u) with
 * u uniform in (0,1) from a hash of both; the highest score wins. A join or
 * leave moves only the keys whose winner changes, about 1/N of them, and a
 * node's share of keys is proportional to its weight. place_demes bounds each
 * node's share of one population's demes by its weight. */
#ifndef PETRI_PLACEMENT_H
#define PETRI_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

#define PLACE_ID_LEN 16

typedef struct place_node {
    uint8_t id[PLACE_ID_LEN];
    double weight; /* > 0 to take keys; <= 0 never wins */
} place_node_t;

/* The score of one node for one key (higher wins). */
double place_score(const place_node_t *node, const void *key, size_t keylen);
/* Index of the winning node for key, or -1 if no node has weight > 0. */
int place_pick(const place_node_t *nodes, int n, const void *key, size_t keylen);
/* The deme key: "<population>/<deme>". Returns the length written. */
size_t place_deme_key(const char *population, uint32_t deme, char *out, size_t cap);
/* Rendezvous with bounded loads: the demes of one population, in order, each
 * to the node of highest score for its key among those under their cap,
 * ceil(ndemes * weight / total weight). A population's demes spread over the
 * nodes by weight (2 demes on 2 equal nodes: one each; plain rendezvous puts
 * both on one node half the time), and a join or leave still moves few of
 * them. owner[d] is a node index, or -1 when no node has weight > 0. */
void place_demes(const place_node_t *nodes, int n, const char *population, uint32_t ndemes,
                 int *owner);

#endif
