/* fuzz_vm_frame.c - fuzz target for the agent's handling of a frame from
 * one of its VMs (agent/pool_vm.c: pool_vm_frame, the code that reads
 * what a VM running evolved code sends: HELLO, PONG, RESULT, CHILD, BRED).
 * The first input byte sets the slot's state (booting or ready) and which
 * jobs are in flight on it; the rest is the frame. No crash; a job is
 * answered at most once, only by a frame of its own kind and request id,
 * and what it is handed keeps the pool's promises (pool.h): a known status,
 * a source within the cap, passed <= cases, a finite non-negative fitness
 * for a scored ok, finite non-negative errors. (With no VM behind the
 * slot, the kill a rejected frame earns is a no-op.) */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop.h"
#include "pool_int.h"
#include "spec.h"
#include "wire.h"
#include "fuzz.h"

#define MAX_SOURCE 4096

static int answered[3];

static void on_done(void *arg, const pool_result_t *r)
{
    int k = (int)(intptr_t)arg;
    answered[k]++;
    CHECK(answered[k] == 1);
    CHECK(r->status >= 0 && r->status < WIRE_ST__COUNT);
    CHECK(r->source_len <= MAX_SOURCE && (r->source_len == 0 || r->source));
    CHECK(r->passed <= r->cases);
    CHECK(r->nerrors <= SPEC_MAX_CASES && (r->nerrors == 0 || r->errors));
    for (size_t i = 0; i < r->nerrors; i++)
        CHECK(isfinite(r->errors[i]) && r->errors[i] >= 0);
    CHECK(r->reused == 0 || r->reused == 1);
    CHECK(isfinite(r->cost) && r->cost >= 0);
    if (k != JOB_BREED && r->status == WIRE_ST_OK)
        CHECK(isfinite(r->fitness) && r->fitness >= 0);
    if (k == JOB_BREED_EVAL && r->status == WIRE_ST_OK)
        CHECK(r->source_len > 0);
    CHECK(r->vm == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static loop_t *l;
    static pool_t p;
    static slot_t slot;
    if (!l) {
        log_init("fuzz_vm_frame", LOG_LVL_ERROR, 0);
        l = loop_new();
        CHECK(l != NULL);
    }
    memset(&p, 0, sizeof p);
    memset(&slot, 0, sizeof slot);
    p.loop = l;
    p.o.max_source_bytes = MAX_SOURCE;
    p.o.pipeline = 4;
    p.cap = p.target = 1;
    p.slots = &slot;
    slot.pool = &p; /* no VM (vm NULL): a kill is only recorded */
    uint8_t mode = size ? data[0] : 0;
    slot.st = mode & 1 ? ST_READY : ST_BOOTING;
    memset(answered, 0, sizeof answered);
    /* jobs in flight: request ids 1..3, one of each kind, as mode says */
    for (int k = 0; k < 3; k++) {
        if (!(mode & (2 << k)))
            continue;
        job_t *j = calloc(1, sizeof *j);
        CHECK(j != NULL);
        j->pool = &p;
        j->req = (uint64_t)k + 1;
        j->kind = k;
        j->done = on_done;
        j->arg = (void *)(intptr_t)k;
        slot.inflight[slot.ninflight++] = j;
    }
    int before = slot.ninflight;
    if (size > 1)
        pool_vm_frame(NULL, data + 1, size - 1, &slot);
    int n = answered[0] + answered[1] + answered[2];
    CHECK(slot.ninflight == before - n);
    if (slot.st == ST_READY && !(mode & 1)) /* a hello made it ready */
        CHECK(memchr(slot.otp, 0, sizeof slot.otp) != NULL);
    for (int i = 0; i < slot.ninflight; i++) {
        free(slot.inflight[i]->frame);
        free(slot.inflight[i]);
    }
    return 0;
}
