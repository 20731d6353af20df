/* ametrics.h - the agent's optional Prometheus endpoint ([metrics] bind):
 * GET /metrics on its own small HTTP server (http.h), built on the loop
 * thread from the VM pool's counters and telemetry, the work channel and
 * the gossip statistics. Read-only: every other path is 404. */
#ifndef PETRI_AMETRICS_H
#define PETRI_AMETRICS_H

#include "awork.h"
#include "gossip.h"
#include "loop.h"
#include "metrics.h"
#include "pool.h"

typedef struct ametrics ametrics_t;

/* Serves GET /metrics on bind ("host:port"). pool, work and gossip are
 * borrowed and must outlive the server (gossip and work may be NULL).
 * Returns NULL with a message in err (bad address, port in use). */
ametrics_t *ametrics_new(loop_t *l, void *zctx, const char *bind, const pool_t *pool,
                         const awork_t *work, const gossip_t *gossip, char *err, size_t errlen);
/* Stops the server (on the loop thread); NULL-safe, sets *m to NULL. */
void ametrics_destroy(ametrics_t **m);
/* The TCP port bound. */
int ametrics_port(const ametrics_t *m);

/* The agent's metrics text into b (the /metrics body). */
void ametrics_write(metrics_buf_t *b, const pool_t *pool, const awork_t *work,
                    const gossip_t *gossip);

#endif
