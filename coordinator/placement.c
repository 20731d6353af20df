/* placement.c - weighted rendezvous hashing (placement.h). */
#include "placement.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double place_score(const place_node_t *node, const void *key, size_t keylen)
{
    if (!(node->weight > 0))
        return -INFINITY;
    crypto_generichash_state st;
    uint8_t h[8];
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, node->id, PLACE_ID_LEN);
    crypto_generichash_update(&st, key, keylen);
    crypto_generichash_final(&st, h, sizeof h);
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | h[i];
    /* u in (0,1): 53 random bits, never 0 or 1 */
    double u = ((double)(x >> 11) + 0.5) / 9007199254740992.0;
    return -node->weight / log(u);
}

int place_pick(const place_node_t *nodes, int n, const void *key, size_t keylen)
{
    int best = -1;
    double best_score = -INFINITY;
    for (int i = 0; i < n; i++) {
        double s = place_score(&nodes[i], key, keylen);
        /* ties (practically impossible) go to the smaller id, for determinism */
        if (s > best_score || (best >= 0 && s == best_score &&
                               memcmp(nodes[i].id, nodes[best].id, PLACE_ID_LEN) < 0)) {
            best = i;
            best_score = s;
        }
    }
    return best_score == -INFINITY ? -1 : best;
}

size_t place_deme_key(const char *population, uint32_t deme, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%u", population, deme);
    return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

void place_demes(const place_node_t *nodes, int n, const char *population, uint32_t ndemes,
                 int *owner)
{
    double total = 0;
    for (int i = 0; i < n; i++)
        if (nodes[i].weight > 0)
            total += nodes[i].weight;
    uint32_t *load = n > 0 ? calloc((size_t)n, sizeof *load) : NULL;
    char key[160];
    for (uint32_t d = 0; d < ndemes; d++) {
        size_t kl = place_deme_key(population, d, key, sizeof key);
        if (!load) { /* no memory (or no node): plain rendezvous */
            owner[d] = place_pick(nodes, n, key, kl);
            continue;
        }
        int best = -1;
        double best_score = -INFINITY;
        for (int i = 0; i < n; i++) {
            if (!(nodes[i].weight > 0) ||
                (double)load[i] >= ceil((double)ndemes * nodes[i].weight / total))
                continue;
            double s = place_score(&nodes[i], key, kl);
            if (best < 0 || s > best_score ||
                (s == best_score && memcmp(nodes[i].id, nodes[best].id, PLACE_ID_LEN) < 0)) {
                best = i;
                best_score = s;
            }
        }
        if (best < 0) /* every node at its cap: cannot happen, caps sum to >= ndemes */
            best = place_pick(nodes, n, key, kl);
        owner[d] = best;
        if (best >= 0)
            load[best]++;
    }
    free(load);
}
