/* oneshot.h - petri-agent's one-shot commands (eval, breed, evolve) and the
 * small frame they share: load config and spec, boot VMs, run, tear down. */
#ifndef PETRI_ONESHOT_H
#define PETRI_ONESHOT_H

#include <getopt.h>

#include "config.h"
#include "loop.h"
#include "pool.h"
#include "spec.h"
#include "wire.h"

#define MAX_OVERRIDES 64

typedef struct oneshot {
    cfg_t *cfg;
    loop_t *loop;
    pool_t *pool;
    spec_t *spec;
    wire_buf_t spec_wire; /* the spec, encoded once for every job */
    int failed;           /* the pool gave up */
    int interrupted;      /* SIGINT/SIGTERM */
} oneshot_t;

typedef struct common_args {
    const char *config;
    const char *spec;
    char *overrides[MAX_OVERRIDES];
    int noverrides;
    int vms;
} common_args_t;

/* getopt_long options shared by the one-shot commands; short options
 * "c:o:h" (config, override, help). */
extern const struct option common_long[];

/* Handles -c, -o, --spec, --vms; returns 1 if c was one of them. Exits 2 on
 * a bad value. */
int common_opt(common_args_t *a, int c, const char *arg);
/* Loads config and spec and boots the VMs (at most want_vms if > 0). Exits
 * 2 with a message on a bad spec or config, 1 if the VMs cannot start. */
void oneshot_start(oneshot_t *os, common_args_t *a, int want_vms);
void oneshot_finish(oneshot_t *os);

int cmd_eval(int argc, char **argv);
int cmd_breed(int argc, char **argv);
int cmd_evolve(int argc, char **argv);

#endif
