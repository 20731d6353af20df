/* client.h - a small blocking HTTP client of the coordinator's JSON API
 * (libcurl), used by the `petri` subcommands: one call = one request, with
 * clear messages for an unreachable coordinator and for bodies that are
 * not JSON. Thread-safe; libcurl is initialised on first use. */
#ifndef PETRI_CLIENT_H
#define PETRI_CLIENT_H

#include <stddef.h>

#include <jansson.h>

#define CLIENT_DEFAULT_ADDR "127.0.0.1:7951"
#define CLIENT_DEFAULT_TIMEOUT_MS 30000L
/* Bodies larger than this are refused (ERR_TOOBIG) rather than buffered. */
#define CLIENT_MAX_JSON (256u << 20)
#define CLIENT_MAX_RAW (1024u << 20)

typedef struct client_opts {
    const char *addr;  /* "host:port" or a URL base "http://host:port"; NULL = default */
    const char *token; /* bearer token sent on every request; NULL or "" = none */
    long timeout_ms;   /* the whole request, connection included; 0 = default */
    /* Optional: called at least about once a second while a request is in
     * flight, with the seconds elapsed; a nonzero return aborts the request
     * (-ECANCELED). */
    int (*progress)(void *arg, double elapsed_s);
    void *progress_arg;
} client_opts_t;

/* Writes the URL base for addr ("http://" + addr unless it names a
 * scheme; no trailing '/') into out[cap]. */
void client_base_url(const char *addr, char *out, size_t cap);

/* Performs METHOD base+path (path starts with '/' and may carry a query)
 * with body[0..len) as application/json when body is not NULL.
 * Returns 0 when the coordinator answered, whatever the status: then
 * *http_status is set, *out (may be NULL to ignore) receives the parsed
 * body (owned by the caller; NULL for an empty body) and, when the status
 * is >= 400, err holds the API's "error" message (or "HTTP <status>").
 * Returns a negative code with a one-line message in err otherwise:
 *   -ECONNREFUSED and friends (-errno of the connection): "cannot reach
 *      the coordinator at http://127.0.0.1:7951: connection refused";
 *   ERR_TIMEOUT: no complete answer within the timeout;
 *   ERR_PROTO: the body is not JSON (*http_status is still set);
 *   ERR_TOOBIG: the body is larger than CLIENT_MAX_JSON;
 *   -ECANCELED: the progress callback aborted;  -EIO: any other failure. */
int client_call(const client_opts_t *o, const char *method, const char *path, const char *body,
                size_t len, long *http_status, json_t **out, char *err, size_t errlen);

/* Like client_call, but hands back the body as text: *out is malloc'd and
 * NUL-terminated (owned by the caller), *out_len excludes the NUL. For
 * statuses >= 400 err holds the API's error message when the body is the
 * JSON error document. Caps the body at CLIENT_MAX_RAW. */
int client_call_raw(const client_opts_t *o, const char *method, const char *path, const char *body,
                    size_t len, long *http_status, char **out, size_t *out_len, char *err,
                    size_t errlen);

#endif
