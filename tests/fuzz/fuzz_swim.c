/* fuzz_swim.c - fuzz target for the membership core's input path: every
 * input is fed to swim_recv() of a fresh member that knows one peer, then
 * time runs on through probes, suspicions and gossip. It must never crash,
 * leak or read out of bounds; a rejected input must change nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "swim.h"
#include "swim_int.h"
#include "wire.h"
#include "fuzz.h"

static void sink(void *ctx, const char *addr, const uint8_t *buf, size_t len)
{
    /* Whatever the member sends must itself decode. */
    swim_msg_t m;
    (void)ctx;
    CHECK(swim_addr_valid(addr));
    CHECK(len <= SWIM_PACKET_MAX);
    CHECK(swim_msg_decode(buf, len, &m) == 0);
}

static void on_event(void *ctx, const swim_event_t *ev)
{
    (void)ctx;
    CHECK(ev->m.metalen <= SWIM_META_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t me[SWIM_ID_LEN] = {0xaa, 1, 2,  3,  4,  5,  6,  7,
                                            8,    9, 10, 11, 12, 13, 14, 15};
    /* the peer the corpus talks about (and as) */
    static const uint8_t peer[SWIM_ID_LEN] = {0xbb, 1, 2,  3,  4,  5,  6,  7,
                                              8,    9, 10, 11, 12, 13, 14, 15};
    swim_config_t cfg;
    swim_config_default(&cfg);
    swim_self_t self = {.name = "fuzz", .id = me, .addr = "10.0.0.1:7946", .incarnation_floor = 3};
    swim_io_t io = {.send = sink, .event = on_event};
    uint64_t now = 1000;
    swim_t *s = swim_new(&cfg, &self, &io, now, 1);
    CHECK(s);

    wire_buf_t b;
    wire_buf_init(&b);
    wire_begin(&b, WIRE_SWIM_GOSSIP, 0, peer);
    wire_put_u32(&b, 1);
    swim_update_encode(&b, SWIM_ALIVE, peer, 5, peer, "peer", 4, "10.0.0.2:7946", 13, NULL, 0);
    CHECK(wire_end(&b) == 0);
    CHECK(swim_recv(s, b.data, b.len, now) == 0);
    wire_buf_free(&b);

    swim_stats_t before, after;
    swim_get_stats(s, &before);
    uint64_t inc = swim_incarnation(s);
    size_t members = swim_member_count(s);
    if (swim_recv(s, data, size, now) != 0) {
        swim_get_stats(s, &after);
        CHECK(swim_incarnation(s) == inc && swim_member_count(s) == members);
        CHECK(after.msgs_out == before.msgs_out);
    }
    /* let the consequences play out: probes, suspicions, gossip, sync */
    for (int i = 0; i < 40; i++) {
        now += 250;
        CHECK(swim_tick(s, now) > now - 250);
    }
    for (size_t i = 0; i < swim_member_count(s); i++) {
        swim_member_info_t mi;
        CHECK(swim_member_get(s, i, &mi) == 0);
        CHECK(mi.metalen <= SWIM_META_MAX);
    }
    swim_destroy(&s);
    return 0;
}
