/* settings.h - petri-agent's configuration table (every default, with the
 * reason for it) and the translation of a loaded config into module options. */
#ifndef PETRI_AGENT_SETTINGS_H
#define PETRI_AGENT_SETTINGS_H

#include "config.h"
#include "pool.h"

extern const cfg_opt_t agent_settings[];

/* Fills o from c; [beam] vms = 0 means one VM per online core. The strings
 * in o point into c and live as long as it does. */
void agent_pool_opts(const cfg_t *c, pool_opts_t *o);

/* Loads the agent config: defaults, then the file (if path is non-NULL),
 * then PETRI_* variables, then the "section.key=value" overrides. Returns
 * NULL with a message naming the bad key in err. */
cfg_t *agent_config_load(const char *path, char **overrides, int noverrides, char *err,
                         size_t errlen);

#endif
