/* cluster.c - cluster keys from config, node metadata (cluster.h). */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "gossip.h"
#include "log.h"

int cluster_keys_load(const cfg_t *c, keyring_t *kr, int insecure, char *err, size_t errlen)
{
    const char *key = cfg_str(c, "gossip", "key");
    const char *file = cfg_str(c, "gossip", "keyring_file");
    if (*file) {
        int rc = keyring_load_file(kr, file, err, errlen);
        if (rc)
            return rc;
    }
    if (*key) {
        uint8_t k[CRYPTO_KEY_LEN];
        if (crypto_key_from_b64(key, k) != 0) {
            snprintf(err, errlen,
                     "[gossip] key: not a base64 32-byte key (make one with "
                     "`petri keygen`)");
            return ERR_CONFIG;
        }
        int rc = keyring_add(kr, k);
        /* the configured key is the primary unless a keyring file came first */
        if (rc == 0 && !*file)
            rc = keyring_use(kr, k);
        sodium_memzero(k, sizeof k);
        if (rc) {
            snprintf(err, errlen, "[gossip] key: %s", err_str(rc));
            return rc;
        }
    }
    if (keyring_count(kr) > 0)
        return 0;
    if (!insecure) {
        snprintf(err, errlen,
                 "no cluster key: set [gossip] key or [gossip] keyring_file "
                 "(`petri keygen` makes one), or start with --insecure for a throwaway cluster");
        return ERR_CONFIG;
    }
    uint8_t zero[CRYPTO_KEY_LEN] = {0};
    log_warn("cluster.insecure", "msg=\"no cluster key: using the well-known insecure key; "
                                 "anyone can join and read this cluster\"");
    return keyring_add(kr, zero);
}

static int host_of(const char *addr, char *host, size_t cap)
{
    int port;
    return *addr ? cfg_split_addr(addr, host, cap, &port) : ERR_NOTFOUND;
}

int cluster_work_endpoint(const cfg_t *c, char *out, size_t cap)
{
    const char *adv = cfg_str(c, "work", "advertise");
    if (*adv) {
        snprintf(out, cap, "tcp://%s", adv);
        return 0;
    }
    char host[256], bhost[256];
    int port;
    if (cfg_split_addr(cfg_str(c, "work", "bind"), bhost, sizeof bhost, &port) != 0)
        return ERR_CONFIG;
    if (host_of(cfg_str(c, "gossip", "advertise"), host, sizeof host) != 0) {
        /* as gossip does: a wildcard bind advertises this host's name */
        if (strcmp(bhost, "0.0.0.0") != 0 && strcmp(bhost, "::") != 0 && strcmp(bhost, "*") != 0)
            snprintf(host, sizeof host, "%s", bhost);
        else if (host_of(cfg_str(c, "gossip", "bind"), host, sizeof host) != 0 ||
                 strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ||
                 strcmp(host, "*") == 0) {
            if (gethostname(host, sizeof host - 1) != 0 || !host[0])
                snprintf(host, sizeof host, "127.0.0.1");
            host[sizeof host - 1] = '\0';
        }
    }
    if (strchr(host, ':'))
        snprintf(out, cap, "tcp://[%s]:%d", host, port);
    else
        snprintf(out, cap, "tcp://%s:%d", host, port);
    return 0;
}

static size_t dump(json_t *o, char *out, size_t cap)
{
    size_t n = json_dumpb(o, out, cap - 1, JSON_COMPACT);
    json_decref(o);
    if (n >= cap)
        n = 0;
    out[n] = '\0';
    return n;
}

size_t cluster_meta_coordinator(char *out, size_t cap, const uint8_t pk[CRYPTO_PK_LEN],
                                const char *work_endpoint)
{
    char b64[CRYPTO_KEY_B64_LEN + 1];
    crypto_key_to_b64(pk, b64);
    return dump(json_pack("{s:s, s:s, s:s, s:s}", "role", "coordinator", "ver", PETRI_VERSION, "pk",
                          b64, "work", work_endpoint),
                out, cap);
}

size_t cluster_meta_agent(char *out, size_t cap, const uint8_t pk[CRYPTO_PK_LEN], int vms_ready,
                          int vms_total, double load, const char *coordinator)
{
    char b64[CRYPTO_KEY_B64_LEN + 1];
    crypto_key_to_b64(pk, b64);
    return dump(json_pack("{s:s, s:i, s:i, s:i, s:f, s:s, s:s, s:s}", "role", "agent", "cap",
                          vms_total, "vms", vms_ready, "vms_total", vms_total, "load",
                          (double)((int)(load * 100)) / 100.0, "ver", PETRI_VERSION, "pk", b64,
                          "work", coordinator ? coordinator : ""),
                out, cap);
}

size_t cluster_meta_set(char *meta, size_t len, size_t cap, const char *key, const char *val)
{
    json_t *o = json_loadb(meta, len, 0, NULL);
    if (!o || !json_is_object(o) || json_object_set_new(o, key, json_string(val)) != 0) {
        json_decref(o);
        return len;
    }
    char buf[CLUSTER_META_MAX + 1];
    size_t n = json_dumpb(o, buf, sizeof buf, JSON_COMPACT);
    json_decref(o);
    if (n == 0 || n >= cap || n > CLUSTER_META_MAX)
        return len;
    memcpy(meta, buf, n);
    meta[n] = '\0';
    return n;
}

json_t *cluster_meta_parse(const uint8_t *meta, size_t len)
{
    json_t *o = len ? json_loadb((const char *)meta, len, 0, NULL) : NULL;
    if (o && json_is_object(o))
        return o;
    json_decref(o);
    char hex[2 * CLUSTER_META_MAX + 1];
    if (len > CLUSTER_META_MAX)
        len = CLUSTER_META_MAX;
    crypto_hex(meta, len, hex);
    return len ? json_pack("{s:s}", "raw", hex) : json_object();
}

const char *cluster_meta_role(json_t *meta)
{
    const char *r = json_string_value(json_object_get(meta, "role"));
    return r ? r : "";
}

int cluster_meta_key_ok(const uint8_t id[CRYPTO_ID_LEN], json_t *meta)
{
    json_t *pkj = json_object_get(meta, "pk");
    if (!pkj)
        return 1;
    uint8_t pk[CRYPTO_PK_LEN];
    const char *b64 = json_string_value(pkj);
    return b64 && crypto_key_from_b64(b64, pk) == 0 && crypto_id_check(id, pk) == 0;
}

json_t *cluster_members_json(const gossip_t *g)
{
    json_t *arr = json_array();
    gossip_member_t *ms = NULL;
    int n = gossip_members(g, &ms);
    for (int i = 0; i < n; i++) {
        char id[2 * CRYPTO_ID_LEN + 1];
        crypto_hex(ms[i].id, CRYPTO_ID_LEN, id);
        json_t *meta = cluster_meta_parse(ms[i].meta, ms[i].metalen);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:o}", "name",
                                             ms[i].name, "id", id, "addr", ms[i].addr, "status",
                                             swim_status_str(ms[i].status), "incarnation",
                                             (json_int_t)ms[i].incarnation, "role",
                                             cluster_meta_role(meta), "meta", meta));
    }
    free(ms);
    return arr;
}

json_t *cluster_gossip_json(const gossip_t *g)
{
    gossip_stats_t st;
    gossip_get_stats(g, &st);
    const swim_stats_t *w = &st.swim;
    double avg = w->rtt_count ? (double)w->rtt_sum_us / (double)w->rtt_count : 0;
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:f, s:I, s:I}, s:I, s:I, "
                     "s:I, s:I, s:I, s:I, s:i}",
                     "advertise", gossip_advertise(g), "probes", (json_int_t)w->probes, "acks",
                     (json_int_t)w->acks, "indirect_acks", (json_int_t)w->indirect_acks,
                     "probe_failures", (json_int_t)w->probe_failures, "suspicions",
                     (json_int_t)w->suspicions, "refutations", (json_int_t)w->refutations,
                     "probe_rtt_us", "count", (json_int_t)w->rtt_count, "avg", avg, "min",
                     (json_int_t)w->rtt_min_us, "max", (json_int_t)w->rtt_max_us, "sent",
                     (json_int_t)st.sent, "received", (json_int_t)st.received, "send_dropped",
                     (json_int_t)st.send_dropped, "drop_crypto", (json_int_t)st.drop_crypto,
                     "drop_replay", (json_int_t)st.drop_replay, "drop_size",
                     (json_int_t)st.drop_size, "peers_open", (int)st.peers_open);
}
