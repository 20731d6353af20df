/* metrics_gossip.c - the membership metrics every daemon exports
 * (petri_gossip_*), from gossip_members and gossip_get_stats. */
#include <stdlib.h>

#include "gossip.h"
#include "metrics.h"

void metrics_gossip_from(metrics_buf_t *m, const gossip_member_t *mem, int n,
                         const gossip_stats_t *st)
{
    static const char *const states[] = {"alive", "suspect", "dead", "left"};
    double by[4] = {0};
    for (int i = 0; i < n; i++)
        if ((int)mem[i].status >= 0 && (int)mem[i].status < 4)
            by[mem[i].status]++;
    metrics_family(m, "petri_gossip_members", "gauge",
                   "Known cluster members by state, this node included.");
    for (int s = 0; s < 4; s++)
        metrics_sample(m, "petri_gossip_members", by[s], "state", states[s], NULL);

    const swim_stats_t *w = &st->swim;
    metrics_one(m, "petri_gossip_probes_total", "counter", "Direct probes sent.",
                (double)w->probes);
    metrics_one(m, "petri_gossip_probe_failures_total", "counter",
                "Probes that got no ack, direct or indirect, in time.", (double)w->probe_failures);
    metrics_one(m, "petri_gossip_acks_total", "counter", "Acks received for our probes.",
                (double)w->acks);
    metrics_one(m, "petri_gossip_indirect_acks_total", "counter",
                "Acks that came back through an indirect probe.", (double)w->indirect_acks);
    metrics_one(m, "petri_gossip_suspicions_total", "counter",
                "Members marked suspect here (any accuser).", (double)w->suspicions);
    metrics_one(m, "petri_gossip_refutations_total", "counter",
                "Times this node raised its incarnation to refute a suspicion.",
                (double)w->refutations);
    metrics_one(m, "petri_gossip_deaths_declared_total", "counter",
                "Suspicion timeouts that declared a member dead here.", (double)w->deaths_declared);
    metrics_one(m, "petri_gossip_sent_bytes_total", "counter", "Protocol bytes sent.",
                (double)w->bytes_out);
    metrics_one(m, "petri_gossip_received_bytes_total", "counter", "Protocol bytes received.",
                (double)w->bytes_in);
    metrics_one(m, "petri_gossip_packets_sent_total", "counter", "Sealed packets sent.",
                (double)st->sent);
    metrics_one(m, "petri_gossip_packets_received_total", "counter", "Sealed packets received.",
                (double)st->received);
    metrics_family(m, "petri_gossip_packets_dropped_total", "counter",
                   "Packets dropped, by reason.");
    struct {
        const char *reason;
        uint64_t v;
    } drops[] = {
        {"send_queue", st->send_dropped},
        {"crypto", st->drop_crypto},
        {"replay", st->drop_replay},
        {"size", st->drop_size},
        {"malformed", w->drop_malformed},
        {"version", w->drop_version},
        {"unknown_type", w->drop_unknown_type},
        {"stale", w->drop_stale},
        {"wrong_target", w->drop_wrong_target},
    };
    for (size_t i = 0; i < sizeof drops / sizeof drops[0]; i++)
        metrics_sample(m, "petri_gossip_packets_dropped_total", (double)drops[i].v, "reason",
                       drops[i].reason, NULL);
    metrics_one(m, "petri_gossip_peers_open", "gauge", "Open peer connections.",
                (double)st->peers_open);
    /* probe round trips: a summary (count, sum) plus the extremes seen */
    metrics_family(m, "petri_gossip_probe_rtt_seconds", "summary",
                   "Round trip of direct probes (ping to ack).");
    metrics_sample(m, "petri_gossip_probe_rtt_seconds_sum", (double)w->rtt_sum_us / 1e6, NULL);
    metrics_sample(m, "petri_gossip_probe_rtt_seconds_count", (double)w->rtt_count, NULL);
    metrics_one(m, "petri_gossip_probe_rtt_max_seconds", "gauge",
                "Longest direct probe round trip seen.", (double)w->rtt_max_us / 1e6);
    metrics_one(m, "petri_gossip_awareness", "gauge",
                "Local health multiplier (0 = healthy; higher = slower to suspect others).",
                (double)w->awareness);
}

void metrics_gossip(metrics_buf_t *m, const struct gossip *g)
{
    if (!g)
        return;
    gossip_member_t *mem = NULL;
    int n = gossip_members(g, &mem);
    gossip_stats_t st;
    gossip_get_stats(g, &st);
    metrics_gossip_from(m, mem, n > 0 ? n : 0, &st);
    free(mem);
}
