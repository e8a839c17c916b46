/* SPDX-License-Identifier: MIT */
/*
** libFuzzer target for the CSV reader: any bytes given to tg_load_csv, with
** and without a header, three delimiters, must give a [rows, n] tensor or NULL
** + TG_ERR_IO / TG_ERR_NOMEM, never a crash or a leak.  The first input byte
** picks the options; the rest is the file.  Every input is read twice: in one
** chunk on one thread, and on two threads in chunks of 1 to 32 bytes (bits
** 3-7 of the first byte), which must give the same tensor bit for bit or the
** same message.
*/
#define _POSIX_C_SOURCE 200809L

#include "tensorgrad.h"

#include <stdint.h>

#include "fuzz_io.h"

/* The reader's chunk-size hook (src/io/io.h), reached from the static library. */
size_t tg__csv_chunk_bytes(size_t n);

static fuzz_file in;

static tg_tensor *load(const char *path, int n, const char *const *cols, const tg_csv_opts *o)
{
    tg_tensor *t = tg_load_csv(path, n, cols, o);
    bool ok = t ? tg_ndim(t) == 2 && tg_shape(t)[1] == n
                : tg_last_status() == TG_ERR_IO || tg_last_status() == TG_ERR_NOMEM;
    if (!ok) {
        fprintf(stderr, "fuzz_csv: bad result (%s)\n", tg_last_error());
        abort();
    }
    return t;
}

/* Serial and chunked reads agree. */
static void load_both(const char *path, int n, const char *const *cols, const tg_csv_opts *o,
                      size_t chunk)
{
    size_t chunk0 = tg__csv_chunk_bytes((size_t)1 << 30);
    int threads0 = tg_set_num_threads(1);
    tg_tensor *a = load(path, n, cols, o);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", a ? "" : tg_last_error());
    tg_clear_error();
    tg__csv_chunk_bytes(chunk);
    tg_set_num_threads(2);
    tg_tensor *b = load(path, n, cols, o);
    bool same = a && b ? tg_numel(a) == tg_numel(b) &&
                             memcmp(tg_data(a), tg_data(b), (size_t)tg_numel(a) * sizeof(double)) == 0
                       : !a && !b && strcmp(msg, tg_last_error()) == 0;
    if (!same) {
        fprintf(stderr, "fuzz_csv: one chunk gives %s, chunks of %zu give %s\n",
                a ? "a tensor" : msg, chunk, b ? "a tensor" : tg_last_error());
        abort();
    }
    tg_free(a);
    tg_free(b);
    tg_clear_error();
    tg__csv_chunk_bytes(chunk0);
    tg_set_num_threads(threads0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (in.path[0] == '\0')
        fuzz_file_open(&in);
    if (size == 0)
        return 0;
    static const char delims[4] = {',', ';', '\t', '\0'};
    tg_csv_opts o = {.delimiter = delims[data[0] & 3], .header = (data[0] & 4) != 0};
    size_t chunk = 1 + (data[0] >> 3);
    fuzz_file_set(&in, data + 1, size - 1);
    if (o.header)
        load_both(in.path, 2, (const char *const[]){"b", "a"}, &o, chunk);
    else
        load_both(in.path, 3, (const char *const[]){"1", "0", "1"}, &o, chunk);
    return 0;
}
