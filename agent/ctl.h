/* ctl.h - the agent's local control socket (ZeroMQ ROUTER on
 * ipc://<run_dir>/agent.sock, mode 0600) and its client, used by
 * `petri-agent status|members|keys`. Requests and replies are wire frames
 * WIRE_CTL_REQUEST / WIRE_CTL_REPLY; reply bodies are JSON text. */
#ifndef PETRI_CTL_H
#define PETRI_CTL_H

#include <jansson.h>

#include "loop.h"

#define CTL_MAX_ARGS 16

typedef struct ctl ctl_t;

/* Handles one request; returns the reply body (a new reference, or NULL for
 * {}) and sets *code (0 ok, 1 refused, 2 bad request). */
typedef json_t *(*ctl_handler_fn)(void *arg, const char *cmd, char **args, int nargs, int *code);

ctl_t *ctl_new(loop_t *l, void *zctx, const char *path, ctl_handler_fn fn, void *arg, char *err,
               size_t errlen);
/* Closes the socket and removes the socket file. NULL-safe. */
void ctl_destroy(ctl_t **c);

/* Client: sends one request and waits up to timeout_ms for the reply.
 * *body is malloc'd JSON text. 0, ERR_TIMEOUT (is the agent running?), or
 * another error with a message in err. */
int ctl_call(const char *path, const char *cmd, char **args, int nargs, int timeout_ms, int *code,
             char **body, char *err, size_t errlen);

#endif
