/* swim_members.c - the member table: a dense array (whose order is the probe
 * order) and an open-addressing hash of the 16-byte member id pointing at
 * the (never moving) member records, so a lookup costs O(1) however large
 * the cluster. */
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

/* Slot holding id (hash h), or the empty slot where it would go. The stored
 * hash spares a visit to the member on every mismatch. */
static size_t slot_of(const swim_table_t *t, const uint8_t id[SWIM_ID_LEN], uint64_t h)
{
    size_t mask = t->nslots - 1, i = (size_t)h & mask;
    while (t->slots[i].m && (t->slots[i].hash != h || memcmp(t->slots[i].m->id, id, SWIM_ID_LEN)))
        i = (i + 1) & mask;
    return i;
}

static void slot_put(swim_table_t *t, swim_member_t *m)
{
    uint64_t h = id_hash(m->id);
    size_t i = slot_of(t, m->id, h);
    t->slots[i].hash = h;
    t->slots[i].m = m;
}

swim_member_t *swim_tab_find(const swim_table_t *t, const uint8_t id[SWIM_ID_LEN])
{
    return t->slots[slot_of(t, id, id_hash(id))].m;
}

static int rehash(swim_table_t *t, size_t nslots)
{
    swim_slot_t *s = calloc(nslots, sizeof *s);
    if (!s)
        return -ENOMEM;
    free(t->slots);
    t->slots = s;
    t->nslots = nslots;
    for (size_t k = 0; k < t->n; k++)
        slot_put(t, t->v[k]);
    return 0;
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
    if (pos < at) { /* the member at pos moves to the end */
        t->v[at] = t->v[pos];
        t->v[at]->idx = (uint32_t)at;
    } else {
        pos = at;
    }
    t->v[pos] = m;
    m->idx = (uint32_t)pos;
    slot_put(t, m);
    return m;
}

void swim_tab_remove(swim_table_t *t, swim_member_t *m)
{
    size_t mask = t->nslots - 1, i = slot_of(t, m->id, id_hash(m->id));
    assert(t->slots[i].m == m);
    /* Backward-shift deletion keeps every probe sequence unbroken. */
    t->slots[i].m = NULL;
    for (size_t j = (i + 1) & mask; t->slots[j].m; j = (j + 1) & mask) {
        swim_slot_t e = t->slots[j];
        t->slots[j].m = NULL;
        t->slots[slot_of(t, e.m->id, e.hash)] = e;
    }
    size_t last = --t->n, idx = m->idx;
    if (idx != last) {
        t->v[idx] = t->v[last];
        t->v[idx]->idx = (uint32_t)idx;
    }
    member_free(m);
}

int swim_member_set(swim_member_t *m, const char *name, size_t namelen, const char *addr,
                    size_t addrlen, const uint8_t *meta, size_t metalen)
{
    char *blob = malloc(namelen + addrlen + metalen + 2);
    if (!blob)
        return -ENOMEM;
    if (namelen)
        memcpy(blob, name, namelen);
    blob[namelen] = '\0';
    if (addrlen)
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
}
