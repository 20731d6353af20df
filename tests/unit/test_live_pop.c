/* test_live_pop.c - a live population's config (coordinator/live_pop.c) and
 * the readers of the agents' live frames (coordinator/live_wire.c): a good
 * config parses into what the agents are sent; every bad field is refused
 * with a message naming it; event and status frames round-trip, and bytes
 * cut short or with trailing garbage are refused. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "live_pop.h"
#include "wire_live.h"

static const char *good =
    "{\"name\": \"limiter\", \"function\": \"handle/2\", \"language\": \"erlang\","
    " \"primitives\": {\"ops\": [\"+\", \"-\"], \"constants\": {\"min\": 1, \"max\": 9,"
    " \"integer\": true}},"
    " \"operators\": {\"literal\": 3, \"guard\": 1},"
    " \"live\": {\"atoms\": [\"hit\", \"allow\", \"deny\"], \"probation\": 20, \"rate\": 100},"
    " \"trace\": \"{\\\"req\\\": {\\\"$tuple\\\": [{\\\"$atom\\\": \\\"hit\\\"}, 1, 5]},"
    " \\\"expect\\\": {\\\"$atom\\\": \\\"allow\\\"}}\\n\","
    " \"genome\": \"-module(m).\\n-export([init/1, handle/2]).\\ninit(_) -> 0.\\n"
    "handle(_, S) -> {allow, S}.\\n\","
    " \"individuals\": 3, \"upgrade_every_ms\": 250, \"stop\": {\"max_upgrades\": 40}}";

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *o = json_loads(text, JSON_DECODE_ANY, &je);
    assert_non_null(o);
    return o;
}

static void test_good_config(void **state)
{
    (void)state;
    json_t *cfg = load(good);
    char err[600] = "";
    live_pop_t *p = live_pop_new(cfg, err, sizeof err);
    json_decref(cfg);
    assert_non_null(p);
    assert_string_equal(p->name, "limiter");
    assert_int_equal(p->n, 3);
    assert_int_equal(p->upgrade_every_ms, 250);
    assert_int_equal(p->max_upgrades, 40);
    assert_true(p->breed_spec.len > 0);
    assert_non_null(p->shell);
    assert_int_equal(p->shell->spec_wire.len, p->breed_spec.len);
    double sum = 0, lit = 0;
    for (int k = 0; k < POP_OPS; k++) {
        sum += p->rates[k];
        if (!strcmp(ops_names[k], "literal"))
            lit = p->rates[k];
    }
    assert_true(fabs(sum - 1) < 1e-9 && fabs(lit - 0.75) < 1e-9);
    assert_non_null(strstr(p->live_spec, "\"probation\":20"));
    live_pop_destroy(&p);
    assert_null(p);
}

/* Replaces key in the good config by value (JSON text; NULL deletes it)
 * and expects a refusal whose message contains want. */
static void refused(const char *key, const char *value, const char *want)
{
    json_t *cfg = load(good);
    if (value)
        json_object_set_new(cfg, key, load(value));
    else
        json_object_del(cfg, key);
    char err[600] = "";
    live_pop_t *p = live_pop_new(cfg, err, sizeof err);
    json_decref(cfg);
    if (p || !strstr(err, want))
        fail_msg("%s=%s: expected an error naming \"%s\", got %s \"%s\"", key,
                 value ? value : "(none)", want, p ? "a population" : "", err);
    live_pop_destroy(&p);
}

static void test_bad_fields(void **state)
{
    (void)state;
    refused("name", "\"Has Space\"", "name");
    refused("name", "[\"x\"]", "name");
    refused("name", NULL, "name");
    refused("live", NULL, "live");
    refused("live", "{\"probation\": 0}", "live.probation");
    refused("live", "{\"nope\": 1}", "nope");
    refused("live", "{\"atoms\": [\"Not An Atom\"]}", "atoms");
    refused("trace", NULL, "trace");
    refused("trace", "\"\"", "trace");
    refused("trace", "\"not json\\n\"", "trace line 1");
    refused("trace", "\"{\\\"req\\\": {\\\"$atom\\\": \\\"undeclared\\\"}}\"", "trace line 1");
    refused("genome", NULL, "genome");
    refused("genome", "\"\"", "genome");
    refused("individuals", "0", "individuals");
    refused("individuals", "65", "individuals");
    refused("individuals", "1.5", "individuals");
    refused("upgrade_every_ms", "-1", "upgrade_every_ms");
    refused("stop", "{\"max_upgrades\": -2}", "stop.max_upgrades");
    refused("stop", "7", "stop");
    refused("operators", "{\"nope\": 1}", "operators.nope");
    refused("operators", "{\"literal\": 0}", "operators");
    refused("operators", "{\"literal\": -1}", "operators.literal");
    refused("function", "\"keep/2\"", "function");
    refused("language", "\"cobol\"", "language");
    refused("unknown_key", "1", "unknown_key");
    /* too big for one START frame */
    char *big = malloc(LIVE_POP_MAX_GENOME + 16);
    assert_non_null(big);
    big[0] = '"';
    memset(big + 1, 'x', LIVE_POP_MAX_GENOME + 1);
    strcpy(big + LIVE_POP_MAX_GENOME + 2, "\"");
    refused("genome", big, "genome");
    free(big);
    char err[100];
    assert_null(live_pop_new(NULL, err, sizeof err));
}

static void put_event(wire_buf_t *b, uint8_t kind, const char *reason)
{
    uint8_t h[CRYPTO_HASH_LEN] = {1};
    wire_put_str(b, "limiter");
    wire_put_u32(b, 2);
    wire_put_u64(b, 7);
    wire_put_u8(b, kind);
    wire_put_u64(b, 9);
    wire_put_u32(b, 4);
    wire_put_u64(b, 1234);
    wire_put_str(b, "literal");
    wire_put_u64(b, 99);
    for (int k = 0; k < 4; k++)
        wire_put_raw(b, h, sizeof h);
    wire_put_f64(b, 0.75);
    wire_put_f64(b, NAN);
    wire_put_u32(b, 100);
    wire_put_str(b, reason);
    wire_put_bytes(b, "\x83h\x00", 3);
    wire_put_bytes(b, "-module(m).", 11);
    uint8_t sig[CRYPTO_SIG_LEN] = {5};
    wire_put_raw(b, sig, sizeof sig);
}

static void test_event_reader(void **state)
{
    (void)state;
    wire_buf_t b;
    wire_buf_init(&b);
    put_event(&b, WIRE_LIVE_ROLLBACK, "crashed in code_change");
    live_event_t e;
    assert_int_equal(live_event_read(b.data, b.len, &e), 0);
    assert_string_equal(e.pop, "limiter");
    assert_int_equal(e.ind, 2);
    assert_int_equal(e.incarnation, 7);
    assert_int_equal(e.kind, WIRE_LIVE_ROLLBACK);
    assert_int_equal(e.upgrade_id, 9);
    assert_string_equal(e.reason, "crashed in code_change");
    assert_true(isnan(e.child_score) && e.parent_score == 0.75);
    assert_int_equal(e.snap_len, 3);
    assert_int_equal(e.src_len, 11);
    assert_memory_equal(e.src, "-module(m).", 11);
    for (size_t n = 0; n < b.len; n++)
        assert_int_not_equal(live_event_read(b.data, n, &e), 0);
    wire_put_u8(&b, 0);
    assert_int_equal(live_event_read(b.data, b.len, &e), ERR_PROTO);
    wire_buf_reset(&b);
    put_event(&b, WIRE_LIVE__COUNT, "");
    assert_int_equal(live_event_read(b.data, b.len, &e), ERR_PROTO);
    wire_buf_free(&b);
}

static void test_status_reader(void **state)
{
    (void)state;
    wire_buf_t b;
    wire_buf_init(&b);
    wire_put_str(&b, "limiter");
    wire_put_u32(&b, 1);
    wire_put_u64(&b, 3);
    wire_put_u32(&b, 5);
    for (int k = 0; k < 4; k++)
        wire_put_u64(&b, 100 + (uint64_t)k);
    wire_put_f64(&b, 0.5);
    for (int k = 0; k < 4; k++)
        wire_put_u64(&b, 10 + (uint64_t)k);
    wire_put_u8(&b, 1);
    wire_rd_t r;
    live_status_t s;
    wire_rd_init(&r, b.data, b.len);
    assert_int_equal(live_status_read(&r, &s), 0);
    assert_int_equal(r.left, 0);
    assert_string_equal(s.pop, "limiter");
    assert_int_equal(s.version, 5);
    assert_int_equal(s.requests, 100);
    assert_int_equal(s.twice, 13);
    assert_true(s.fitness == 0.5 && s.on_probation == 1);
    b.data[b.len - 1] = 2; /* not a boolean */
    wire_rd_init(&r, b.data, b.len);
    assert_int_equal(live_status_read(&r, &s), ERR_PROTO);
    wire_rd_init(&r, b.data, b.len - 2);
    assert_int_not_equal(live_status_read(&r, &s), 0);
    wire_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_config),
        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_event_reader),
        cmocka_unit_test(test_status_reader),
    };
    return cmocka_run_group_tests_name("live_pop", tests, NULL, NULL);
}
