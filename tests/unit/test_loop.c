/* test_loop.c - cmocka tests of the event loop (shared/loop.c): timer
 * order and re-arming, removal inside callbacks, fd and ZeroMQ watchers,
 * signals through the signalfd, loop_stop. No timing thresholds: only
 * order and counts are asserted. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include <cmocka.h>

#include "err.h"
#include "loop.h"

struct rec {
    int order[32];
    int n;
    int64_t ids[8];
    int fires[8];
};

struct targ {
    struct rec *r;
    int tag;
    int64_t rearm;  /* interval to return */
    int max_fires;  /* stop after this many (0 = return rearm forever) */
    int64_t victim; /* timer id to delete when fired (0 = none) */
    int stop_after; /* call loop_stop when r->n reaches this */
};

static int64_t on_timer(loop_t *l, void *arg)
{
    struct targ *t = arg;
    struct rec *r = t->r;
    if (r->n < 32)
        r->order[r->n++] = t->tag;
    r->fires[t->tag]++;
    if (t->victim)
        loop_timer_del(l, t->victim);
    if (t->stop_after && r->n >= t->stop_after)
        loop_stop(l);
    if (t->max_fires && r->fires[t->tag] >= t->max_fires)
        return LOOP_TIMER_STOP;
    return t->rearm;
}

static void test_clock(void **state)
{
    uint64_t a = mono_ms(), b = mono_ms();
    assert_true(b >= a);
    uint64_t us = mono_us();
    assert_true(us / 1000 >= a);
}

static void test_timers_fire_in_order(void **state)
{
    struct rec r = {0};
    loop_t *l = loop_new();
    assert_non_null(l);
    struct targ t[4] = {{&r, 0, LOOP_TIMER_STOP, 0, 0, 0},
                        {&r, 1, LOOP_TIMER_STOP, 0, 0, 0},
                        {&r, 2, LOOP_TIMER_STOP, 0, 0, 0},
                        {&r, 3, LOOP_TIMER_STOP, 0, 0, 0}};
    assert_true(loop_timer_add(l, 30, on_timer, &t[3]) > 0);
    assert_true(loop_timer_add(l, 10, on_timer, &t[1]) > 0);
    assert_true(loop_timer_add(l, 0, on_timer, &t[0]) > 0);
    assert_true(loop_timer_add(l, 20, on_timer, &t[2]) > 0);
    assert_int_equal(loop_run(l), 0); /* returns when no timer is left */
    assert_int_equal(r.n, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(r.order[i], i);
    loop_destroy(&l);
    assert_null(l);
}

static void test_equal_deadlines_fifo(void **state)
{
    struct rec r = {0};
    loop_t *l = loop_new();
    struct targ t[5];
    for (int i = 0; i < 5; i++) {
        t[i] = (struct targ){&r, i, LOOP_TIMER_STOP, 0, 0, 0};
        assert_true(loop_timer_add(l, 0, on_timer, &t[i]) > 0);
    }
    assert_int_equal(loop_run_once(l, 0), 0);
    assert_int_equal(r.n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(r.order[i], i);
    loop_destroy(&l);
}

static void test_rearm(void **state)
{
    struct rec r = {0};
    loop_t *l = loop_new();
    struct targ t = {&r, 0, 1, 5, 0, 0};
    struct targ zero = {&r, 1, 0, 3, 0, 0}; /* re-armed with 0: once per iteration */
    assert_true(loop_timer_add(l, 1, on_timer, &t) > 0);
    assert_true(loop_timer_add(l, 0, on_timer, &zero) > 0);
    assert_int_equal(loop_run_once(l, 0), 0);
    assert_int_equal(r.fires[1], 1);
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(r.fires[0], 5);
    assert_int_equal(r.fires[1], 3);
    loop_destroy(&l);
}

static void test_delete(void **state)
{
    struct rec r = {0};
    loop_t *l = loop_new();
    struct targ a = {&r, 0, LOOP_TIMER_STOP, 0, 0, 0};
    struct targ b = {&r, 1, LOOP_TIMER_STOP, 0, 0, 0};
    struct targ c = {&r, 2, LOOP_TIMER_STOP, 0, 0, 0};
    int64_t ia = loop_timer_add(l, 0, on_timer, &a);
    int64_t ib = loop_timer_add(l, 0, on_timer, &b);
    int64_t ic = loop_timer_add(l, 0, on_timer, &c);
    assert_true(ia > 0 && ib > 0 && ic > 0 && ia != ib && ib != ic);
    /* a deletes c, which is due in the same iteration: c never runs */
    a.victim = ic;
    loop_timer_del(l, ib); /* deleted before running */
    loop_timer_del(l, ib); /* twice: harmless */
    loop_timer_del(l, 12345);
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.order[0], 0);

    /* a timer deleting itself and returning an interval is not re-armed */
    struct rec r2 = {0};
    struct targ self = {&r2, 0, 1, 0, 0, 0};
    int64_t is = loop_timer_add(l, 0, on_timer, &self);
    self.victim = is;
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(r2.fires[0], 1);
    /* a fired-and-stopped id is harmless to delete; slot reuse gives new ids */
    loop_timer_del(l, is);
    int64_t again = loop_timer_add(l, 0, on_timer, &a);
    assert_true(again != is);
    a.victim = 0;
    assert_int_equal(loop_run(l), 0);
    loop_destroy(&l);
}

static void test_many_add_del(void **state)
{
    struct rec r = {0};
    loop_t *l = loop_new();
    struct targ t = {&r, 0, LOOP_TIMER_STOP, 0, 0, 0};
    for (int i = 0; i < 10000; i++) {
        int64_t id = loop_timer_add(l, 100000, on_timer, &t);
        assert_true(id > 0);
        loop_timer_del(l, id);
    }
    int64_t id = loop_timer_add(l, 0, on_timer, &t);
    assert_true(id > 0);
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(r.fires[0], 1);
    loop_destroy(&l);
}

struct io {
    int fd;
    int calls;
    char got[64];
    int other_fd; /* fd whose watcher is deleted from this callback */
    short last;
};

static void on_read(loop_t *l, short revents, void *arg)
{
    struct io *io = arg;
    io->calls++;
    io->last = revents;
    if (revents & ZMQ_POLLIN) {
        ssize_t n = read(io->fd, io->got, sizeof io->got - 1);
        io->got[n > 0 ? n : 0] = '\0';
    }
    if (io->other_fd >= 0)
        loop_fd_del(l, io->other_fd);
    loop_stop(l);
}

static void test_fd_watcher(void **state)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    loop_t *l = loop_new();
    struct io io = {.fd = p[0], .other_fd = -1};
    assert_int_equal(loop_fd_add(l, p[0], ZMQ_POLLIN, on_read, &io), 0);
    assert_int_equal(loop_fd_add(l, p[0], ZMQ_POLLIN, on_read, &io), ERR_EXISTS);
    assert_int_equal(loop_fd_set_events(l, 999, ZMQ_POLLIN), ERR_NOTFOUND);
    assert_int_equal(loop_run_once(l, 0), 0);
    assert_int_equal(io.calls, 0);
    assert_int_equal(write(p[1], "ping", 4), 4);
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(io.calls, 1);
    assert_string_equal(io.got, "ping");
    assert_true(io.last & ZMQ_POLLIN);

    /* events 0 silences the watcher */
    assert_int_equal(loop_fd_set_events(l, p[0], 0), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(loop_run_once(l, 0), 0);
    assert_int_equal(io.calls, 1);
    assert_int_equal(loop_fd_set_events(l, p[0], ZMQ_POLLIN), 0);
    assert_int_equal(loop_run_once(l, 0), 0);
    assert_int_equal(io.calls, 2);
    loop_fd_del(l, p[0]);
    loop_fd_del(l, p[0]); /* harmless */
    assert_int_equal(write(p[1], "y", 1), 1);
    assert_int_equal(loop_run_once(l, 0), 0);
    assert_int_equal(io.calls, 2);
    loop_destroy(&l);
    close(p[0]);
    close(p[1]);
}

static void test_fd_removed_inside_callback(void **state)
{
    int a[2], b[2];
    assert_int_equal(pipe(a), 0);
    assert_int_equal(pipe(b), 0);
    loop_t *l = loop_new();
    struct io ia = {.fd = a[0]}, ib = {.fd = b[0]};
    ia.other_fd = b[0]; /* whichever runs first removes the other */
    ib.other_fd = a[0];
    assert_int_equal(loop_fd_add(l, a[0], ZMQ_POLLIN, on_read, &ia), 0);
    assert_int_equal(loop_fd_add(l, b[0], ZMQ_POLLIN, on_read, &ib), 0);
    assert_int_equal(write(a[1], "a", 1), 1);
    assert_int_equal(write(b[1], "b", 1), 1);
    /* both are ready in the same poll; only one callback may run */
    assert_int_equal(loop_run_once(l, -1), 0);
    assert_int_equal(ia.calls + ib.calls, 1);
    assert_int_equal(loop_run_once(l, 0), 0); /* the removed one stays silent */
    assert_int_equal(ia.calls + ib.calls, 1);
    assert_int_equal(write(a[1], "a", 1), 1);
    assert_int_equal(write(b[1], "b", 1), 1);
    assert_int_equal(loop_run_once(l, -1), 0);
    assert_int_equal(ia.calls + ib.calls, 2); /* the survivor still works */
    assert_true(ia.calls == 2 || ib.calls == 2);
    loop_destroy(&l);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
}

struct zio {
    void *sock;
    int calls;
    char got[32];
};

static void on_zmq(loop_t *l, short revents, void *arg)
{
    struct zio *z = arg;
    z->calls++;
    int n = zmq_recv(z->sock, z->got, sizeof z->got - 1, ZMQ_DONTWAIT);
    z->got[n > 0 ? n : 0] = '\0';
    loop_stop(l);
}

static void test_zmq_watcher(void **state)
{
    void *ctx = zmq_ctx_new();
    void *a = zmq_socket(ctx, ZMQ_PAIR), *b = zmq_socket(ctx, ZMQ_PAIR);
    assert_int_equal(zmq_bind(a, "inproc://test-loop"), 0);
    assert_int_equal(zmq_connect(b, "inproc://test-loop"), 0);
    loop_t *l = loop_new();
    struct zio z = {.sock = a};
    assert_int_equal(loop_sock_add(l, a, ZMQ_POLLIN, on_zmq, &z), 0);
    assert_int_equal(loop_sock_add(l, a, ZMQ_POLLIN, on_zmq, &z), ERR_EXISTS);
    assert_int_equal(loop_run_once(l, 0), 0);
    assert_int_equal(z.calls, 0);
    assert_int_equal(zmq_send(b, "hello", 5, 0), 5);
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(z.calls, 1);
    assert_string_equal(z.got, "hello");
    assert_int_equal(loop_sock_set_events(l, a, ZMQ_POLLOUT), 0);
    assert_int_equal(loop_sock_set_events(l, b, ZMQ_POLLOUT), ERR_NOTFOUND);
    loop_sock_del(l, a);
    loop_destroy(&l);
    int linger = 0;
    zmq_setsockopt(a, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(b, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
}

static int got_signo;
static void on_signal(loop_t *l, int signo, void *arg)
{
    got_signo = signo;
    (*(int *)arg)++;
    loop_stop(l);
}

static void test_signal(void **state)
{
    int calls = 0;
    const int sigs[] = {SIGUSR2};
    assert_int_equal(loop_block_signals(sigs, 1), 0);
    loop_t *l = loop_new();
    assert_int_equal(loop_signal_add(l, SIGUSR1, on_signal, &calls), 0);
    assert_int_equal(loop_signal_add(l, SIGUSR1, on_signal, &calls), ERR_EXISTS);
    assert_int_equal(loop_signal_add(l, SIGUSR2, on_signal, &calls), 0);
    assert_int_equal(raise(SIGUSR1), 0); /* blocked: not fatal, queued for the fd */
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(calls, 1);
    assert_int_equal(got_signo, SIGUSR1);
    assert_int_equal(raise(SIGUSR2), 0);
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(calls, 2);
    assert_int_equal(got_signo, SIGUSR2);
    loop_destroy(&l);
}

static int64_t stopper(loop_t *l, void *arg)
{
    (*(int *)arg)++;
    loop_stop(l);
    return 0; /* would fire forever without the stop */
}

static void test_stop_and_now(void **state)
{
    int n = 0;
    loop_t *l = loop_new();
    uint64_t before = loop_now(l);
    int64_t id = loop_timer_add(l, 0, stopper, &n);
    assert_true(id > 0);
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(n, 1);
    assert_true(loop_now(l) >= before);
    assert_int_equal(loop_run(l), 0); /* runs again after a stop */
    assert_int_equal(n, 2);
    loop_timer_del(l, id);
    assert_int_equal(loop_run(l), 0); /* nothing left: returns */
    assert_int_equal(n, 2);
    loop_destroy(&l);
    loop_destroy(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_timers_fire_in_order),
        cmocka_unit_test(test_equal_deadlines_fifo),
        cmocka_unit_test(test_rearm),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_many_add_del),
        cmocka_unit_test(test_fd_watcher),
        cmocka_unit_test(test_fd_removed_inside_callback),
        cmocka_unit_test(test_zmq_watcher),
        cmocka_unit_test(test_signal),
        cmocka_unit_test(test_stop_and_now),
    };
    return cmocka_run_group_tests_name("loop", tests, NULL, NULL);
}
