/*
** libFuzzer target for the CSV reader: any bytes given to tg_load_csv, with
** and without a header, three delimiters, must give a [rows, n] tensor or NULL
** + TG_ERR_IO / TG_ERR_NOMEM, never a crash or a leak.  The first input byte
** picks the options; the rest is the file.
*/
#define _POSIX_C_SOURCE 200809L

#include "tensorgrad.h"

#include <stdint.h>

#include "fuzz_io.h"

static fuzz_file in;

static void load(const char *path, int n, const char *const *cols, const tg_csv_opts *o)
{
    tg_tensor *t = tg_load_csv(path, n, cols, o);
    bool ok = t ? tg_ndim(t) == 2 && tg_shape(t)[1] == n
                : tg_last_status() == TG_ERR_IO || tg_last_status() == TG_ERR_NOMEM;
    if (!ok) {
        fprintf(stderr, "fuzz_csv: bad result (%s)\n", tg_last_error());
        abort();
    }
    tg_free(t);
    tg_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (in.path[0] == '\0')
        fuzz_file_open(&in);
    if (size == 0)
        return 0;
    static const char delims[4] = {',', ';', '\t', '\0'};
    tg_csv_opts o = {.delimiter = delims[data[0] & 3], .header = (data[0] & 4) != 0};
    fuzz_file_set(&in, data + 1, size - 1);
    if (o.header)
        load(in.path, 2, (const char *const[]){"b", "a"}, &o);
    else
        load(in.path, 3, (const char *const[]){"1", "0", "1"}, &o);
    return 0;
}
