/* loop.h - the single-threaded event loop of every daemon: zmq_poll over
 * ZeroMQ sockets and plain fds, signals through a signalfd, and a timer
 * heap on the monotonic clock. Handlers must be short and non-blocking.
 *
 * Invariants:
 *  1. Time is CLOCK_MONOTONIC in milliseconds; wall-clock jumps change nothing.
 *  2. A watcher or timer removed inside any callback is never called again,
 *     even later in the same iteration.
 *  3. Timers fire in deadline order; a timer callback returns the delay in
 *     ms until it should fire again, or LOOP_TIMER_STOP.
 */
#ifndef PETRI_LOOP_H
#define PETRI_LOOP_H

#include <stdint.h>

#define LOOP_TIMER_STOP (-1)

typedef struct loop loop_t;

/* Called with the revents (ZMQ_POLLIN/ZMQ_POLLOUT/ZMQ_POLLERR) that fired. */
typedef void (*loop_io_fn)(loop_t *l, short revents, void *arg);
/* Returns the next interval in ms (>= 0), or LOOP_TIMER_STOP. */
typedef int64_t (*loop_timer_fn)(loop_t *l, void *arg);
typedef void (*loop_signal_fn)(loop_t *l, int signo, void *arg);

/* Monotonic clock in milliseconds. */
uint64_t mono_ms(void);
/* Monotonic clock in microseconds. */
uint64_t mono_us(void);

loop_t *loop_new(void);
/* Destroys the loop; does not close watched fds or sockets. */
void loop_destroy(loop_t **l);

/* Time of the current iteration (cached mono_ms()). */
uint64_t loop_now(const loop_t *l);

/* Returns a timer id > 0, or a negative error. The first firing is
 * after_ms from now (mono_ms()); re-arming counts from loop_now(). A
 * timer re-armed with 0 fires on the next iteration, not the current one. */
int64_t loop_timer_add(loop_t *l, uint64_t after_ms, loop_timer_fn fn, void *arg);
/* Removing an unknown or already-fired id is harmless. */
void loop_timer_del(loop_t *l, int64_t id);

/* events: ZMQ_POLLIN | ZMQ_POLLOUT (0 = keep the watcher but ignore the
 * fd for now). One watcher per fd / socket: ERR_EXISTS for a second add;
 * set_events returns ERR_NOTFOUND for an unknown fd / socket. Watchers are
 * level-triggered. Add/del/set are safe inside any callback. */
int loop_fd_add(loop_t *l, int fd, short events, loop_io_fn fn, void *arg);
int loop_fd_set_events(loop_t *l, int fd, short events);
void loop_fd_del(loop_t *l, int fd);
int loop_sock_add(loop_t *l, void *zsock, short events, loop_io_fn fn, void *arg);
int loop_sock_set_events(loop_t *l, void *zsock, short events);
void loop_sock_del(loop_t *l, void *zsock);

/* Blocks signo for the calling thread and delivers it through a signalfd
 * (one handler per signal: ERR_EXISTS for a second one). The block is
 * per thread and inherited only by threads created later, so a daemon
 * must block its signals before it creates any thread that does not block
 * them itself (libzmq's own I/O threads block every signal; other
 * libraries' threads may not): call loop_block_signals() first thing in
 * main, then loop_signal_add() whenever convenient. loop_destroy leaves
 * the signals blocked. */
int loop_signal_add(loop_t *l, int signo, loop_signal_fn fn, void *arg);
/* Blocks signos[0..n) in the calling thread (sigprocmask). 0 or -errno. */
int loop_block_signals(const int *signos, int n);

/* Runs until loop_stop() (or until nothing is left to watch: no watcher
 * and no timer). Returns 0, or a negative error if polling failed. */
int loop_run(loop_t *l);
/* One iteration, waiting at most max_wait_ms (-1 = until something
 * happens): poll, dispatch ready watchers, then fire due timers. Not
 * reentrant: never call it from a callback. Returns at once (0) when
 * there is nothing to wait for and max_wait_ms is -1. */
int loop_run_once(loop_t *l, int max_wait_ms);
void loop_stop(loop_t *l);

#endif
