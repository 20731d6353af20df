/* settings.c - the coordinator's settings: one table, a reason for each default. */
#include "settings.h"

#include "gossip.h"
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
    {"http", "bind", CFG_ADDR, "127.0.0.1:7951", 0, 0, 0,
     "the API listens on loopback unless told otherwise"},
    {"http", "token", CFG_STR, "", 0, 0, CFG_SECRET,
     "bearer token for mutating requests; empty = the API is read-only"},
    {"http", "max_body_bytes", CFG_INT, "1048576", 1024, 64 << 20, 0,
     "specs and genomes are small; bigger bodies are refused unread"},
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
