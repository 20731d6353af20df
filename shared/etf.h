/* etf.h - an encoder of Erlang's external term format (what term_to_binary
 * writes, version byte 131) for the terms a spec's JSON describes, and the
 * JSON -> term mapping of the spec's cases (spec.h documents the mapping).
 *
 * The encoding is canonical: one term, one byte string, so equal case lists
 * give equal SPEC blocks. Tags used:
 *   integer  SMALL_INTEGER_EXT (0..255), INTEGER_EXT (other int32),
 *            SMALL_BIG_EXT (the rest of int64)
 *   float    NEW_FLOAT_EXT (finite only)
 *   binary   BINARY_EXT
 *   atom     SMALL_ATOM_UTF8_EXT (at most 255 bytes)
 *   list     LIST_EXT, its elements, NIL_EXT tail; [] is NIL_EXT
 *   tuple    SMALL_TUPLE_EXT (arity <= 255), else LARGE_TUPLE_EXT
 *   map      MAP_EXT, its pairs sorted by the bytes of their keys (so a key
 *            given twice is found and refused)
 *
 * Invariants:
 *  1. Every put appends or sets the sticky error; once set (ERR_TOOBIG past
 *     the buffer's cap, -ENOMEM) every later put is a no-op.
 *  2. The buffer never grows past its cap, so a huge input fails before it
 *     allocates more than the cap.
 *  3. etf_put_json creates atoms only from its allowlist (plus true, false
 *     and nil): a term it writes never makes the VM create an atom.
 */
#ifndef PETRI_ETF_H
#define PETRI_ETF_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define ETF_VERSION 131
#define ETF_SMALL_INTEGER_EXT 97
#define ETF_INTEGER_EXT 98
#define ETF_SMALL_TUPLE_EXT 104
#define ETF_LARGE_TUPLE_EXT 105
#define ETF_NIL_EXT 106
#define ETF_LIST_EXT 108
#define ETF_BINARY_EXT 109
#define ETF_SMALL_BIG_EXT 110
#define ETF_MAP_EXT 116
#define ETF_NEW_FLOAT_EXT 70
#define ETF_SMALL_ATOM_UTF8_EXT 119

#define ETF_ATOM_MAX 255 /* bytes in one atom name */

typedef struct etf_buf {
    uint8_t *data;
    size_t len, cap;
    size_t max; /* len never exceeds this */
    int err;    /* sticky: ERR_TOOBIG, -ENOMEM, else 0 */
} etf_buf_t;

/* An empty buffer that may hold up to max bytes. */
void etf_buf_init(etf_buf_t *b, size_t max);
void etf_buf_free(etf_buf_t *b);
/* Hands the bytes to the caller (free() them) and empties b; NULL if b is
 * empty or in error. */
uint8_t *etf_buf_take(etf_buf_t *b, size_t *len);

void etf_put_version(etf_buf_t *b); /* 131: once, before the outermost term */
void etf_put_int(etf_buf_t *b, int64_t v);
void etf_put_float(etf_buf_t *b, double v); /* non-finite: ERR_INVAL */
void etf_put_binary(etf_buf_t *b, const void *p, size_t len);
void etf_put_atom(etf_buf_t *b, const char *name, size_t len); /* len > 255: ERR_TOOBIG */
void etf_put_nil(etf_buf_t *b);
/* Headers: the caller then appends the elements (and for a list, its tail,
 * usually etf_put_nil). A list of 0 elements is etf_put_nil alone. */
void etf_put_list_header(etf_buf_t *b, uint32_t n);
void etf_put_tuple_header(etf_buf_t *b, uint32_t arity);
void etf_put_map_header(etf_buf_t *b, uint32_t pairs);

/* How etf_put_json maps a JSON value. */
typedef struct etf_json_opts {
    const char *const *atoms; /* names {"$atom": ..} may use besides true, false, nil */
    size_t natoms;
    const char *atoms_field; /* where they are declared, for messages ("fitness.atoms") */
    int max_depth;           /* nesting of lists, tuples and maps; deeper is an error */
} etf_json_opts_t;

/* Appends the term for the JSON value v (the mapping of spec.h: numbers,
 * strings as binaries, arrays as lists, true/false/null as atoms, objects as
 * maps with binary keys, and the tagged forms {"$tuple"}, {"$atom"},
 * {"$charlist"}, {"$float"}, {"$map"}). Returns 0, or ERR_SPEC with a
 * message in err naming the place: path (e.g. "fitness.cases[2].out")
 * extended with the position inside v (".$tuple[1]", "[3]", ".key").
 * A full buffer is ERR_SPEC too, its message naming the cap. */
int etf_put_json(etf_buf_t *b, json_t *v, const etf_json_opts_t *o, const char *path, char *err,
                 size_t errlen);

#endif
