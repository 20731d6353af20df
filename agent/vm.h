/* vm.h - one BEAM VM child process: spawn it with the work protocol on fds
 * 3/4, frame bytes both ways ({packet,4}: a u32 length, then one wire frame),
 * forward its stdout/stderr into the log. Policy (restarts, heartbeats,
 * work) lives in pool.c; this module only moves bytes and signals.
 *
 * Invariants:
 *  1. Bytes from the VM are untrusted: a length prefix over VM_MAX_FRAME or
 *     any read error ends in the `broken` callback, never a crash.
 *  2. The child dies with the agent (PR_SET_PDEATHSIG) and halts on EOF.
 *  3. vm_destroy never waits for the child; the owner reaps it by pid.
 */
#ifndef PETRI_VM_H
#define PETRI_VM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"

#define VM_MAX_FRAME (32u * 1024 * 1024)

typedef struct vm vm_t;

typedef struct vm_spawn_opts {
    const char *erl;         /* absolute path of the erl launcher */
    const char *code_path;   /* the petri beam ebin directory */
    const char *elixir_path; /* Elixir's ebin, or NULL */
    int slots;               /* sandbox slots in the VM */
    int no_result_cache;     /* 1 = the VM reuses no earlier result ([beam] result_cache off) */
    int index;               /* VM number, for logs */
} vm_spawn_opts_t;

typedef struct vm_callbacks {
    /* One complete frame (without the u32 prefix); valid during the call. */
    void (*frame)(vm_t *vm, const uint8_t *buf, size_t len, void *arg);
    /* The VM's pipe broke or it sent an impossible length: reason says why. */
    void (*broken)(vm_t *vm, const char *reason, void *arg);
} vm_callbacks_t;

/* Forks and execs the VM. Returns NULL and writes err on failure. */
vm_t *vm_spawn(loop_t *l, const vm_spawn_opts_t *o, const vm_callbacks_t *cb, void *arg, char *err,
               size_t errlen);
/* Closes the pipes and unregisters from the loop; the child then sees EOF
 * and halts. Does not wait. NULL-safe; nulls *vm. */
void vm_destroy(vm_t **vm);

/* Queues one frame (the u32 prefix is added here). 0, or ERR_STATE if the
 * pipe is closed, -ENOMEM. */
int vm_send(vm_t *vm, const uint8_t *frame, size_t len);
/* Bytes queued but not yet written. */
size_t vm_pending(const vm_t *vm);
pid_t vm_pid(const vm_t *vm);
int vm_index(const vm_t *vm);
void vm_kill(vm_t *vm, int sig);
/* Resident set size in KiB from /proc, or -1. */
long vm_rss_kb(const vm_t *vm);

/* Resolves a program name along PATH into out[cap]; 0 or ERR_NOTFOUND. */
int vm_find_program(const char *name, char *out, size_t cap);

#endif
