/* fuzz_record.c - fuzz target for the lineage record decoder
 * (coordinator/store_rec.c, every record version): arbitrary bytes never
 * crash it, and whatever it accepts re-encodes to exactly the same bytes
 * (the encoding is canonical). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lineage_rec_t r;
    int rc = store_rec_decode(data, size, &r);
    if (rc != 0) {
        CHECK(rc < 0);
        CHECK(r.seq == 0 && r.population[0] == '\0' && r.nparents == 0);
        return 0;
    }
    CHECK(r.nparents <= STORE_MAX_PARENTS);
    CHECK(r.version >= 1 && r.version <= 4);
    CHECK(r.reused <= 1);
    CHECK(strlen(r.population) >= 1 && strlen(r.population) <= STORE_POP_MAX);
    CHECK(strlen(r.op) >= 1 && strlen(r.op) <= STORE_OP_MAX);
    /* an origin exactly when the op is external (store.h) */
    CHECK(strcmp(r.op, "external") == 0 ? store_mutator_valid(r.mutator) && r.version >= 2
                                        : r.mutator[0] == '\0');
    wire_buf_t b;
    wire_buf_init(&b);
    CHECK(store_rec_encode(&b, &r) == 0);
    CHECK(b.len == size && memcmp(b.data, data, size) == 0);
    wire_buf_free(&b);
    /* a signature check over decoded fields must fail cleanly, not crash */
    int vr = store_rec_check_sig(r.agent_pk, &r);
    CHECK(vr == 0 || vr == ERR_CRYPTO);
    return 0;
}
