/* settings.c - the coordinator's settings: one table, a reason for each default. */
#include "settings.h"

#include "gossip.h"
#include "http.h"
#include "swim.h"

const cfg_opt_t coord_settings[] = {
    {"node", "name", CFG_STR, "", 0, 0, 0, "empty = the host name; unique in the cluster"},
    {"node", "data_dir", CFG_STR, "/var/lib/petri/coordinator", 0, 0, 0,
     "node identity, the LMDB lineage store and population state"},
    {"log", "level", CFG_STR, "info", 0, 0, 0, "debug|info|warn|error"},
    {"log", "syslog", CFG_BOOL, "false", 0, 0, 0, "stderr suits systemd/journald and containers"},
    GOSSIP_CFG_OPTS,
    SWIM_CFG_OPTS,
    {"work", "bind", CFG_ADDR, "0.0.0.0:7950", 0, 0, 0, "agents connect here for work"},
    {"work", "advertise", CFG_ADDR, "", 0, 0, 0,
     "empty = the gossip advertise host with the work port; set it behind NAT"},
    {"work", "max_inflight_per_deme", CFG_INT, "64", 1, 100000, 0,
     "bounds the work a deme has out at once, so selection sees fresh results"},
    {"work", "item_expiry_timeouts", CFG_INT, "20", 1, 100000, 0,
     "an item unanswered after this many of its spec's limits.timeout_ms is re-issued: it waits "
     "behind at most [work] credit_per_vm (8) others on its VM, each bounded by the timeout"},
    {"work", "item_expiry_min_ms", CFG_INT, "30000", 100, 86400000, 0,
     "but never sooner: breeding, a VM restart (heartbeat 5 s, boot up to 15 s) and the trip "
     "add seconds; a dropped item holds its deme's slot no longer than this"},
    {"http", "bind", CFG_ADDR, "127.0.0.1:7951", 0, 0, 0,
     "the API listens on loopback unless told otherwise"},
    {"http", "token", CFG_STR, "", 0, 0, CFG_SECRET,
     "bearer token for mutating requests; empty = the API is read-only"},
    {"http", "max_body_bytes", CFG_INT, "1048576", 1024, 64 << 20, 0,
     "specs and genomes are small; bigger bodies are refused unread"},
    {"http", "header_timeout_s", CFG_INT, HTTP_STR(HTTP_HEADER_TIMEOUT_S), 1, 3600, 0,
     "a request head is a few hundred bytes: a client that has not sent it whole this long "
     "after connecting (or after its previous answer) is holding a slot, however slowly it "
     "trickles"},
    {"http", "idle_timeout_s", CFG_INT, HTTP_STR(HTTP_IDLE_TIMEOUT_S), 1, 3600, 0,
     "an upload or an answer that makes no progress this long is stalled; the time the "
     "coordinator takes to answer does not count"},
    {"http", "max_connections_per_ip", CFG_INT, HTTP_STR(HTTP_MAX_PER_IP), 0, HTTP_MAX_CONNECTIONS,
     0,
     "a CLI, a browser (6 per host) and a scraper fit; one address cannot take all " HTTP_STR(
         HTTP_MAX_CONNECTIONS) " connection slots; 0 = no limit (behind a proxy)"},
    {"store", "map_mb", CFG_INT, "1024", 16, 1 << 24, 0,
     "initial LMDB map size; it grows on demand"},
    {"store", "commit_interval_ms", CFG_INT, "50", 1, 60000, 0,
     "group commit: records wait at most this long for their durable transaction"},
    {"store", "commit_max", CFG_INT, "1024", 1, 100000, 0,
     "group commit: a batch this big commits at once"},
    {"store", "save_interval_ms", CFG_INT, "1000", 10, 600000, 0,
     "population state is saved at most this often (after the records it refers to)"},
    {"lineage", "checkpoint_records", CFG_INT, "1000", 1, 100000000, 0,
     "a signed checkpoint of the log head goes to the agents after this many records..."},
    {"lineage", "checkpoint_interval_ms", CFG_INT, "1000", 10, 3600000, 0,
     "...or after this long with new records: a rollback loses at most this much unseen"},
    {"lineage", "pinned_key", CFG_STR, "", 0, 0, 0,
     "fingerprint of the coordinator key the lineage must be signed with; empty = none"},
    {NULL, NULL, 0, NULL, 0, 0, 0, NULL},
};

cfg_t *coord_config_load(const char *path, char **overrides, int n, char *err, size_t errlen)
{
    return cfg_load_all(coord_settings, path, overrides, n, err, errlen);
}
