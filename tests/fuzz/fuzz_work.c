/* fuzz_work.c - fuzz target for the coordinator's decoder of opened work
 * frames from agents (coordinator/work.c: work_feed -> HELLO and RESULT
 * handling). The first input byte picks which of 4 agent ids sent the frame
 * (agent 0 said a valid hello first); the rest is the plaintext frame, whose
 * header sender is set to that id so that the payload parsers are reached.
 * Nothing may crash, the counters only grow, and nothing is ever taken out
 * of flight or reported as a result by bytes without a valid signature. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "crypto.h"
#include "log.h"
#include "loop.h"
#include "wire.h"
#include "work.h"
#include "fuzz.h"

static work_t *w;
static int results;

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

static void setup(void)
{
    CHECK(crypto_init() == 0);
    log_init("fuzz", LOG_LVL_ERROR, 0);
    loop_t *l = loop_new();
    void *z = zmq_ctx_new();
    keyring_t *kr = keyring_new();
    uint8_t key[CRYPTO_KEY_LEN];
    crypto_random(key, sizeof key);
    keyring_add(kr, key);
    work_callbacks_t cb = {.result = on_result, .capacity = on_capacity};
    char err[256];
    w = work_new(l, z, "127.0.0.1:*", kr, &cb, NULL, err, sizeof err);
    CHECK(w != NULL);
    /* agent 0 is known: a valid hello */
    uint8_t id[CRYPTO_ID_LEN] = {0}, pk[CRYPTO_PK_LEN] = {0};
    wire_buf_t b;
    wire_buf_init(&b);
    wire_begin(&b, WIRE_WORK_HELLO, 0, id);
    wire_put_str(&b, "agent-0");
    wire_put_raw(&b, pk, sizeof pk);
    wire_put_u32(&b, 2);
    wire_put_u32(&b, 2);
    wire_put_u32(&b, 16);
    wire_put_u32(&b, 0);
    wire_put_f64(&b, 0);
    wire_put_u64(&b, 0);
    wire_put_u32(&b, 1);
    wire_put_u32(&b, 4);
    CHECK(wire_end(&b) == 0);
    work_feed(w, id, b.data, b.len);
    wire_buf_free(&b);
    CHECK(work_agent_find(w, id) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!w)
        setup();
    if (size < 1)
        return 0;
    uint8_t id[CRYPTO_ID_LEN] = {0};
    id[0] = data[0] & 3;
    uint8_t *frame = malloc(size);
    CHECK(frame != NULL);
    memcpy(frame, data + 1, size - 1);
    if (size - 1 >= WIRE_HDR_LEN)
        memcpy(frame + 4, id, CRYPTO_ID_LEN); /* header: version, type, flags, sender */
    work_stats_t before = *work_stats(w);
    work_feed(w, id, frame, size - 1);
    const work_stats_t *after = work_stats(w);
    CHECK(after->dropped_malformed >= before.dropped_malformed);
    CHECK(after->dropped_unknown_item >= before.dropped_unknown_item);
    CHECK(after->dropped_unknown_type >= before.dropped_unknown_type);
    CHECK(results == 0 && after->results == 0);
    CHECK(work_inflight(w) == 0);
    free(frame);
    return 0;
}
