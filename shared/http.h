/* http.h - the daemons' HTTP/JSON server (the coordinator's API, /metrics):
 * libmicrohttpd in its own threads, every request handed to one handler that
 * runs on the event-loop thread, with body caps, token checks, connection
 * limits and timeouts, security headers and JSON errors.
 *
 * Threading (DESIGN section 3): libmicrohttpd runs one thread per
 * connection (bounded by HTTP_MAX_CONNECTIONS). A complete request is
 * copied into a ZeroMQ message and sent over inproc:// (a DEALER per
 * request, a ROUTER registered on the loop) to the loop thread, where the
 * handler runs; the reply travels back the same way while the connection's
 * thread waits (at most HTTP_REPLY_TIMEOUT_MS, then 503). Requests and
 * replies share no mutable state: only messages cross. The one shared
 * table is the header-deadline watch (a mutex-guarded list of the open
 * connections that the loop thread scans; see invariant 4).
 *
 * Invariants:
 *  1. The handler is called only on the loop thread, inside loop callbacks.
 *  2. The handler never sees: a request whose method is not one of GET,
 *     HEAD, POST, PUT, PATCH, DELETE (405); a mutating request (POST, PUT,
 *     PATCH, DELETE) without a valid bearer token (401); a body larger
 *     than max_body (413, refused from Content-Length before any byte of
 *     the body is read; a chunked upload is cut off, the connection
 *     closed without an answer, as soon as it passes the cap).
 *  3. Every error produced here has the body {"error": "message"}.
 *  4. No client holds a connection without sending a request: a request's
 *     head (request line and headers) must be complete within
 *     header_timeout_s of the connection opening or of the previous answer
 *     on it, however slowly it trickles in, or the connection is shut down
 *     (checked once a second on the loop thread). A connection silent for
 *     idle_timeout_s while a body is uploaded or an answer is sent is
 *     closed; the time the loop takes to answer does not count.
 *  5. One source address holds at most max_per_ip connections; further
 *     ones are closed as soon as they are accepted, so one client cannot
 *     take the HTTP_MAX_CONNECTIONS slots from everyone else.
 *  6. Every response carries X-Content-Type-Options: nosniff,
 *     Cross-Origin-Resource-Policy: same-origin, Referrer-Policy:
 *     no-referrer, X-Frame-Options: DENY and a Content-Security-Policy
 *     (HTTP_CSP_DEFAULT unless the handler names a stricter or page-specific
 *     one), and Cache-Control: no-store.
 */
#ifndef PETRI_HTTP_H
#define PETRI_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "loop.h"

/* Connections served at once (one thread each): further clients wait in
 * the kernel's accept queue. Enough for operators, dashboards and scrapers. */
#define HTTP_MAX_CONNECTIONS 64
/* How long a connection's thread waits for the loop to answer before it
 * replies 503: the loop is single-threaded, a slow handler must not pin
 * connections forever. http_defer() extends it per request. */
#define HTTP_REPLY_TIMEOUT_MS 30000
/* The defaults of http_opts_t (the coordinator's [http] settings repeat
 * them with their reasons). A request head is a few hundred bytes: a client
 * that cannot send it in 10 s is broken or holding a slot on purpose. */
#define HTTP_HEADER_TIMEOUT_S 10
/* A body upload or an answer that makes no progress for 15 s is stalled. */
#define HTTP_IDLE_TIMEOUT_S 15
/* An operator's CLI, a browser (6 connections per host) and a scraper fit;
 * one address can take at most 1/8 of HTTP_MAX_CONNECTIONS. */
#define HTTP_MAX_PER_IP 8
#define HTTP_STR_(x) #x
#define HTTP_STR(x) HTTP_STR_(x)
/* A policy longer than this (http_resp_t.csp) is API misuse. */
#define HTTP_CSP_MAX 1024
/* Every response's Content-Security-Policy unless the handler sets one:
 * a JSON or text answer loads nothing and is framed by nobody. */
#define HTTP_CSP_DEFAULT "default-src 'none'; frame-ancestors 'none'"

typedef struct http_opts {
    const char *token;         /* "" or NULL: none; mutating requests are then refused */
    size_t max_body;           /* bytes of a request body */
    unsigned header_timeout_s; /* invariant 4; >= 1 */
    unsigned idle_timeout_s;   /* invariant 4; >= 1 */
    unsigned max_per_ip;       /* invariant 5; 0 = no limit */
} http_opts_t;

typedef struct http http_t;

typedef struct http_req {
    const char *method;  /* "GET", "POST", ... */
    const char *path;    /* percent-decoded path, e.g. "/v1/genomes/ab12" */
    const char *query;   /* query string without '?', percent-encoded, may be "" */
    const uint8_t *body; /* never NULL ("" when empty); not NUL-terminated in general */
    size_t body_len;
    int authorized; /* 1 if a valid "Authorization: Bearer <token>" came along */
} http_req_t;

typedef struct http_resp {
    int status;               /* default 200 */
    char *body;               /* malloc'd; owned by the server after the handler returns */
    size_t body_len;          /* bytes of body */
    const char *content_type; /* static string; NULL = "application/json" */
    const char *csp;          /* static Content-Security-Policy; NULL = HTTP_CSP_DEFAULT */
} http_resp_t;

/* Runs on the loop thread. req and everything it points to live only for
 * the duration of the call. resp arrives as {200, NULL, 0, NULL, NULL}; a status
 * >= 400 left without a body gets {"error": "request failed"}. HEAD
 * requests reach the handler as "HEAD" (answer as for GET; the body is
 * dropped on the wire). */
typedef void (*http_handler_fn)(void *arg, const http_req_t *req, http_resp_t *resp);

/* Starts the server. bind is "host:port" (host may be a name, an IPv4
 * address or a bracketed IPv6 address; port 0 picks a free port, see
 * http_port). opts is copied (the token is hashed, not kept). zmq_ctx must
 * outlive the server. Returns NULL with a message in err on failure (bad
 * bind address, port in use, a timeout of 0, ...). */
http_t *http_new_opts(loop_t *loop, void *zmq_ctx, const char *bind, const http_opts_t *opts,
                      http_handler_fn fn, void *arg, char *err, size_t errlen);
/* http_new_opts with token and max_body and the other limits at their
 * defaults (HTTP_HEADER_TIMEOUT_S, HTTP_IDLE_TIMEOUT_S, HTTP_MAX_PER_IP). */
http_t *http_new(loop_t *loop, void *zmq_ctx, const char *bind, const char *token, size_t max_body,
                 http_handler_fn fn, void *arg, char *err, size_t errlen);

/* Stops the server: no new connections; requests still waiting for the
 * loop (and deferred ones) are answered 503; MHD's threads are joined;
 * sockets are closed and *h is set to NULL. Must be called on the loop
 * thread, but not from inside the handler. Accepts NULL and *h == NULL. */
void http_destroy(http_t **h);

/* The TCP port actually bound (useful with port 0). */
int http_port(const http_t *h);

/* Connections shut down so far because their request head did not arrive
 * within header_timeout_s (invariant 4). Loop thread. */
uint64_t http_header_timeouts(const http_t *h);

/* ---- answering later ----
 * A handler that cannot answer at once (e.g. it waits for a worker thread)
 * calls http_defer() from inside the handler and leaves resp alone; it
 * answers later on the loop thread with http_reply(). The connection's
 * thread then waits up to timeout_ms instead of HTTP_REPLY_TIMEOUT_MS.
 * Returns a ticket > 0, or 0 when called outside a handler (API misuse). */
uint64_t http_defer(http_t *h, int64_t timeout_ms);
/* Sends resp for a deferred ticket (takes resp->body in every case).
 * ERR_NOTFOUND for an unknown or already-answered ticket. A reply for a
 * client that has given up is dropped silently. */
int http_reply(http_t *h, uint64_t ticket, http_resp_t *resp);

/* Answers a deferred ticket with a streamed body: status and content type
 * now, then whatever is written to the other end of fd (the read end of a
 * pipe, taken in every case) until that end is closed. The connection's
 * thread copies it to the client as it comes (chunked transfer), so a
 * worker thread can produce a body of any size without holding it. If the
 * client goes away the connection closes fd, and the writer gets EPIPE;
 * a writer must not block forever on a full pipe (the reply may have
 * been dropped: poll with a timeout). ERR_NOTFOUND for an unknown ticket. */
int http_reply_stream(http_t *h, uint64_t ticket, int status, const char *content_type, int fd);

/* ---- response helpers (any thread) ----
 * http_json: status and compact JSON of obj (stolen; NULL -> "null").
 * http_error: status and {"error": "<formatted message>"}. Both free a
 * body already in resp. */
void http_json(http_resp_t *resp, int status, json_t *obj);
void http_error(http_resp_t *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* status and a copy of text (len bytes) with the given static content type. */
void http_text(http_resp_t *resp, int status, const char *content_type, const char *text,
               size_t len);

/* ---- query strings ----
 * Finds key in a raw query ("a=1&b=x%20y") and percent-decodes its value
 * ('+' is a space) into out[cap]. A key without '=' has the value "".
 * Returns the decoded length, ERR_NOTFOUND if absent, ERR_TOOBIG if it
 * does not fit, ERR_INVAL on a bad escape or an embedded NUL. */
int http_query_get(const char *query, const char *key, char *out, size_t cap);

#endif
