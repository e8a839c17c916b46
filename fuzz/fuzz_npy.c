/* SPDX-License-Identifier: MIT */
/*
** libFuzzer target for the .npy reader: any bytes given to tg_load_npy and
** tg_mmap_npy must give a tensor or NULL + TG_ERR_IO / TG_ERR_NOMEM, never a
** crash or a leak.  What loads must survive tg_save_npy and load back bit
** for bit, and the mapped tensor must hold the loaded values.
*/
#define _POSIX_C_SOURCE 200809L

#include "tensorgrad.h"

#include <stdint.h>

#include "fuzz_io.h"

static fuzz_file in, out;

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_npy: %s (%s)\n", what, tg_last_error());
        abort();
    }
}

static bool same(tg_tensor *a, tg_tensor *b)
{
    if (tg_ndim(a) != tg_ndim(b))
        return false;
    for (int i = 0; i < tg_ndim(a); i++)
        if (tg_shape(a)[i] != tg_shape(b)[i])
            return false;
    return memcmp(tg_data(a), tg_data(b), (size_t)tg_numel(a) * sizeof(double)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (in.path[0] == '\0') {
        fuzz_file_open(&in);
        fuzz_file_open(&out);
    }
    fuzz_file_set(&in, data, size);
    tg_tensor *t = tg_load_npy(in.path);
    check(t || tg_last_status() == TG_ERR_IO || tg_last_status() == TG_ERR_NOMEM, "load status");
    tg_tensor *m = tg_mmap_npy(in.path);
    check(m || tg_last_status() == TG_ERR_IO || tg_last_status() == TG_ERR_NOMEM, "mmap status");
    check(!m || t, "mapped a file that does not load");
    if (m)
        check(same(t, m), "mapped data differs from loaded data");
    if (t) {
        check(tg_save_npy(t, out.path) == TG_OK, "save");
        tg_tensor *back = tg_load_npy(out.path);
        check(back && same(t, back), "save/load round trip");
        tg_free(back);
    }
    tg_free(m);
    tg_free(t);
    tg_clear_error();
    return 0;
}
