/* SPDX-License-Identifier: MIT */
/*
** CSV reading beyond the format itself (tests/test_io.c holds the format, its
** fixtures and its file:line:column errors): standard input as "-", the
** refusal of non-regular files, the size and line limits, hostile headers,
** the fast float parser against strtod bit for bit, and the parallel reader
** against the serial one at every thread count.
*/
#define _POSIX_C_SOURCE 200809L

#include "support.h"

#include "core/internal.h"
#include "io/io.h"   /* tg__parse_double, tg__csv_chunk_bytes */

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp_dir[256];

static const char *tmp_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    return path;
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("cannot create %s", path);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* The last call failed with status want and a message holding each string
** (NULL-terminated list). */
static void assert_failed(tg_status want, ...)
{
    const char *msg = tg_last_error();
    if (tg_last_status() != want)
        fail_msg("status %s, expected %s: %s", tg_status_str(tg_last_status()),
                 tg_status_str(want), msg);
    va_list ap;
    va_start(ap, want);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
        if (!strstr(msg, s)) {
            va_end(ap);
            fail_msg("message '%s' does not say '%s'", msg, s);
        }
    va_end(ap);
    tg_clear_error();
}

/* tg_load_csv("-") with standard input fed n bytes of text through a pipe by
** a child process (so standard input is not a regular file). */
static tg_tensor *load_from_pipe(const char *text, size_t n, int n_cols, const char *const *cols,
                                 const tg_csv_opts *o)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        signal(SIGPIPE, SIG_DFL);
        for (size_t done = 0; done < n;) {
            ssize_t w = write(fds[1], text + done, n - done);
            if (w <= 0)
                _exit(0);
            done += (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    int saved = dup(STDIN_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
    close(fds[0]);
    tg_tensor *t = tg_load_csv("-", n_cols, cols, o);
    assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
    close(saved);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return t;
}

static void test_csv_dash_reads_standard_input(void **state)
{
    (void)state;
    static const char text[] = "x,y\n1.5,2\n\n-3,4e-3\n";
    tg_tensor *t = load_from_pipe(text, sizeof text - 1, 2, (const char *[]){"y", "x"}, NULL);
    if (!t)
        fail_msg("%s", tg_last_error());
    assert_int_equal(tg_shape(t)[0], 2);
    const double *d = tg_data(t);
    assert_true(d[0] == 2 && d[1] == 1.5 && d[2] == 4e-3 && d[3] == -3);
    tg_free(t);
    static const char bad[] = "x,y\n1,2\n3,zz\n";
    assert_null(load_from_pipe(bad, sizeof bad - 1, 1, (const char *[]){"y"}, NULL));
    assert_failed(TG_ERR_IO, "tg_load_csv: <stdin>:3:2:", "cannot read 'zz'", NULL);
}

static void test_csv_refuses_fifos_and_devices_by_name(void **state)
{
    (void)state;
    const char *fifo = tmp_path("fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* no writer: an open without O_NONBLOCK would wait here for ever */
    assert_null(tg_load_csv(fifo, 1, (const char *[]){"x"}, NULL));
    assert_failed(TG_ERR_IO, fifo, "is a FIFO, not a regular file", NULL);
    assert_null(tg_load_npy(fifo));
    assert_failed(TG_ERR_IO, fifo, "is a FIFO, not a regular file", NULL);
    assert_null(tg_mmap_npy(fifo));
    assert_failed(TG_ERR_IO, fifo, "not a regular file", NULL);
    unlink(fifo);
    assert_null(tg_load_csv("/dev/zero", 1, (const char *[]){"x"}, NULL));
    assert_failed(TG_ERR_IO, "'/dev/zero' is a character device", NULL);
    assert_null(tg_load_npy("/dev/zero"));
    assert_failed(TG_ERR_IO, "'/dev/zero' is a character device", NULL);
    assert_null(tg_load_csv(tmp_dir, 1, (const char *[]){"x"}, NULL));
    assert_failed(TG_ERR_IO, "Is a directory", NULL);
}

/* ------------------------------------------------ the float parser */

static uint64_t rng_state = 0x2545F4914F6CDD1Du;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A random finite double: any bit pattern, a subnormal, or a modest value. */
static double random_double(void)
{
    uint64_t b = rnd();
    switch (rnd() % 4) {
    case 0: b &= 0x800FFFFFFFFFFFFFu; break;                              /* subnormal */
    case 1: b = (b & 0x800FFFFFFFFFFFFFu) | (uint64_t)(1023 + rnd() % 40 - 20) << 52; break;
    default: break;
    }
    double d;
    memcpy(&d, &b, sizeof d);
    return isfinite(d) ? d : 1.5;
}

/* Text form k of a random number (buf of 1200 bytes). */
static void random_text(int k, char *buf, size_t cap)
{
    double d = random_double();
    switch (k) {
    case 0: snprintf(buf, cap, "%.17g", d); break;
    case 1: snprintf(buf, cap, "%.15g", d); break;
    case 2: snprintf(buf, cap, "%.*e", (int)(rnd() % 26), d); break;
    case 3: snprintf(buf, cap, "%.*f", (int)(rnd() % 25), ldexp((double)(rnd() >> 11), (int)(rnd() % 140) - 70)); break;
    case 4: {   /* halfway between two doubles: exactly (up to 480 digits) or nearly */
        long double mid = ((long double)d + (long double)nextafter(d, INFINITY)) / 2;
        snprintf(buf, cap, "%.*Le", rnd() % 4 ? 17 + (int)(rnd() % 4) : 480, mid);
        break;
    }
    case 5: {   /* random digits around a random point, a random exponent */
        int n = 1 + (int)(rnd() % 40), dot = (int)(rnd() % (unsigned)(n + 1));
        size_t o = rnd() % 2 ? (size_t)snprintf(buf, cap, "-") : 0;
        for (int j = 0; j < n; j++) {
            if (j == dot)
                buf[o++] = '.';
            buf[o++] = (char)('0' + rnd() % 10);
        }
        snprintf(buf + o, cap - o, "%s%d", rnd() % 2 ? "e" : "E", (int)(rnd() % 720) - 360);
        break;
    }
    case 6: snprintf(buf, cap, "%llu", (unsigned long long)(rnd() >> (rnd() % 64))); break;
    default: snprintf(buf, cap, "%.*g", 1 + (int)(rnd() % 17), d); break;
    }
}

static void test_parse_double_matches_strtod_bit_for_bit(void **state)
{
    (void)state;
    static const char *const edges[] = {
        "9007199254740993", "9007199254740992.5", "9007199254740993.0000000000001",
        "2.2250738585072011e-308", "2.2250738585072014e-308", "2.2250738585072012e-308",
        "4.9406564584124654e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
        "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
        "1e400", "1e-400", "-0", "+0.0e999", "0e-99999999999", "1e99999999999",
        "123456789012345678901234567890", "0.000000000000000000000000000001234567890123456789",
        "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124",
        "1.00000000000000011102230246251565404236316680908203126", "7.2057594037927933e16",
        "5.", ".5", "-.5e-3", "1e+0308", "18446744073709551615", "18446744073709551616",
        "9999999999999999999", "99999999999999999999", "0.1", "3.141592653589793238462643383279"};
    char buf[1200];
    int64_t cases = 0, fast = 0;
    for (size_t i = 0; i < sizeof edges / sizeof *edges + 300000; i++) {
        if (i < sizeof edges / sizeof *edges)
            snprintf(buf, sizeof buf, "%s", edges[i]);
        else
            random_text((int)(i % 8), buf, sizeof buf);
        double want = strtod(buf, NULL), got;
        cases++;
        if (!tg__parse_double(buf, strlen(buf), &got))
            continue;   /* undecided: the reader asks strtod */
        fast++;
        if (memcmp(&got, &want, sizeof got) != 0)
            fail_msg("'%s': %a, strtod gives %a", buf, got, want);
    }
    /* what it refuses is rare: exact halfway cases and a few long ones */
    assert_true(fast > cases * 9 / 10);
    for (int i = 0; i < 20000; i++) {   /* %.17g and shorter: always decided */
        snprintf(buf, sizeof buf, "%.*g", 1 + i % 17, random_double());
        double got;
        if (!tg__parse_double(buf, strlen(buf), &got))
            fail_msg("'%s' was not decided", buf);
    }
}

static void test_parse_double_refuses_what_strtod_reads_otherwise(void **state)
{
    (void)state;
    static const char *const odd[] = {"", "-", "+", ".", "e5", "1e", "1e+", "1.5x", " 1", "1 ",
                                      "nan", "inf", "-inf", "0x1p3", "1,5", "--1", "1..2", "1e5.5"};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        double v = 42;
        if (tg__parse_double(odd[i], strlen(odd[i]), &v))
            fail_msg("'%s' read as %g", odd[i], v);
        assert_true(v == 42);
    }
    /* a span, not a C string: what follows it does not count */
    double v;
    assert_true(tg__parse_double("12.5e1junk", 6, &v) && v == 125);
}

/* ------------------------------------------------- threads and chunks */

/* rows rows of three numbers of every text form (column 1 skipped), CRLF and
** blank lines mixed in; the strtod values of columns 2 and 0 into want. */
static void write_mixed(const char *path, int64_t rows, double *want)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("a,skip,c\r\n", f);
    char t0[1200], t2[1200];
    for (int64_t i = 0; i < rows; i++) {
        random_text((int)(rnd() % 8), t0, sizeof t0);
        random_text((int)(rnd() % 8), t2, sizeof t2);
        want[2 * i] = strtod(t2, NULL);
        want[2 * i + 1] = strtod(t0, NULL);
        fprintf(f, "%s, skipped %lld ,\t%s%s", t0, (long long)i, t2,
                i % 7 == 0 ? "\r\n" : i % 11 == 0 ? "\n\n\n" : "\n");
    }
    assert_int_equal(fclose(f), 0);
}

static tg_tensor *load_ca(const char *path)
{
    tg_tensor *t = tg_load_csv(path, 2, (const char *[]){"c", "a"}, NULL);
    if (!t)
        fail_msg("%s", tg_last_error());
    return t;
}

static void test_csv_values_are_strtods_on_any_thread_count_and_chunking(void **state)
{
    (void)state;
    const int64_t rows = 40000;
    double *want = malloc((size_t)rows * 2 * sizeof *want);
    assert_non_null(want);
    const char *path = tmp_path("a.csv");
    write_mixed(path, rows, want);
    int threads0 = tg_get_num_threads();
    size_t chunk0 = tg__csv_chunk_bytes(0);
    static const size_t chunks[] = {1 << 20, 4096, 97, 1};
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++)
        for (int threads = 1; threads <= 3; threads++) {
            tg__csv_chunk_bytes(chunks[c]);
            tg_set_num_threads(threads);
            tg_tensor *t = load_ca(path);
            assert_int_equal(tg_shape(t)[0], rows);
            const double *d = tg_data(t);
            for (int64_t i = 0; i < 2 * rows; i++)
                if (memcmp(&d[i], &want[i], sizeof *d) != 0)
                    fail_msg("chunks of %zu, %d threads: value %lld is %a, strtod gives %a",
                             chunks[c], threads, (long long)i, d[i], want[i]);
            tg_free(t);
        }
    tg__csv_chunk_bytes(chunk0);
    tg_set_num_threads(threads0);
    free(want);
}

/* Random text of numbers, delimiters, line ends and junk: one thread in one
** chunk and two threads in chunks of a few bytes give the same tensor, or the
** same error (the same file:line:column). */
static void test_csv_chunked_reading_equals_serial_on_random_text(void **state)
{
    (void)state;
    static const char alphabet[] = "0123456789012345678901234567890123456789..--ee,,,,\n\n\n\r  x";
    const char *path = tmp_path("b.csv");
    int threads0 = tg_get_num_threads();
    size_t chunk0 = tg__csv_chunk_bytes(0);
    char text[4096];
    for (int round = 0; round < 400; round++) {
        size_t n = (size_t)snprintf(text, sizeof text, "%s", round % 2 ? "p,q\n" : "");
        size_t len = 200 + rnd() % 3000;
        for (; n < len; n++)
            text[n] = alphabet[rnd() % (sizeof alphabet - 1)];
        write_bytes(path, text, n);
        tg_csv_opts o = tg_csv_defaults();
        o.header = round % 2;
        const char *cols[2] = {o.header ? "q" : "1", o.header ? "p" : "0"};
        char err[1024] = "";
        tg_tensor *t[2];
        for (int k = 0; k < 2; k++) {
            tg__csv_chunk_bytes(k ? 1 + rnd() % 64 : (size_t)1 << 30);
            tg_set_num_threads(k ? 2 : 1);
            t[k] = tg_load_csv(path, 2, cols, &o);
            if (!t[k] && k == 0)
                snprintf(err, sizeof err, "%s", tg_last_error());
            else if (!t[k] && strcmp(err, tg_last_error()) != 0)
                fail_msg("round %d: serial '%s', chunked '%s'", round, err, tg_last_error());
        }
        if ((t[0] == NULL) != (t[1] == NULL))
            fail_msg("round %d: serial %s, chunked %s", round, t[0] ? "read" : err,
                     t[1] ? "read" : tg_last_error());
        if (t[0]) {
            assert_int_equal(tg_shape(t[0])[0], tg_shape(t[1])[0]);
            assert_memory_equal(tg_data(t[0]), tg_data(t[1]),
                                (size_t)tg_numel(t[0]) * sizeof(double));
        }
        tg_free(t[0]);
        tg_free(t[1]);
        tg_clear_error();
    }
    tg__csv_chunk_bytes(chunk0);
    tg_set_num_threads(threads0);
}

static void test_csv_errors_name_the_line_across_chunks(void **state)
{
    (void)state;
    const char *path = tmp_path("a.csv");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("x,y\n", f);
    for (int i = 0; i < 50000; i++)   /* lines 2 .. 50001, with LF, CRLF and lone CR */
        fprintf(f, "%d,%d.5%s", i, i, i % 3 == 0 ? "\n" : i % 3 == 1 ? "\r\n" : "\r");
    fputs("1,2\n3,4\n5,1e\n7,8\n", f);   /* the bad cell on line 50004, field 2 */
    assert_int_equal(fclose(f), 0);
    int threads0 = tg_get_num_threads();
    size_t chunk0 = tg__csv_chunk_bytes(0);
    for (int k = 0; k < 4; k++) {
        tg__csv_chunk_bytes(k % 2 ? 333 : (size_t)1 << 30);
        tg_set_num_threads(1 + k / 2);
        assert_null(tg_load_csv(path, 2, (const char *[]){"x", "y"}, NULL));
        assert_failed(TG_ERR_IO, "a.csv:50004:2: column 'y': cannot read '1e' as a number", NULL);
    }
    tg__csv_chunk_bytes(chunk0);
    tg_set_num_threads(threads0);
}

/* --------------------------------------------------------- input edges */

static void test_csv_stops_at_the_line_and_size_limits(void **state)
{
    (void)state;
    const char *path = tmp_path("a.csv");
    static const char text[] = "x,y\n1,2\n3,456789012345678901234567890\n5,6\n";
    write_bytes(path, text, sizeof text - 1);
    tg_csv_opts o = tg_csv_defaults();
    o.max_line_bytes = 20;
    assert_null(tg_load_csv(path, 1, (const char *[]){"x"}, &o));
    assert_failed(TG_ERR_IO, "a.csv:3: line longer than 20 bytes, the limit", NULL);
    static const char wide[] = "x,yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\n1,2\n";
    write_bytes(path, wide, sizeof wide - 1);
    assert_null(tg_load_csv(path, 1, (const char *[]){"x"}, &o));
    assert_failed(TG_ERR_IO, "a.csv:1: line longer than 20 bytes, the limit", NULL);
    write_bytes(path, text, sizeof text - 1);
    o.max_line_bytes = 0;   /* the default */
    o.max_bytes = 16;
    assert_null(tg_load_csv(path, 1, (const char *[]){"x"}, &o));
    assert_failed(TG_ERR_IO, "a.csv' has 42 bytes, more than the size limit of 16", NULL);
    o.max_bytes = 42;
    tg_tensor *t = tg_load_csv(path, 1, (const char *[]){"x"}, &o);
    assert_non_null(t);
    tg_free(t);
    /* standard input: checked while reading */
    o.max_bytes = 41;
    assert_null(load_from_pipe(text, sizeof text - 1, 1, (const char *[]){"x"}, &o));
    assert_failed(TG_ERR_IO, "<stdin>: stopped after 41 bytes, the size limit", NULL);
    o.max_bytes = 0;
    o.max_line_bytes = 20;
    assert_null(load_from_pipe(text, sizeof text - 1, 1, (const char *[]){"x"}, &o));
    assert_failed(TG_ERR_IO, "<stdin>:3: line longer than 20 bytes, the limit", NULL);
}

/* /dev/zero as standard input: no line end ever, stopped at the line limit. */
static void test_csv_endless_standard_input_stops(void **state)
{
    (void)state;
    int zero = open("/dev/zero", O_RDONLY);
    if (zero < 0)
        skip();
    int saved = dup(STDIN_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(zero, STDIN_FILENO), STDIN_FILENO);
    close(zero);
    tg_csv_opts o = tg_csv_defaults();
    o.max_line_bytes = 1 << 20;
    tg_tensor *t = tg_load_csv("-", 1, (const char *[]){"x"}, &o);
    assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
    close(saved);
    assert_null(t);
    assert_failed(TG_ERR_IO, "<stdin>:1: line longer than 1048576 bytes, the limit", NULL);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TG_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TG_TEST_SANITIZED 1
#endif
#endif

/* Address space in use now, from /proc/self/statm (bytes). */
static long long vm_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long pages = -1;
    if (f && fscanf(f, "%lld", &pages) != 1)
        pages = -1;
    if (f)
        fclose(f);
    return pages < 0 ? -1 : pages * sysconf(_SC_PAGESIZE);
}

/* 10^7 blank lines (10 MB) between the header and one row: read in a child
** whose address space may grow by 48 MB, where reserving 16 bytes a line
** (160 MB) would fail. */
static void test_csv_blank_lines_reserve_nothing(void **state)
{
    (void)state;
#ifdef TG_TEST_SANITIZED
    skip();   /* the sanitizers' shadow memory defeats an address-space limit */
#endif
    const char *path = tmp_path("blank.csv");
    const size_t blanks = 10000000;
    char *text = malloc(blanks + 16);
    assert_non_null(text);
    memcpy(text, "x,y\n", 4);
    memset(text + 4, '\n', blanks);
    memcpy(text + 4 + blanks, "1,2\n", 4);
    write_bytes(path, text, blanks + 8);
    free(text);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tg_set_num_threads(1);   /* no thread stacks in the child */
        long long vm = vm_bytes();
        struct rlimit rl = {(rlim_t)(vm + (48ll << 20)), (rlim_t)(vm + (48ll << 20))};
        if (vm < 0 || setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(3);
        tg_tensor *t = tg_load_csv(path, 2, (const char *[]){"y", "x"}, NULL);
        bool ok = t && tg_shape(t)[0] == 1 && tg_data(t)[0] == 2 && tg_data(t)[1] == 1;
        if (!ok)
            fprintf(stderr, "child: %s\n", t ? "wrong values" : tg_last_error());
        _exit(ok ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    unlink(path);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_csv_refuses_control_bytes_in_headers_and_escapes_messages(void **state)
{
    (void)state;
    const char *path = tmp_path("a.csv");
    static const char nul[] = "x\0junk,y\n1,2\n";
    write_bytes(path, nul, sizeof nul - 1);
    /* the name is not "x": it holds a NUL, and is refused */
    assert_null(tg_load_csv(path, 1, (const char *[]){"x"}, NULL));
    assert_failed(TG_ERR_IO, "a.csv:1:1: header name 'x\\x00junk' holds the control byte 0x00",
                  NULL);
    static const char esc[] = "\"a\x1b[2Jb\",y\n1,2\n";
    write_bytes(path, esc, sizeof esc - 1);
    assert_null(tg_load_csv(path, 1, (const char *[]){"y"}, NULL));
    assert_failed(TG_ERR_IO, "header name 'a\\x1b[2Jb' holds the control byte 0x1b", NULL);
    /* a cell's bytes are escaped, never echoed raw; UTF-8 stays readable */
    static const char cell[] = "x,temp\xc3\xa9rature\n1,\x1b]0;pwned\x07\n";
    write_bytes(path, cell, sizeof cell - 1);
    assert_null(tg_load_csv(path, 1, (const char *[]){"temp\xc3\xa9rature"}, NULL));
    const char *msg = tg_last_error();
    for (const char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20)
            fail_msg("a raw control byte 0x%02x in '%s'", (unsigned char)*p, msg);
    assert_failed(TG_ERR_IO, "a.csv:2:2: column 'temp\xc3\xa9rature': cannot read "
                  "'\\x1b]0;pwned\\x07' as a number", NULL);
    /* a requested name is escaped too */
    assert_null(tg_load_csv(path, 1, (const char *[]){"z\x1b"}, NULL));
    assert_failed(TG_ERR_IO, "no column 'z\\x1b'", NULL);
}

/* .npy: a version 2/3 header length near 2^32 and shapes whose byte size
** passes 2^63 are refused before any size is formed from them. */
static void test_npy_header_sizes_are_overflow_checked(void **state)
{
    (void)state;
    const char *path = tmp_path("a.npy");
    unsigned char b[128] = "\x93NUMPY\x02\x00\xff\xff\xff\xff{'descr': '<f8'}";
    for (int major = 2; major <= 3; major++) {
        b[6] = (unsigned char)major;
        write_bytes(path, b, sizeof b);
        assert_null(tg_load_npy(path));
        assert_failed(TG_ERR_IO, "header length 4294967295 is too large", NULL);
        assert_null(tg_mmap_npy(path));
        assert_failed(TG_ERR_IO, "header length 4294967295 is too large", NULL);
    }
    static const char *const shapes[] = {"(2305843009213693952,)", "(4611686018427387904, 2)",
                                         "(3037000500, 3037000500)", "(9223372036854775807,)"};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        char dict[160];
        int n = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }",
                         shapes[i]);
        unsigned char file[256];
        size_t total = 10 + 118;   /* header padded to 128 bytes */
        memcpy(file, "\x93NUMPY\x01\x00", 8);
        file[8] = (unsigned char)(total - 10);
        file[9] = 0;
        memset(file + 10, ' ', total - 10);
        memcpy(file + 10, dict, (size_t)n);
        file[total - 1] = '\n';
        write_bytes(path, file, total + 8);
        assert_null(tg_load_npy(path));
        assert_failed(TG_ERR_IO, "'shape' has too many elements", NULL);
    }
    unlink(path);
}

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/tg_test_csv_XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    static const char *names[] = {"fifo", "a.csv", "b.csv", "blank.csv"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        unlink(tmp_path(names[i]));
    return rmdir(tmp_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_dash_reads_standard_input),
        cmocka_unit_test(test_csv_refuses_fifos_and_devices_by_name),
        cmocka_unit_test(test_parse_double_matches_strtod_bit_for_bit),
        cmocka_unit_test(test_parse_double_refuses_what_strtod_reads_otherwise),
        cmocka_unit_test(test_csv_values_are_strtods_on_any_thread_count_and_chunking),
        cmocka_unit_test(test_csv_chunked_reading_equals_serial_on_random_text),
        cmocka_unit_test(test_csv_errors_name_the_line_across_chunks),
        cmocka_unit_test(test_csv_stops_at_the_line_and_size_limits),
        cmocka_unit_test(test_csv_endless_standard_input_stops),
        cmocka_unit_test(test_csv_blank_lines_reserve_nothing),
        cmocka_unit_test(test_csv_refuses_control_bytes_in_headers_and_escapes_messages),
        cmocka_unit_test(test_npy_header_sizes_are_overflow_checked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
