/* fuzz_alive.c - fuzz target for the WIRE_WORK_LIVE commands the agent
 * decodes (agent/alive.c): any payload, after any of the three command
 * heads or none. No crash; every command with a well-formed head is
 * answered by exactly one LIVE_EVENT (failed or refused: no VM runs here),
 * whose frame is well-formed and names the individual. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alive.h"
#include "err.h"
#include "log.h"
#include "wire.h"
#include "fuzz.h"

static int nsent, ours; /* ours: the head is the target's own */

static int capture(void *arg, const uint8_t *frame, size_t len)
{
    (void)arg;
    wire_hdr_t h;
    wire_rd_t r;
    CHECK(wire_parse(frame, len, &h, &r) == 0);
    CHECK(h.type == WIRE_WORK_LIVE_EVENT);
    char pop[WIRE_POP_MAX + 1];
    uint32_t ind = 0;
    CHECK(wire_get_str(&r, pop, sizeof pop) == 0 && (!ours || !strcmp(pop, "p")));
    CHECK(wire_get_u32(&r, &ind) == 0 && (!ours || ind == 3));
    nsent++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static node_identity_t idn;
    static loop_t *l;
    static int init;
    if (!init) {
        CHECK(crypto_init() == 0);
        log_init("fuzz_alive", LOG_LVL_ERROR, 0); /* an info line per run is noise */
        crypto_random(idn.id, sizeof idn.id);
        crypto_sign_ed25519_keypair(idn.pk, idn.sk);
        l = loop_new();
        init = 1;
    }
    alive_t *a = alive_new(l, NULL, &idn, 4, capture, NULL);
    CHECK(a != NULL);
    uint8_t cmd = size ? data[0] % 4 : 0; /* 3: a head of its own, maybe malformed */
    wire_buf_t b;
    wire_buf_init(&b);
    wire_begin(&b, WIRE_WORK_LIVE, 0, NULL);
    if (cmd < 3) {
        wire_put_str(&b, "p");
        wire_put_u32(&b, 3);
        wire_put_u64(&b, 1);
        wire_put_u8(&b, cmd);
    }
    if (size > 1)
        wire_put_raw(&b, data + 1, size - 1);
    if (wire_end(&b) == 0) {
        wire_hdr_t h;
        wire_rd_t r;
        CHECK(wire_parse(b.data, b.len, &h, &r) == 0);
        nsent = 0;
        ours = cmd < 3;
        alive_command(a, &r);
        CHECK(nsent <= 1 && (cmd == 3 || nsent == 1));
        CHECK(alive_count(a) == 0);
    }
    wire_buf_free(&b);
    alive_destroy(&a);
    return 0;
}
