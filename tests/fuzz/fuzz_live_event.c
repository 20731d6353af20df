/* fuzz_live_event.c - fuzz target for the coordinator's readers of the live
 * frames an agent sends (coordinator/live_wire.c: WIRE_WORK_LIVE_EVENT and
 * the items of WIRE_WORK_LIVE_STATUS). The first byte picks the reader.
 * Arbitrary bytes never crash them, never read outside the input, and what
 * an event read accepts is within its bounds (kind known, strings ended,
 * snapshot and source inside the input). */
#include <stdint.h>
#include <string.h>

#include "live_pop.h"
#include "wire_live.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    if (data[0] & 1) {
        live_event_t e;
        if (live_event_read(p, n, &e) != 0) {
            CHECK(e.pop[0] == '\0' && e.snap == NULL && e.src == NULL);
            return 0;
        }
        CHECK(e.kind < WIRE_LIVE__COUNT && e.pop[0]);
        CHECK(memchr(e.reason, 0, sizeof e.reason) && memchr(e.op, 0, sizeof e.op));
        CHECK(!e.snap_len || (e.snap >= p && e.snap + e.snap_len <= p + n));
        CHECK(!e.src_len || (e.src >= p && e.src + e.src_len <= p + n));
        return 0;
    }
    wire_rd_t r;
    wire_rd_init(&r, p, n);
    uint32_t count = 0;
    wire_get_count(&r, &count, LIVE_STATUS_MAX, 8);
    for (uint32_t k = 0; k < count && r.err == 0; k++) {
        live_status_t s;
        if (live_status_read(&r, &s) == 0)
            CHECK(s.pop[0] && s.on_probation <= 1);
    }
    CHECK(r.left <= n);
    return 0;
}
