/* vm.c - spawn one BEAM VM and move framed bytes to and from it. */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "err.h"
#include "log.h"

#define VM_LINE_MAX 1024 /* longest stdout/stderr line logged as one */

typedef struct vm_out {
    struct vm *vm;
    int fd;
    char buf[VM_LINE_MAX];
    size_t len;
    const char *stream;
} vm_out_t;

struct vm {
    loop_t *loop;
    pid_t pid;
    int index;
    int to_fd;   /* agent -> VM (its fd 3) */
    int from_fd; /* VM -> agent (its fd 4) */
    vm_out_t out[2];
    vm_callbacks_t cb;
    void *arg;
    uint8_t *rbuf; /* inbound bytes not yet framed */
    size_t rlen, rcap;
    uint8_t *wbuf; /* outbound bytes not yet written */
    size_t wlen, wcap, woff;
    int dead; /* broken already reported */
};

static void set_nonblock_cloexec(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int vm_find_program(const char *name, char *out, size_t cap)
{
    if (strchr(name, '/')) {
        if (access(name, X_OK) != 0 || strlen(name) >= cap)
            return ERR_NOTFOUND;
        strcpy(out, name);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        if (n > 0 && n + 1 + strlen(name) < cap) {
            memcpy(out, path, n);
            out[n] = '/';
            strcpy(out + n + 1, name);
            if (access(out, X_OK) == 0)
                return 0;
        }
        path += n + (colon ? 1 : 0);
    }
    return ERR_NOTFOUND;
}

static void broken(vm_t *vm, const char *reason)
{
    if (vm->dead)
        return;
    vm->dead = 1;
    /* stop watching: the owner kills and later reaps and destroys us */
    loop_fd_del(vm->loop, vm->from_fd);
    loop_fd_del(vm->loop, vm->to_fd);
    if (vm->cb.broken)
        vm->cb.broken(vm, reason, vm->arg);
}

/* Hands every complete {packet,4} frame in rbuf to the frame callback. */
static void drain_frames(vm_t *vm)
{
    size_t off = 0;
    while (!vm->dead && vm->rlen - off >= 4) {
        const uint8_t *p = vm->rbuf + off;
        uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (n > VM_MAX_FRAME) {
            char why[96];
            snprintf(why, sizeof why, "frame length %u over the %u-byte cap", n, VM_MAX_FRAME);
            broken(vm, why);
            return;
        }
        if (vm->rlen - off - 4 < n)
            break;
        vm->cb.frame(vm, p + 4, n, vm->arg);
        off += 4 + (size_t)n;
    }
    if (off > 0 && !vm->dead) {
        memmove(vm->rbuf, vm->rbuf + off, vm->rlen - off);
        vm->rlen -= off;
    }
}

static void on_readable(loop_t *l, short revents, void *arg)
{
    vm_t *vm = arg;
    (void)l;
    (void)revents;
    for (int rounds = 0; rounds < 16 && !vm->dead; rounds++) {
        if (vm->rcap - vm->rlen < 65536) {
            size_t ncap = vm->rcap ? vm->rcap * 2 : 131072;
            if (ncap > VM_MAX_FRAME + 131072u)
                ncap = VM_MAX_FRAME + 131072u;
            if (ncap - vm->rlen == 0) {
                broken(vm, "inbound buffer full");
                return;
            }
            uint8_t *nb = realloc(vm->rbuf, ncap);
            if (!nb) {
                broken(vm, "out of memory for inbound buffer");
                return;
            }
            vm->rbuf = nb;
            vm->rcap = ncap;
        }
        ssize_t n = read(vm->from_fd, vm->rbuf + vm->rlen, vm->rcap - vm->rlen);
        if (n > 0) {
            vm->rlen += (size_t)n;
            drain_frames(vm);
            continue;
        }
        if (n == 0) {
            broken(vm, "the VM closed its end of the protocol pipe");
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            broken(vm, strerror(errno));
        return;
    }
}

static void flush_out(vm_t *vm)
{
    while (vm->woff < vm->wlen) {
        ssize_t n = write(vm->to_fd, vm->wbuf + vm->woff, vm->wlen - vm->woff);
        if (n > 0) {
            vm->woff += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        broken(vm, n < 0 ? strerror(errno) : "short write");
        return;
    }
    if (vm->woff == vm->wlen) {
        vm->woff = vm->wlen = 0;
        loop_fd_set_events(vm->loop, vm->to_fd, 0);
    } else {
        loop_fd_set_events(vm->loop, vm->to_fd, ZMQ_POLLOUT);
    }
}

static void on_writable(loop_t *l, short revents, void *arg)
{
    (void)l;
    vm_t *vm = arg;
    if (revents & ZMQ_POLLERR) {
        broken(vm, "protocol pipe error");
        return;
    }
    flush_out(vm);
}

static void on_output(loop_t *l, short revents, void *arg)
{
    (void)l;
    (void)revents;
    vm_out_t *o = arg;
    vm_t *vm = o->vm;
    char tmp[4096];
    ssize_t n = read(o->fd, tmp, sizeof tmp);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            loop_fd_del(vm->loop, o->fd);
            close(o->fd);
            o->fd = -1;
        }
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        char c = tmp[i];
        if (c != '\n' && o->len < sizeof o->buf - 1) {
            o->buf[o->len++] = c;
            continue;
        }
        o->buf[o->len] = '\0';
        if (o->len > 0) {
            char q[VM_LINE_MAX + 64];
            log_info("vm.output", "vm=%d pid=%d stream=%s line=%s", vm->index, (int)vm->pid,
                     o->stream, log_quote(o->buf, q, sizeof q));
        }
        o->len = 0;
        if (c != '\n')
            o->buf[o->len++] = c;
    }
}

/* Child side of the fork: only async-signal-safe calls until exec. */
static void child_exec(pid_t parent, int in_r, int out_w, int so_w, int se_w, char *const argv[],
                       char *const envp[])
{
    /* Move the pipe ends above 10 first: pipe() may have returned 3 or 4. */
    int a = fcntl(in_r, F_DUPFD, 10), b = fcntl(out_w, F_DUPFD, 10);
    int c = fcntl(so_w, F_DUPFD, 10), d = fcntl(se_w, F_DUPFD, 10);
    if (a < 0 || b < 0 || c < 0 || d < 0)
        _exit(126);
    if (dup2(a, 3) < 0 || dup2(b, 4) < 0 || dup2(c, 1) < 0 || dup2(d, 2) < 0)
        _exit(126);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, 0);
    }
    syscall(SYS_close_range, 5, ~0U, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL); /* ignored in the agent (vm_spawn), not in the VM */
    setpgid(0, 0);            /* signals to the agent's group do not hit the VM */
    if (chdir("/") != 0)
        _exit(126);
    execve(argv[0], argv, envp);
    _exit(127);
}

static int pipe_pair(int fds[2])
{
    return pipe2(fds, O_CLOEXEC) == 0 ? 0 : -errno;
}

vm_t *vm_spawn(loop_t *l, const vm_spawn_opts_t *o, const vm_callbacks_t *cb, void *arg, char *err,
               size_t errlen)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, so[2] = {-1, -1}, se[2] = {-1, -1};
    /* A VM can die between two writes to its pipe: that write must fail with
     * EPIPE (reported as broken), not raise SIGPIPE and end whoever holds the
     * pool, whether or not its main() ignored the signal. */
    signal(SIGPIPE, SIG_IGN);
    vm_t *vm = calloc(1, sizeof *vm);
    if (!vm) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (pipe_pair(in) || pipe_pair(out) || pipe_pair(so) || pipe_pair(se)) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    char slots[24];
    snprintf(slots, sizeof slots, "%d", o->slots);
    const char *argv[32];
    int n = 0;
    argv[n++] = o->erl;
    argv[n++] = "-noshell";
    argv[n++] = "-noinput";
    /* one scheduler, no busy-waiting: a VM is small and idles at ~0 CPU */
    const char *flags[] = {"+sbwt", "none", "+sbwtdcpu", "none", "+sbwtdio", "none",
                           "+S",    "1:1",  "+A",        "1",    "-pa",      o->code_path};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
        argv[n++] = flags[i];
    if (o->elixir_path && *o->elixir_path) {
        argv[n++] = "-pa";
        argv[n++] = o->elixir_path;
    }
    argv[n++] = "-petri_slots";
    argv[n++] = slots;
    if (o->no_result_cache) {
        argv[n++] = "-petri_cache";
        argv[n++] = "off";
    }
    argv[n++] = "-s";
    argv[n++] = "petri_node";
    argv[n] = NULL;

    /* environment: ours, minus anything that would redirect the VM */
    extern char **environ;
    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **envp = calloc(ne + 2, sizeof *envp);
    if (!envp) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "ERL_", 4) != 0)
            envp[k++] = environ[i];
    envp[k++] = "ERL_CRASH_DUMP_SECONDS=0"; /* no crash dumps on disk */
    envp[k] = NULL;

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        free(envp);
        goto fail;
    }
    if (pid == 0)
        child_exec(parent, in[0], out[1], so[1], se[1], (char *const *)argv, envp);
    free(envp);
    close(in[0]);
    close(out[1]);
    close(so[1]);
    close(se[1]);
    vm->loop = l;
    vm->pid = pid;
    vm->index = o->index;
    vm->to_fd = in[1];
    vm->from_fd = out[0];
    vm->out[0] = (vm_out_t){.vm = vm, .fd = so[0], .stream = "stdout"};
    vm->out[1] = (vm_out_t){.vm = vm, .fd = se[0], .stream = "stderr"};
    vm->cb = *cb;
    vm->arg = arg;
    set_nonblock_cloexec(vm->to_fd);
    set_nonblock_cloexec(vm->from_fd);
    set_nonblock_cloexec(so[0]);
    set_nonblock_cloexec(se[0]);
    loop_fd_add(l, vm->from_fd, ZMQ_POLLIN, on_readable, vm);
    loop_fd_add(l, vm->to_fd, 0, on_writable, vm);
    loop_fd_add(l, so[0], ZMQ_POLLIN, on_output, &vm->out[0]);
    loop_fd_add(l, se[0], ZMQ_POLLIN, on_output, &vm->out[1]);
    return vm;
fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
        if (so[i] >= 0)
            close(so[i]);
        if (se[i] >= 0)
            close(se[i]);
    }
    free(vm);
    return NULL;
}

void vm_destroy(vm_t **pvm)
{
    if (!pvm || !*pvm)
        return;
    vm_t *vm = *pvm;
    int fds[] = {vm->to_fd, vm->from_fd, vm->out[0].fd, vm->out[1].fd};
    for (size_t i = 0; i < 4; i++) {
        if (fds[i] >= 0) {
            if (!vm->dead || i >= 2)
                loop_fd_del(vm->loop, fds[i]);
            close(fds[i]);
        }
    }
    free(vm->rbuf);
    free(vm->wbuf);
    free(vm);
    *pvm = NULL;
}

int vm_send(vm_t *vm, const uint8_t *frame, size_t len)
{
    if (vm->dead)
        return ERR_STATE;
    if (len > VM_MAX_FRAME)
        return ERR_TOOBIG;
    if (vm->wcap - vm->wlen < len + 4) {
        if (vm->woff > 0) {
            memmove(vm->wbuf, vm->wbuf + vm->woff, vm->wlen - vm->woff);
            vm->wlen -= vm->woff;
            vm->woff = 0;
        }
        size_t need = vm->wlen + len + 4, ncap = vm->wcap ? vm->wcap : 8192;
        while (ncap < need)
            ncap *= 2;
        if (ncap != vm->wcap) {
            uint8_t *nb = realloc(vm->wbuf, ncap);
            if (!nb)
                return -ENOMEM;
            vm->wbuf = nb;
            vm->wcap = ncap;
        }
    }
    uint8_t *p = vm->wbuf + vm->wlen;
    p[0] = (uint8_t)(len >> 24);
    p[1] = (uint8_t)(len >> 16);
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
    memcpy(p + 4, frame, len);
    vm->wlen += len + 4;
    flush_out(vm);
    return vm->dead ? ERR_STATE : 0;
}

size_t vm_pending(const vm_t *vm)
{
    return vm->wlen - vm->woff;
}

pid_t vm_pid(const vm_t *vm)
{
    return vm->pid;
}

int vm_index(const vm_t *vm)
{
    return vm->index;
}

void vm_kill(vm_t *vm, int sig)
{
    if (vm->pid > 0)
        kill(vm->pid, sig);
}

long vm_rss_kb(const vm_t *vm)
{
    char path[64], buf[128];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)vm->pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long size = 0, rss = -1;
    if (!fgets(buf, sizeof buf, f) || sscanf(buf, "%ld %ld", &size, &rss) != 2)
        rss = -1;
    fclose(f);
    return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}
