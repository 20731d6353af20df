/* fuzz_work.c - fuzz target for the coordinator's decoders of opened work
 * frames from agents (coordinator/work.c: work_feed -> HELLO and RESULT
 * handling; work_feed_handshake -> OPEN and AUTH). The first input byte
 * picks the path and which of 4 agent ids (or connections) sent the frame
 * (agent 0 has a session, made by a real handshake, and said hello); the
 * rest is the plaintext frame, whose header sender is set to that id so
 * that the payload parsers are reached. Nothing may crash, the counters only
 * grow, no session is made by bytes without a valid signature, and nothing
 * is ever taken out of flight or reported as a result by bytes without a
 * valid signature. */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "crypto.h"
#include "log.h"
#include "loop.h"
#include "wire.h"
#include "work.h"
#include "wsess.h"
#include "fuzz.h"

static work_t *w;
static int results;
static uint8_t agent0[CRYPTO_ID_LEN];

static void on_result(void *arg, work_item_t *it, const work_result_t *r)
{
    (void)arg;
    (void)r;
    results++;
    work_item_clear(it);
}

static void on_capacity(void *arg, const work_agent_t *a)
{
    (void)arg;
    (void)a;
}

static loop_t *loop;

/* Receives one message on d within 2 s, pumping the coordinator. */
static int recv_pumped(void *d, uint8_t *buf, size_t cap)
{
    for (int i = 0; i < 400; i++) {
        loop_run_once(loop, 5);
        int n = zmq_recv(d, buf, cap, ZMQ_DONTWAIT);
        if (n > 0)
            return n;
    }
    return -1;
}

static void send_hs(void *d, keyring_t *kr, wire_buf_t *b)
{
    uint8_t out[1024];
    size_t n = 0;
    CHECK(wire_end(b) == 0 && wsess_seal_hs(kr, b->data, b->len, out, sizeof out, &n) == 0);
    CHECK(zmq_send(d, out, n, 0) >= 0);
}

static void setup(void)
{
    CHECK(crypto_init() == 0);
    log_init("fuzz", LOG_LVL_ERROR, 0);
    loop = loop_new();
    void *z = zmq_ctx_new();
    keyring_t *kr = keyring_new();
    uint8_t key[CRYPTO_KEY_LEN], coord[CRYPTO_ID_LEN] = {9};
    crypto_random(key, sizeof key);
    keyring_add(kr, key);
    work_callbacks_t cb = {.result = on_result, .capacity = on_capacity};
    char err[256], ep[64];
    /* a free port, from the kernel */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t salen = sizeof sa;
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
          getsockname(fd, (struct sockaddr *)&sa, &salen) == 0);
    close(fd);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", ntohs(sa.sin_port));
    w = work_new(loop, z, ep + 6, kr, coord, &cb, NULL, err, sizeof err);
    if (!w)
        fprintf(stderr, "fuzz_work: %s\n", err);
    CHECK(w != NULL);
    node_identity_t idn;
    crypto_sign_ed25519_keypair(idn.pk, idn.sk);
    crypto_id_from_pk(idn.pk, idn.id);
    memcpy(agent0, idn.id, CRYPTO_ID_LEN);
    uint8_t route[WSESS_ROUTE_LEN] = {0x80, 1};
    void *d = zmq_socket(z, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_ROUTING_ID, route, sizeof route);
    CHECK(zmq_connect(d, ep) == 0);
    wire_buf_t b;
    wire_buf_init(&b);
    wire_begin(&b, WIRE_WORK_OPEN, 0, idn.id);
    send_hs(d, kr, &b);
    uint8_t buf[1024], plain[1024];
    size_t plen = 0;
    int n = recv_pumped(d, buf, sizeof buf);
    CHECK(n > 0 && wsess_open_hs(kr, buf, (size_t)n, plain, sizeof plain, &plen) == 0);
    wire_hdr_t h;
    wire_rd_t r;
    uint8_t cn[WSESS_NONCE_LEN], an[WSESS_NONCE_LEN] = {1}, sid[WSESS_SID_LEN];
    uint8_t sig[CRYPTO_SIG_LEN];
    CHECK(wire_parse(plain, plen, &h, &r) == 0 && wire_get_raw(&r, cn, sizeof cn) == 0);
    wsess_transcript(idn.id, idn.pk, coord, route, cn, an, sid);
    crypto_sign(&idn, sid, sizeof sid, sig);
    wire_buf_reset(&b);
    wire_begin(&b, WIRE_WORK_AUTH, 0, idn.id);
    wire_put_raw(&b, idn.pk, sizeof idn.pk);
    wire_put_raw(&b, an, sizeof an);
    wire_put_raw(&b, sig, sizeof sig);
    send_hs(d, kr, &b);
    CHECK(recv_pumped(d, buf, sizeof buf) > 0); /* WELCOME */
    CHECK(work_agent_find(w, idn.id) && work_agent_find(w, idn.id)->session);
    wire_buf_reset(&b);
    wire_begin(&b, WIRE_WORK_HELLO, 0, idn.id);
    wire_put_str(&b, "agent-0");
    wire_put_raw(&b, idn.pk, sizeof idn.pk);
    wire_put_u32(&b, 2);
    wire_put_u32(&b, 2);
    wire_put_u32(&b, 16);
    wire_put_u32(&b, 0);
    wire_put_f64(&b, 0);
    wire_put_u64(&b, 0);
    wire_put_u32(&b, 1);
    wire_put_u32(&b, 4);
    CHECK(wire_end(&b) == 0);
    work_feed(w, idn.id, b.data, b.len);
    wire_buf_free(&b);
    CHECK(work_agent_find(w, idn.id)->last_hello_ms != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!w)
        setup();
    if (size < 1)
        return 0;
    uint8_t id[CRYPTO_ID_LEN] = {0};
    if ((data[0] & 3) == 0)
        memcpy(id, agent0, CRYPTO_ID_LEN);
    else
        id[0] = data[0] & 3;
    int handshake = data[0] & 4; /* else a session frame */
    uint8_t *frame = malloc(size);
    CHECK(frame != NULL);
    memcpy(frame, data + 1, size - 1);
    if (size - 1 >= WIRE_HDR_LEN)
        memcpy(frame + 4, id, CRYPTO_ID_LEN); /* header: version, type, flags, sender */
    work_stats_t before = *work_stats(w);
    uint64_t sessions = before.sessions;
    if (handshake)
        work_feed_handshake(w, id, frame, size - 1); /* the id doubles as a route */
    else
        work_feed(w, id, frame, size - 1);
    const work_stats_t *after = work_stats(w);
    CHECK(after->sessions == sessions);
    CHECK(after->dropped_malformed >= before.dropped_malformed);
    CHECK(after->dropped_unknown_item >= before.dropped_unknown_item);
    CHECK(after->dropped_unknown_type >= before.dropped_unknown_type);
    CHECK(results == 0 && after->results == 0);
    CHECK(work_inflight(w) == 0);
    free(frame);
    return 0;
}
