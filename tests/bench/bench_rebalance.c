/* bench_rebalance.c - how many demes move when one of 10 agents joins or
 * leaves, against the ideal 1/10 (1/11 for a join), over many seeds. The
 * baseline printed beside it is modulo placement (deme % N), what a naive
 * sharding would move. Prints a table and one JSON line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement.h"

#define AGENTS 10
#define DEMES 64
#define SEEDS 500

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void nodes_for(place_node_t *n, int count, int seed)
{
    for (int i = 0; i < count; i++) {
        memset(&n[i], 0, sizeof n[i]);
        /* 16 id bytes: seed and index, the rest zero */
        for (int b = 0; b < 4; b++) {
            n[i].id[b] = (uint8_t)((unsigned)seed >> (8 * b));
            n[i].id[4 + b] = (uint8_t)((unsigned)i >> (8 * b));
        }
        n[i].weight = 2;
    }
}

int main(void)
{
    static double join_ratio[SEEDS], leave_ratio[SEEDS], mod_join[SEEDS];
    place_node_t nodes[AGENTS + 1];
    char key[64], pop[32];
    for (int s = 0; s < SEEDS; s++) {
        snprintf(pop, sizeof pop, "pop%d", s);
        nodes_for(nodes, AGENTS + 1, s);
        int base[DEMES], moved_join = 0, moved_leave = 0, moved_mod = 0;
        for (int d = 0; d < DEMES; d++) {
            size_t kl = place_deme_key(pop, (uint32_t)d, key, sizeof key);
            base[d] = place_pick(nodes, AGENTS, key, kl);
            moved_join += place_pick(nodes, AGENTS + 1, key, kl) != base[d];
            moved_mod += (d % AGENTS) != (d % (AGENTS + 1));
        }
        int leaver = s % AGENTS;
        nodes[leaver].weight = 0;
        for (int d = 0; d < DEMES; d++) {
            size_t kl = place_deme_key(pop, (uint32_t)d, key, sizeof key);
            moved_leave += place_pick(nodes, AGENTS, key, kl) != base[d];
        }
        join_ratio[s] = ((double)moved_join / DEMES) / (1.0 / (AGENTS + 1));
        leave_ratio[s] = ((double)moved_leave / DEMES) / (1.0 / AGENTS);
        mod_join[s] = ((double)moved_mod / DEMES) / (1.0 / (AGENTS + 1));
    }
    double mj = 0, ml = 0, mm = 0;
    for (int s = 0; s < SEEDS; s++) {
        mj += join_ratio[s];
        ml += leave_ratio[s];
        mm += mod_join[s];
    }
    mj /= SEEDS;
    ml /= SEEDS;
    mm /= SEEDS;
    qsort(join_ratio, SEEDS, sizeof(double), cmpd);
    qsort(leave_ratio, SEEDS, sizeof(double), cmpd);
    printf(
        "rebalance: %d agents, %d demes, %d seeds (ratio = fraction moved / ideal; goal <= 1.5)\n",
        AGENTS, DEMES, SEEDS);
    printf("%-22s %8s %8s %8s\n", "event", "mean", "median", "p90");
    printf("%-22s %8.3f %8.3f %8.3f\n", "join (rendezvous)", mj, join_ratio[SEEDS / 2],
           join_ratio[SEEDS * 9 / 10]);
    printf("%-22s %8.3f %8.3f %8.3f\n", "leave (rendezvous)", ml, leave_ratio[SEEDS / 2],
           leave_ratio[SEEDS * 9 / 10]);
    printf("%-22s %8.3f\n", "join (modulo baseline)", mm);
    printf("{\"bench\":\"rebalance\",\"agents\":%d,\"demes\":%d,\"seeds\":%d,"
           "\"join_ratio_mean\":%.4f,\"leave_ratio_mean\":%.4f,\"join_ratio_median\":%.4f,"
           "\"leave_ratio_median\":%.4f,\"modulo_join_ratio_mean\":%.4f}\n",
           AGENTS, DEMES, SEEDS, mj, ml, join_ratio[SEEDS / 2], leave_ratio[SEEDS / 2], mm);
    return 0;
}
