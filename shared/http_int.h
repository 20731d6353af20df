/* http_int.h - what the two halves of the HTTP server share (http.c: the
 * loop-thread side and the lifecycle; http_conn.c: libmicrohttpd's
 * connection threads). Not part of the public interface. */
#ifndef PETRI_HTTP_INT_H
#define PETRI_HTTP_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "http.h"

/* Messages on the inproc pair (the ROUTER adds/strips the routing id):
 *   request  (connection thread -> loop): method, path, query, auth "0"|"1", body
 *   reply    (loop -> connection thread): "R", status u32 BE, content type, CSP, body
 *   deferral (loop -> connection thread): "D", timeout ms u64 BE
 * The stop pair carries one empty frame from the stopper thread when
 * MHD_stop_daemon has returned. */
#define ROUTING_ID_MAX 255
#define TOKEN_HASH_LEN 32
#define DISPATCH_BATCH 32 /* requests handled per loop callback: fairness */

struct deferred {
    uint64_t ticket;
    uint8_t id[ROUTING_ID_MAX];
    size_t idlen;
};

/* One open connection's header deadline (http.h invariant 4). Created by
 * MHD_CONNECTION_NOTIFY_STARTED (MHD's listening thread), kept in MHD's
 * socket context, freed by MHD_CONNECTION_NOTIFY_CLOSED, which MHD calls
 * before it closes fd: under guard_mu, fd is always this connection's. */
struct guard {
    struct guard *prev, *next;
    int fd;
    uint64_t deadline_ms; /* mono_ms(); 0 = a request is in hand, no head awaited */
    bool cut;             /* shut down by the watch already */
    char peer[64];        /* numeric address, for the log */
};

struct http {
    /* Read by connection threads; written only before MHD starts. */
    void *zctx;
    char endpoint[64];
    size_t max_body;
    bool has_token;
    uint8_t token_hash[TOKEN_HASH_LEN]; /* BLAKE2b of the token */
    unsigned header_timeout_s, idle_timeout_s;

    /* The header-deadline watch: connection threads, MHD's listening thread
     * and the loop thread, all under guard_mu. */
    pthread_mutex_t guard_mu;
    struct guard *guards;
    uint64_t header_timeouts;

    /* Loop thread only. */
    loop_t *loop;
    void *router;
    struct MHD_Daemon *mhd;
    int port;
    http_handler_fn fn;
    void *arg;
    bool in_handler;
    bool cur_deferred;
    const uint8_t *cur_id;
    size_t cur_idlen;
    uint64_t next_ticket;
    struct deferred *def;
    size_t ndef, capdef;
    int64_t guard_timer;
};

/* Connection-thread side (http_conn.c), given to MHD_start_daemon. */
enum MHD_Result http_conn_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls);
void http_conn_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe);
void http_conn_log(void *cls, const char *fmt, va_list ap);
/* MHD_OPTION_NOTIFY_CONNECTION: starts and ends a connection's guard. */
void http_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);

/* One frame on a ZeroMQ socket (more: ZMQ_SNDMORE); 0 or -errno. */
int http_send_frame(void *s, const void *data, size_t len, int more);
/* zmq_msg_init_data's free function for malloc'd bodies. */
void http_free_body(void *data, void *hint);

#endif
