/* test_placement.c - rendezvous hashing: determinism, minimal movement,
 * weights. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "placement.h"

static void make_nodes(place_node_t *nodes, int n)
{
    memset(nodes, 0, sizeof *nodes * (size_t)n);
    for (int i = 0; i < n; i++) {
        nodes[i].id[0] = (uint8_t)(i + 1);
        nodes[i].id[15] = (uint8_t)(i * 7 + 3);
        nodes[i].weight = 2;
    }
}

static void test_pick_is_deterministic_and_skips_weightless(void **state)
{
    (void)state;
    place_node_t nodes[4];
    make_nodes(nodes, 4);
    char key[64];
    size_t kl = place_deme_key("quad", 3, key, sizeof key);
    assert_string_equal(key, "quad/3");
    int a = place_pick(nodes, 4, key, kl);
    assert_true(a >= 0 && a < 4);
    assert_int_equal(place_pick(nodes, 4, key, kl), a);
    nodes[a].weight = 0;
    int b = place_pick(nodes, 4, key, kl);
    assert_true(b >= 0 && b != a);
    for (int i = 0; i < 4; i++)
        nodes[i].weight = 0;
    assert_int_equal(place_pick(nodes, 4, key, kl), -1);
    assert_int_equal(place_pick(nodes, 0, key, kl), -1);
}

static void test_leave_moves_only_the_leavers_keys(void **state)
{
    (void)state;
    place_node_t nodes[10];
    make_nodes(nodes, 10);
    int before[500], moved = 0;
    char key[64];
    for (int k = 0; k < 500; k++) {
        size_t kl = place_deme_key("p", (uint32_t)k, key, sizeof key);
        before[k] = place_pick(nodes, 10, key, kl);
    }
    nodes[4].weight = 0; /* node 4 leaves */
    for (int k = 0; k < 500; k++) {
        size_t kl = place_deme_key("p", (uint32_t)k, key, sizeof key);
        int now = place_pick(nodes, 10, key, kl);
        if (now != before[k]) {
            moved++;
            assert_int_equal(before[k], 4); /* only keys of the leaver move */
        }
        assert_int_not_equal(now, 4);
    }
    assert_true(moved > 0);
}

static void test_weights_shape_the_shares(void **state)
{
    (void)state;
    place_node_t nodes[2];
    make_nodes(nodes, 2);
    nodes[0].weight = 1;
    nodes[1].weight = 3;
    int count[2] = {0, 0};
    char key[64];
    for (int k = 0; k < 4000; k++) {
        size_t kl = place_deme_key("w", (uint32_t)k, key, sizeof key);
        count[place_pick(nodes, 2, key, kl)]++;
    }
    /* expected 1000 vs 3000: allow wide statistical slack */
    assert_true(count[0] > 800 && count[0] < 1200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick_is_deterministic_and_skips_weightless),
        cmocka_unit_test(test_leave_moves_only_the_leavers_keys),
        cmocka_unit_test(test_weights_shape_the_shares),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
