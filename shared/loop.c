/* loop.c - the single-threaded event loop (loop.h): zmq_poll over a poll
 * array rebuilt when watchers change, a signalfd, and a binary min-heap of
 * timers with lazy deletion. */
#include "loop.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "err.h"

struct watcher {
    int fd;     /* -1 for a ZeroMQ socket */
    void *sock; /* NULL for an fd */
    short events;
    bool dead; /* removed; compacted away outside dispatch */
    loop_io_fn fn;
    void *arg;
};

/* A timer slot: id = (generation << 32) | (index + 1); a slot is free when
 * its id is 0. Heap entries name ids; an entry whose id no longer matches
 * its slot is stale and skipped (lazy deletion). */
struct timer {
    int64_t id;
    uint32_t gen;
    loop_timer_fn fn;
    void *arg;
};

struct heap_ent {
    uint64_t deadline;
    uint64_t seq; /* insertion order: equal deadlines fire FIFO */
    int64_t id;
};

struct sig_handler {
    int signo;
    loop_signal_fn fn;
    void *arg;
};

struct loop {
    uint64_t now;
    bool stop;
    bool running; /* inside loop_run_once: no reentry */

    struct watcher *w;
    int nw, capw;
    bool dirty; /* poll array must be rebuilt */
    zmq_pollitem_t *items;
    int *item_w; /* items[i] belongs to w[item_w[i]] */
    int nitems, capitems;

    struct timer *t;
    uint32_t nt, capt;
    uint32_t *free_slots;
    size_t nfree, capfree;
    uint32_t live_timers;
    struct heap_ent *heap;
    size_t nheap, capheap;
    uint64_t seq;

    int sigfd;
    sigset_t sigmask;
    struct sig_handler *sigs;
    int nsigs;
};

uint64_t mono_ms(void)
{
    return mono_us() / 1000;
}

uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

loop_t *loop_new(void)
{
    loop_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->now = mono_ms();
    l->sigfd = -1;
    sigemptyset(&l->sigmask);
    return l;
}

void loop_destroy(loop_t **pl)
{
    if (!pl || !*pl)
        return;
    loop_t *l = *pl;
    if (l->sigfd >= 0)
        close(l->sigfd);
    free(l->w);
    free(l->items);
    free(l->item_w);
    free(l->t);
    free(l->free_slots);
    free(l->heap);
    free(l->sigs);
    free(l);
    *pl = NULL;
}

uint64_t loop_now(const loop_t *l)
{
    return l->now;
}

static int grow(void **p, size_t elem, size_t need, size_t *cap)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

/* ---- timers ---- */

static bool heap_less(const struct heap_ent *a, const struct heap_ent *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_up(struct heap_ent *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&h[i], &h[p]))
            break;
        struct heap_ent tmp = h[i];
        h[i] = h[p];
        h[p] = tmp;
        i = p;
    }
}

static void heap_down(struct heap_ent *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && heap_less(&h[l], &h[m]))
            m = l;
        if (r < n && heap_less(&h[r], &h[m]))
            m = r;
        if (m == i)
            break;
        struct heap_ent tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
    }
}

static struct timer *timer_lookup(loop_t *l, int64_t id)
{
    if (id <= 0)
        return NULL;
    uint64_t idx = ((uint64_t)id & 0xffffffffu);
    if (idx == 0 || idx > l->nt)
        return NULL;
    struct timer *t = &l->t[idx - 1];
    return t->id == id ? t : NULL;
}

static void heap_pop(loop_t *l)
{
    l->heap[0] = l->heap[--l->nheap];
    heap_down(l->heap, l->nheap, 0);
}

/* Drops stale entries when they outnumber live timers, so a pattern of
 * add+delete without firing cannot grow the heap without bound. */
static void heap_compact(loop_t *l)
{
    if (l->nheap < 64 || l->nheap < 2 * (size_t)l->live_timers)
        return;
    size_t n = 0;
    for (size_t i = 0; i < l->nheap; i++)
        if (timer_lookup(l, l->heap[i].id))
            l->heap[n++] = l->heap[i];
    l->nheap = n;
    for (size_t i = n / 2; i-- > 0;)
        heap_down(l->heap, n, i);
}

static int heap_push(loop_t *l, uint64_t deadline, int64_t id)
{
    heap_compact(l);
    if (grow((void **)&l->heap, sizeof *l->heap, l->nheap + 1, &l->capheap))
        return -ENOMEM;
    l->heap[l->nheap] = (struct heap_ent){deadline, l->seq++, id};
    heap_up(l->heap, l->nheap);
    l->nheap++;
    return 0;
}

static void timer_free(loop_t *l, struct timer *t)
{
    t->id = 0;
    t->fn = NULL;
    l->live_timers--;
    if (grow((void **)&l->free_slots, sizeof *l->free_slots, l->nfree + 1, &l->capfree) == 0)
        l->free_slots[l->nfree++] = (uint32_t)(t - l->t);
    /* else the slot is never reused: harmless */
}

int64_t loop_timer_add(loop_t *l, uint64_t after_ms, loop_timer_fn fn, void *arg)
{
    assert(l && fn);
    uint32_t idx;
    if (l->nfree > 0) {
        idx = l->free_slots[--l->nfree];
    } else {
        size_t cap = l->capt;
        if (l->nt >= 0x7fffffffu || grow((void **)&l->t, sizeof *l->t, l->nt + 1, &cap))
            return -ENOMEM;
        l->capt = (uint32_t)cap;
        idx = l->nt++;
        l->t[idx].gen = 0;
        l->t[idx].id = 0;
    }
    struct timer *t = &l->t[idx];
    t->gen = (t->gen + 1) & 0x7fffffff;
    if (t->gen == 0)
        t->gen = 1;
    t->id = ((int64_t)t->gen << 32) | (int64_t)(idx + 1);
    t->fn = fn;
    t->arg = arg;
    l->live_timers++;
    if (after_ms > UINT64_MAX / 4)
        after_ms = UINT64_MAX / 4;
    if (heap_push(l, mono_ms() + after_ms, t->id)) {
        timer_free(l, t);
        return -ENOMEM;
    }
    return t->id;
}

void loop_timer_del(loop_t *l, int64_t id)
{
    assert(l);
    struct timer *t = timer_lookup(l, id);
    if (t)
        timer_free(l, t);
}

/* Fires every timer due at l->now that existed before this pass began. */
static void run_timers(loop_t *l)
{
    uint64_t start_seq = l->seq;
    while (l->nheap > 0) {
        struct heap_ent e = l->heap[0];
        struct timer *t = timer_lookup(l, e.id);
        if (!t) {
            heap_pop(l);
            continue;
        }
        if (e.deadline > l->now || e.seq >= start_seq)
            break;
        heap_pop(l);
        int64_t id = t->id;
        int64_t next = t->fn(l, t->arg);
        t = timer_lookup(l, id); /* l->t may have moved; the timer may be gone */
        if (!t)
            continue;
        if (next > INT64_MAX / 4)
            next = INT64_MAX / 4;
        if (next < 0 || heap_push(l, l->now + (uint64_t)next, id) != 0)
            timer_free(l, t);
    }
}

/* Milliseconds until the first live timer (0 if due), or -1 if none. */
static int64_t next_timeout(loop_t *l)
{
    while (l->nheap > 0 && !timer_lookup(l, l->heap[0].id))
        heap_pop(l);
    if (l->nheap == 0)
        return -1;
    uint64_t now = mono_ms();
    uint64_t d = l->heap[0].deadline;
    if (d <= now)
        return 0;
    uint64_t wait = d - now;
    return wait > 3600 * 1000 ? 3600 * 1000 : (int64_t)wait;
}

/* ---- watchers ---- */

static int find_watcher(const loop_t *l, int fd, const void *sock)
{
    for (int i = 0; i < l->nw; i++)
        if (!l->w[i].dead && l->w[i].fd == fd && l->w[i].sock == sock)
            return i;
    return -1;
}

static int watcher_add(loop_t *l, int fd, void *sock, short events, loop_io_fn fn, void *arg)
{
    assert(l && fn);
    if (find_watcher(l, fd, sock) >= 0)
        return ERR_EXISTS;
    size_t cap = (size_t)l->capw;
    if (grow((void **)&l->w, sizeof *l->w, (size_t)l->nw + 1, &cap))
        return -ENOMEM;
    l->capw = (int)cap;
    l->w[l->nw++] = (struct watcher){fd, sock, events, false, fn, arg};
    l->dirty = true;
    return 0;
}

static int watcher_set(loop_t *l, int fd, void *sock, short events)
{
    int i = find_watcher(l, fd, sock);
    if (i < 0)
        return ERR_NOTFOUND;
    l->w[i].events = events;
    l->dirty = true;
    return 0;
}

static void watcher_del(loop_t *l, int fd, void *sock)
{
    int i = find_watcher(l, fd, sock);
    if (i < 0)
        return;
    l->w[i].dead = true; /* compacted before the next poll */
    l->dirty = true;
}

int loop_fd_add(loop_t *l, int fd, short events, loop_io_fn fn, void *arg)
{
    assert(fd >= 0);
    return watcher_add(l, fd, NULL, events, fn, arg);
}

int loop_fd_set_events(loop_t *l, int fd, short events)
{
    return watcher_set(l, fd, NULL, events);
}

void loop_fd_del(loop_t *l, int fd)
{
    watcher_del(l, fd, NULL);
}

int loop_sock_add(loop_t *l, void *zsock, short events, loop_io_fn fn, void *arg)
{
    assert(zsock);
    return watcher_add(l, -1, zsock, events, fn, arg);
}

int loop_sock_set_events(loop_t *l, void *zsock, short events)
{
    return watcher_set(l, -1, zsock, events);
}

void loop_sock_del(loop_t *l, void *zsock)
{
    watcher_del(l, -1, zsock);
}

static int rebuild_items(loop_t *l)
{
    int n = 0;
    for (int i = 0; i < l->nw; i++)
        if (!l->w[i].dead)
            l->w[n++] = l->w[i];
    l->nw = n;
    if (l->capitems < n) {
        zmq_pollitem_t *it = realloc(l->items, (size_t)n * sizeof *it);
        if (!it)
            return -ENOMEM;
        l->items = it;
        int *iw = realloc(l->item_w, (size_t)n * sizeof *iw);
        if (!iw)
            return -ENOMEM;
        l->item_w = iw;
        l->capitems = n;
    }
    l->nitems = 0;
    for (int i = 0; i < n; i++) {
        if (l->w[i].events == 0)
            continue;
        zmq_pollitem_t *it = &l->items[l->nitems];
        memset(it, 0, sizeof *it);
        it->socket = l->w[i].sock;
        it->fd = l->w[i].sock ? 0 : l->w[i].fd;
        it->events = l->w[i].events;
        l->item_w[l->nitems++] = i;
    }
    l->dirty = false;
    return 0;
}

/* ---- signals ---- */

int loop_block_signals(const int *signos, int n)
{
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < n; i++)
        if (sigaddset(&set, signos[i]) != 0)
            return -errno;
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return -errno;
    return 0;
}

static void on_signalfd(loop_t *l, short revents, void *arg)
{
    struct signalfd_siginfo si[8];
    for (;;) {
        ssize_t r = read(l->sigfd, si, sizeof si);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        for (size_t k = 0; k < (size_t)r / sizeof si[0]; k++)
            for (int i = 0; i < l->nsigs; i++)
                if (l->sigs[i].signo == (int)si[k].ssi_signo)
                    l->sigs[i].fn(l, l->sigs[i].signo, l->sigs[i].arg);
        if ((size_t)r < sizeof si)
            return;
    }
}

int loop_signal_add(loop_t *l, int signo, loop_signal_fn fn, void *arg)
{
    assert(l && fn);
    for (int i = 0; i < l->nsigs; i++)
        if (l->sigs[i].signo == signo)
            return ERR_EXISTS;
    sigset_t mask = l->sigmask;
    if (sigaddset(&mask, signo) != 0)
        return -errno;
    int rc = loop_block_signals(&signo, 1);
    if (rc)
        return rc;
    struct sig_handler *s = realloc(l->sigs, (size_t)(l->nsigs + 1) * sizeof *s);
    if (!s)
        return -ENOMEM;
    l->sigs = s;
    int fd = signalfd(l->sigfd, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (l->sigfd < 0) {
        rc = loop_fd_add(l, fd, ZMQ_POLLIN, on_signalfd, NULL);
        if (rc) {
            close(fd);
            return rc;
        }
        l->sigfd = fd;
    }
    l->sigmask = mask;
    l->sigs[l->nsigs++] = (struct sig_handler){signo, fn, arg};
    return 0;
}

/* ---- running ---- */

static int sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* EINTR: just an early wake-up */
    return 0;
}

int loop_run_once(loop_t *l, int max_wait_ms)
{
    assert(l && !l->running);
    if (l->dirty && rebuild_items(l) != 0)
        return -ENOMEM;
    int64_t timeout = next_timeout(l);
    if (max_wait_ms >= 0 && (timeout < 0 || timeout > max_wait_ms))
        timeout = max_wait_ms;
    int n;
    if (l->nitems == 0) {
        if (timeout < 0)
            return 0; /* nothing can ever happen */
        n = sleep_ms(timeout);
    } else {
        n = zmq_poll(l->items, l->nitems, (long)timeout);
        if (n < 0) {
            if (errno != EINTR)
                return -errno;
            n = 0;
        }
    }
    l->now = mono_ms();
    l->running = true;
    /* Watchers added during dispatch are appended to l->w and are not in
     * this snapshot; removed ones are marked dead and skipped. */
    for (int i = 0; n > 0 && i < l->nitems; i++) {
        short rev = l->items[i].revents;
        if (!rev)
            continue;
        struct watcher *w = &l->w[l->item_w[i]];
        rev &= (short)(w->events | ZMQ_POLLERR);
        if (w->dead || !rev)
            continue;
        w->fn(l, rev, w->arg);
    }
    run_timers(l);
    l->running = false;
    return 0;
}

int loop_run(loop_t *l)
{
    assert(l);
    l->stop = false;
    while (!l->stop) {
        if (l->nw == 0 && l->live_timers == 0)
            break;
        int rc = loop_run_once(l, -1);
        if (rc)
            return rc;
    }
    l->stop = false;
    return 0;
}

void loop_stop(loop_t *l)
{
    assert(l);
    l->stop = true;
}
