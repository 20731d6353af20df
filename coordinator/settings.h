/* settings.h - the coordinator's configuration table. */
#ifndef PETRI_COORD_SETTINGS_H
#define PETRI_COORD_SETTINGS_H

#include "config.h"

extern const cfg_opt_t coord_settings[];

/* Defaults, then the file (path may be NULL), PETRI_* variables, then the
 * "section.key=value" overrides; NULL with a message naming the key. */
cfg_t *coord_config_load(const char *path, char **overrides, int n, char *err, size_t errlen);

#endif
