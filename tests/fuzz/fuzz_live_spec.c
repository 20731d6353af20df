/* fuzz_live_spec.c - fuzz target for the live spec and trace parsers
 * (shared/live_spec.c), which the coordinator runs on a live population's
 * section from its HTTP API and an agent on WIRE_WORK_LIVE START. Any bytes,
 * as a spec and as a trace: no crash; an error is ERR_SPEC with a message
 * (or -ENOMEM); a spec that parses is within its documented ranges and its
 * init is one term; a trace that parses holds 1..LIVE_MAX_TRACE requests,
 * each a term behind the version byte. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "etf.h"
#include "live_spec.h"
#include "fuzz.h"

/* A spec the trace half can name atoms with. */
static const char base_spec[] = "{\"atoms\":[\"hit\",\"allow\",\"deny\",\"ok\"]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    live_spec_t s;
    char err[512] = "";
    int rc = live_spec_parse((const char *)data, size, &s, err, sizeof err);
    if (rc) {
        CHECK(rc == ERR_SPEC || rc == -ENOMEM);
        CHECK(rc != ERR_SPEC || err[0] != '\0');
        CHECK(s.atoms == NULL || s.natoms <= SPEC_MAX_ATOMS);
    } else {
        CHECK(s.start.timeout_ms >= 1 && s.start.timeout_ms <= 600000);
        CHECK(s.start.heap_words >= 1000);
        CHECK(s.start.probation >= 1 && s.start.window >= 1);
        CHECK(s.batch >= 1 && s.batch <= WIRE_LIVE_MAX_BATCH);
        CHECK(s.rate >= 0 && s.rate <= 1e7);
        CHECK(s.natoms <= SPEC_MAX_ATOMS && s.start.natoms == s.natoms);
        CHECK(s.init_arg && s.init_arg_len >= 2 && s.init_arg[0] == ETF_VERSION);
        CHECK(s.start.init_arg == s.init_arg);
    }
    live_spec_free(&s);
    CHECK(s.atoms == NULL && s.init_arg == NULL);

    CHECK(live_spec_parse(base_spec, sizeof base_spec - 1, &s, err, sizeof err) == 0);
    live_trace_t t;
    err[0] = '\0';
    rc = live_trace_parse((const char *)data, size, &s, &t, err, sizeof err);
    if (rc) {
        CHECK(rc == ERR_SPEC || rc == -ENOMEM);
        CHECK(rc != ERR_SPEC || err[0] != '\0');
    } else {
        CHECK(t.n >= 1 && t.n <= LIVE_MAX_TRACE);
        for (size_t i = 0; i < t.n; i++) {
            CHECK(t.reqs[i].req && t.reqs[i].req_len >= 2 && t.reqs[i].req[0] == ETF_VERSION);
            CHECK(!t.reqs[i].expect ||
                  (t.reqs[i].expect_len >= 2 && t.reqs[i].expect[0] == ETF_VERSION));
        }
    }
    live_trace_free(&t);
    CHECK(t.reqs == NULL && t.n == 0);
    live_spec_free(&s);
    return 0;
}
