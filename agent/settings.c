/* settings.c - petri-agent's settings: one table, a reason for each default. */
#include "settings.h"

#include <unistd.h>

#include "err.h"
#include "gossip.h"
#include "swim.h"

#ifndef PETRI_BEAM_DIR
#define PETRI_BEAM_DIR "/usr/lib/petri/beam/ebin"
#endif

#define U32 4294967295LL

const cfg_opt_t agent_settings[] = {
    {"node", "name", CFG_STR, "", 0, 0, 0, "empty = the host name; unique per agent"},
    {"node", "data_dir", CFG_STR, "/var/lib/petri", 0, 0, 0,
     "node id, signing key and incarnation survive restarts here"},
    {"node", "run_dir", CFG_STR, "/run/petri", 0, 0, 0,
     "the local control socket (agent.sock) lives here"},
    {"log", "level", CFG_STR, "info", 0, 0, 0, "debug|info|warn|error; info tells what happened"},
    {"log", "syslog", CFG_BOOL, "false", 0, 0, 0, "stderr suits systemd/journald and containers"},
    {"beam", "vms", CFG_INT, "0", 0, 256, 0,
     "0 = one VM per core: code loading is serialised per VM, so VMs, not schedulers, scale"},
    {"beam", "min_vms", CFG_INT, "1", 1, 256, 0,
     "the coordinator never scales an agent below this many VMs"},
    {"beam", "max_vms", CFG_INT, "0", 0, 256, 0,
     "the coordinator may scale up to this many VMs; 0 = [beam] vms (no growth)"},
    {"beam", "erl", CFG_STR, "erl", 0, 0, 0, "the Erlang launcher, found on PATH"},
    {"beam", "code_path", CFG_STR, PETRI_BEAM_DIR, 0, 0, 0, "where petri's .beam files are"},
    {"beam", "elixir_path", CFG_STR, "auto", 0, 0, 0,
     "Elixir's ebin for Elixir genomes; auto = Debian's, if installed; empty = none"},
    {"beam", "slots", CFG_INT, "64", 1, 100000, 0,
     "sandbox modules per VM: bounds atoms; enough to keep recent genomes live"},
    {"beam", "result_cache", CFG_BOOL, "true", 0, 0, 0,
     "an identical genome on an identical spec is answered from the VM's cache: a quarter "
     "of a GP run's children repeat one already scored"},
    {"beam", "pipeline", CFG_INT, "4", 1, 16, 0,
     "jobs in flight per VM: while one compiles, the others' frames are read and answered"},
    {"beam", "heartbeat_interval_ms", CFG_INT, "1000", 10, 600000, 0,
     "a ping a second costs nothing and bounds detection time"},
    {"beam", "heartbeat_timeout_ms", CFG_INT, "5000", 50, 3600000, 0,
     "5 missed pings: a busy VM still answers (evals run off its control loop)"},
    {"beam", "boot_timeout_ms", CFG_INT, "15000", 100, 600000, 0,
     "a VM boots in ~0.1-1 s; a slow disk or loaded host gets plenty of slack"},
    {"beam", "max_loads", CFG_INT, "20000", 0, 1LL << 40, 0,
     "recycle a VM after this many loads to shed fragmentation; 0 = never"},
    {"beam", "recycle_atoms_pct", CFG_INT, "50", 0, 90, 0,
     "recycle a VM whose atoms pass this % of its limit (1048576): atoms are never freed and "
     "a full table halts the VM; half leaves room for a burst; 0 = never"},
    {"beam", "max_rss_mb", CFG_INT, "1024", 0, 1 << 20, 0,
     "RSS ceiling per VM, enforced from outside; 0 = none"},
    {"beam", "restart_backoff_ms", CFG_INT, "100", 1, U32, 0,
     "first restart delay; doubles per consecutive failure"},
    {"beam", "restart_backoff_max_ms", CFG_INT, "10000", 1, U32, 0,
     "a VM that cannot start is retried at least every 10 s"},
    {"beam", "restart_intensity", CFG_INT, "10", 0, 1000, 0,
     "more failures than this within restart_period_ms: the agent gives up (like OTP)"},
    {"beam", "restart_period_ms", CFG_INT, "60000", 1, U32, 0, "window of restart_intensity"},
    {"beam", "max_source_bytes", CFG_INT, "65536", 256, 16 << 20, 0,
     "genomes are small programs; bigger sources are refused before any VM sees them"},
    {"agent", "shutdown_grace_ms", CFG_INT, "5000", 0, 600000, 0,
     "on SIGTERM in-flight work gets this long to finish, then fails"},
    {"live", "max_individuals", CFG_INT, "4", 0, 1024, 0,
     "live individuals hosted at once, each on a VM of its own beside the pool's: a few "
     "keep their request rates without starving evaluation; 0 = host none"},
    {"work", "credit_per_vm", CFG_INT, "8", 1, 1024, 0,
     "items held per ready VM: a breed and an eval round trip each, so 8 keep a ~1 ms VM "
     "busy while results travel, and no more than it starts within milliseconds"},
    {"work", "coordinator", CFG_STR, "", 0, 0, 0,
     "empty = learn the coordinator's work endpoint from gossip; tcp://host:port to pin it"},
    {"metrics", "bind", CFG_ADDR, "", 0, 0, 0,
     "host:port of the Prometheus /metrics endpoint; empty = off (the coordinator has one)"},
    GOSSIP_CFG_OPTS,
    SWIM_CFG_OPTS,
    {NULL, NULL, 0, NULL, 0, 0, 0, NULL},
};

void agent_pool_opts(const cfg_t *c, pool_opts_t *o)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int vms = (int)cfg_int(c, "beam", "vms");
    *o = (pool_opts_t){
        .erl = cfg_str(c, "beam", "erl"),
        .code_path = cfg_str(c, "beam", "code_path"),
        .elixir_path = cfg_str(c, "beam", "elixir_path"),
        .vms = vms > 0 ? vms : (int)(cores > 0 ? cores : 1),
        .max_vms = (int)cfg_int(c, "beam", "max_vms"),
        .slots = (int)cfg_int(c, "beam", "slots"),
        .pipeline = (int)cfg_int(c, "beam", "pipeline"),
        .result_cache = cfg_bool(c, "beam", "result_cache"),
        .heartbeat_interval_ms = (uint32_t)cfg_int(c, "beam", "heartbeat_interval_ms"),
        .heartbeat_timeout_ms = (uint32_t)cfg_int(c, "beam", "heartbeat_timeout_ms"),
        .boot_timeout_ms = (uint32_t)cfg_int(c, "beam", "boot_timeout_ms"),
        .max_loads = (uint64_t)cfg_int(c, "beam", "max_loads"),
        .max_atoms = (uint32_t)(cfg_int(c, "beam", "recycle_atoms_pct") * POOL_VM_ATOM_LIMIT / 100),
        .max_rss_mb = (uint64_t)cfg_int(c, "beam", "max_rss_mb"),
        .backoff_min_ms = (uint32_t)cfg_int(c, "beam", "restart_backoff_ms"),
        .backoff_max_ms = (uint32_t)cfg_int(c, "beam", "restart_backoff_max_ms"),
        .intensity = (int)cfg_int(c, "beam", "restart_intensity"),
        .period_ms = (uint32_t)cfg_int(c, "beam", "restart_period_ms"),
        .max_source_bytes = (uint32_t)cfg_int(c, "beam", "max_source_bytes"),
    };
}

cfg_t *agent_config_load(const char *path, char **overrides, int noverrides, char *err,
                         size_t errlen)
{
    return cfg_load_all(agent_settings, path, overrides, noverrides, err, errlen);
}
