/* swim_members.c - the member table: a dense array (whose order is the probe
 * order) indexed by an open-addressing hash of the 16-byte member id, so a
 * lookup costs O(1) however large the cluster. */
#include "swim_int.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t id_hash(const uint8_t id[SWIM_ID_LEN])
{
    uint64_t a, b;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    uint64_t z = a ^ (b * 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int swim_tab_init(swim_table_t *t)
{
    memset(t, 0, sizeof *t);
    t->nslots = 64;
    t->slots = calloc(t->nslots, sizeof *t->slots);
    return t->slots ? 0 : -ENOMEM;
}

static void member_free(swim_member_t *m)
{
    free(m->blob);
    free(m->susp);
    free(m);
}

void swim_tab_free(swim_table_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        member_free(t->v[i]);
    free(t->v);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* Slot holding id, or the empty slot where it would go. */
static size_t slot_of(const swim_table_t *t, const uint8_t id[SWIM_ID_LEN])
{
    size_t mask = t->nslots - 1, i = (size_t)id_hash(id) & mask;
    while (t->slots[i] && memcmp(t->v[t->slots[i] - 1]->id, id, SWIM_ID_LEN))
        i = (i + 1) & mask;
    return i;
}

swim_member_t *swim_tab_find(const swim_table_t *t, const uint8_t id[SWIM_ID_LEN])
{
    size_t i = slot_of(t, id);
    return t->slots[i] ? t->v[t->slots[i] - 1] : NULL;
}

static int rehash(swim_table_t *t, size_t nslots)
{
    uint32_t *s = calloc(nslots, sizeof *s);
    if (!s)
        return -ENOMEM;
    free(t->slots);
    t->slots = s;
    t->nslots = nslots;
    for (size_t k = 0; k < t->n; k++)
        t->slots[slot_of(t, t->v[k]->id)] = (uint32_t)k + 1;
    return 0;
}

/* Moves the member at dense index `from` to `to` (an unused index). */
static void move_member(swim_table_t *t, size_t from, size_t to)
{
    swim_member_t *m = t->v[from];
    t->v[to] = m;
    m->idx = (uint32_t)to;
    t->slots[slot_of(t, m->id)] = (uint32_t)to + 1;
}

swim_member_t *swim_tab_add(swim_table_t *t, const uint8_t id[SWIM_ID_LEN], size_t pos)
{
    assert(!swim_tab_find(t, id));
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        swim_member_t **v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return NULL;
        t->v = v;
        t->cap = cap;
    }
    if ((t->n + 1) * 2 > t->nslots && rehash(t, t->nslots * 2))
        return NULL;
    swim_member_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    memcpy(m->id, id, SWIM_ID_LEN);
    size_t at = t->n++;
    if (pos < at)
        move_member(t, pos, at);
    else
        pos = at;
    t->v[pos] = m;
    m->idx = (uint32_t)pos;
    t->slots[slot_of(t, id)] = (uint32_t)pos + 1;
    return m;
}

void swim_tab_remove(swim_table_t *t, swim_member_t *m)
{
    size_t mask = t->nslots - 1, i = slot_of(t, m->id);
    assert(t->slots[i] == m->idx + 1);
    /* Backward-shift deletion keeps every probe sequence unbroken. */
    t->slots[i] = 0;
    for (size_t j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
        uint32_t e = t->slots[j];
        t->slots[j] = 0;
        t->slots[slot_of(t, t->v[e - 1]->id)] = e;
    }
    size_t last = --t->n, idx = m->idx;
    if (idx != last)
        move_member(t, last, idx);
    member_free(m);
}

int swim_member_set(swim_member_t *m, const char *name, size_t namelen, const char *addr,
                    size_t addrlen, const uint8_t *meta, size_t metalen)
{
    char *blob = malloc(namelen + addrlen + metalen + 2);
    if (!blob)
        return -ENOMEM;
    memcpy(blob, name, namelen);
    blob[namelen] = '\0';
    memcpy(blob + namelen + 1, addr, addrlen);
    blob[namelen + 1 + addrlen] = '\0';
    if (metalen)
        memcpy(blob + namelen + addrlen + 2, meta, metalen);
    free(m->blob);
    m->blob = blob;
    m->name = blob;
    m->addr = blob + namelen + 1;
    m->meta = (uint8_t *)blob + namelen + addrlen + 2;
    m->namelen = (uint16_t)namelen;
    m->addrlen = (uint16_t)addrlen;
    m->metalen = (uint16_t)metalen;
    return 0;
}

void swim_tab_shuffle(swim_table_t *t, uint64_t (*rnd)(void *), void *arg)
{
    for (size_t i = t->n; i > 1; i--) {
        size_t j = (size_t)(rnd(arg) % i);
        swim_member_t *a = t->v[i - 1];
        t->v[i - 1] = t->v[j];
        t->v[j] = a;
        t->v[i - 1]->idx = (uint32_t)(i - 1);
        t->v[j]->idx = (uint32_t)j;
    }
    /* Dense indexes moved: rebuild the hash slots. */
    memset(t->slots, 0, t->nslots * sizeof *t->slots);
    for (size_t k = 0; k < t->n; k++)
        t->slots[slot_of(t, t->v[k]->id)] = (uint32_t)k + 1;
}
