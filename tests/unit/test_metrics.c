/* test_metrics.c - cmocka tests of the Prometheus text builder and the
 * histogram type (shared/metrics.c, shared/metrics_gossip.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gossip.h"
#include "metrics.h"

static void test_family_and_samples(void **state)
{
    metrics_buf_t m;
    metrics_init(&m);
    metrics_family(&m, "petri_x_total", "counter", "Things.");
    metrics_sample(&m, "petri_x_total", 3, NULL);
    metrics_sample(&m, "petri_x_total", 42, "a", "1", "b", "two", NULL);
    assert_int_equal(m.err, 0);
    assert_string_equal(m.data, "# HELP petri_x_total Things.\n"
                                "# TYPE petri_x_total counter\n"
                                "petri_x_total 3\n"
                                "petri_x_total{a=\"1\",b=\"two\"} 42\n");
    assert_int_equal(m.len, strlen(m.data));
    metrics_free(&m);
    assert_null(m.data);
}

static void test_label_escaping(void **state)
{
    metrics_buf_t m;
    metrics_init(&m);
    metrics_sample(&m, "g", 1, "v", "a\\b\"c\nd", NULL);
    assert_string_equal(m.data, "g{v=\"a\\\\b\\\"c\\nd\"} 1\n");
    metrics_free(&m);
    metrics_init(&m);
    metrics_sample(&m, "g", 1, "v", NULL, NULL); /* NULL value = "" */
    assert_string_equal(m.data, "g{v=\"\"} 1\n");
    metrics_free(&m);
    /* HELP escapes backslash and newline but leaves quotes alone */
    metrics_init(&m);
    metrics_family(&m, "h", "gauge", "x\\y\n\"z\"");
    assert_string_equal(m.data, "# HELP h x\\\\y\\n\"z\"\n# TYPE h gauge\n");
    metrics_free(&m);
}

static void test_values(void **state)
{
    metrics_buf_t m;
    metrics_init(&m);
    metrics_sample(&m, "a", NAN, NULL);
    metrics_sample(&m, "b", INFINITY, NULL);
    metrics_sample(&m, "c", -INFINITY, NULL);
    metrics_sample(&m, "d", 0.25, NULL);
    metrics_sample(&m, "e", 9007199254740992.0, NULL);
    metrics_sample(&m, "f", -7, NULL);
    metrics_sample(&m, "g", 1e300, NULL);
    metrics_sample(&m, "h", 0.1, NULL);
    assert_string_equal(m.data, "a NaN\nb +Inf\nc -Inf\nd 0.25\ne 9007199254740992\nf -7\n"
                                "g 1e+300\nh 0.1\n");
    metrics_free(&m);
}

static void test_take_and_growth(void **state)
{
    metrics_buf_t m;
    metrics_init(&m);
    size_t len = 1;
    assert_null(metrics_take(&m, &len)); /* nothing written */
    assert_int_equal(len, 0);
    metrics_init(&m);
    char name[32];
    for (int i = 0; i < 5000; i++) { /* well past the first 4 KiB */
        snprintf(name, sizeof name, "%d", i);
        metrics_sample(&m, "petri_many", i, "i", name, NULL);
    }
    char *t = metrics_take(&m, &len);
    assert_non_null(t);
    assert_null(m.data);
    assert_int_equal(len, strlen(t));
    assert_non_null(strstr(t, "petri_many{i=\"4999\"} 4999\n"));
    assert_true(strncmp(t, "petri_many{i=\"0\"} 0\n", 20) == 0);
    free(t);
}

static void test_histogram_default_buckets(void **state)
{
    metrics_hist_t h;
    memset(&h, 0, sizeof h);           /* zeroed = the latency buckets */
    metrics_hist_observe(&h, 0.00005); /* first bucket */
    metrics_hist_observe(&h, 0.001);   /* exactly on a bound: le is inclusive */
    metrics_hist_observe(&h, 0.3);
    metrics_hist_observe(&h, 1000); /* +Inf only */
    metrics_hist_observe(&h, NAN);  /* ignored */
    assert_int_equal(h.count, 4);
    metrics_buf_t m;
    metrics_init(&m);
    metrics_hist_write(&m, "lat_seconds", &h, "vm", "0", NULL);
    assert_non_null(strstr(m.data, "lat_seconds_bucket{vm=\"0\",le=\"0.0001\"} 1\n"));
    assert_non_null(strstr(m.data, "lat_seconds_bucket{vm=\"0\",le=\"0.001\"} 2\n"));
    assert_non_null(strstr(m.data, "lat_seconds_bucket{vm=\"0\",le=\"0.25\"} 2\n"));
    assert_non_null(strstr(m.data, "lat_seconds_bucket{vm=\"0\",le=\"0.5\"} 3\n"));
    assert_non_null(strstr(m.data, "lat_seconds_bucket{vm=\"0\",le=\"30\"} 3\n"));
    assert_non_null(strstr(m.data, "lat_seconds_bucket{vm=\"0\",le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(m.data, "lat_seconds_count{vm=\"0\"} 4\n"));
    assert_non_null(strstr(m.data, "lat_seconds_sum{vm=\"0\"} 1000.30105"));
    /* one line per bound, +Inf, sum and count */
    int lines = 0;
    for (const char *p = m.data; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, metrics_latency_nbounds + 3);
    metrics_free(&m);
}

static void test_histogram_custom_and_merge(void **state)
{
    static const double b[] = {1, 10, 100};
    metrics_hist_t a, c;
    metrics_hist_init(&a, b, 3);
    metrics_hist_init(&c, b, 3);
    metrics_hist_observe(&a, 5);
    metrics_hist_observe(&c, 50);
    metrics_hist_observe(&c, 500);
    metrics_hist_merge(&a, &c);
    assert_int_equal(a.count, 3);
    assert_true(fabs(a.sum - 555) < 1e-9);
    metrics_buf_t m;
    metrics_init(&m);
    metrics_hist_write(&m, "h", &a, NULL);
    assert_string_equal(m.data, "h_bucket{le=\"1\"} 0\nh_bucket{le=\"10\"} 1\n"
                                "h_bucket{le=\"100\"} 2\nh_bucket{le=\"+Inf\"} 3\n"
                                "h_sum 555\nh_count 3\n");
    metrics_free(&m);
}

static void test_one(void **state)
{
    metrics_buf_t m;
    metrics_init(&m);
    metrics_one(&m, "petri_up", "gauge", "Up.", 1);
    assert_string_equal(m.data, "# HELP petri_up Up.\n# TYPE petri_up gauge\npetri_up 1\n");
    metrics_free(&m);
}

static void test_gossip_families(void **state)
{
    gossip_member_t mem[4];
    memset(mem, 0, sizeof mem);
    mem[0].status = SWIM_ALIVE;
    mem[1].status = SWIM_ALIVE;
    mem[2].status = SWIM_SUSPECT;
    mem[3].status = SWIM_DEAD;
    gossip_stats_t st;
    memset(&st, 0, sizeof st);
    st.swim.probes = 17;
    st.swim.bytes_out = 1234;
    st.drop_crypto = 2;
    metrics_buf_t m;
    metrics_init(&m);
    metrics_gossip_from(&m, mem, 4, &st);
    assert_non_null(strstr(m.data, "petri_gossip_members{state=\"alive\"} 2\n"));
    assert_non_null(strstr(m.data, "petri_gossip_members{state=\"suspect\"} 1\n"));
    assert_non_null(strstr(m.data, "petri_gossip_members{state=\"dead\"} 1\n"));
    assert_non_null(strstr(m.data, "petri_gossip_members{state=\"left\"} 0\n"));
    assert_non_null(strstr(m.data, "petri_gossip_probes_total 17\n"));
    assert_non_null(strstr(m.data, "petri_gossip_sent_bytes_total 1234\n"));
    assert_non_null(strstr(m.data, "petri_gossip_packets_dropped_total{reason=\"crypto\"} 2\n"));
    assert_non_null(strstr(m.data, "# TYPE petri_gossip_members gauge\n"));
    metrics_free(&m);
    metrics_init(&m);
    metrics_gossip(&m, NULL); /* nothing without a gossip */
    assert_null(m.data);
    metrics_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family_and_samples),
        cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_take_and_growth),
        cmocka_unit_test(test_histogram_default_buckets),
        cmocka_unit_test(test_histogram_custom_and_merge),
        cmocka_unit_test(test_one),
        cmocka_unit_test(test_gossip_families),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
