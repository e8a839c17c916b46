/* SPDX-License-Identifier: MIT */
/* An outside program on the installed tensorgrad_mpi (tests/install_test.sh,
** modes pkgconfig and cmake_package): on every rank, tg_mpi_sum of
** (rank + 1, 1) must be (size (size + 1) / 2, size), and the blocks of
** tg_mpi_rows over 10 rows must add up to 10 rows.  Rank 0 prints a line with
** tg_version(); exits 1 on any rank that sees a wrong number. */
#include <stdio.h>
#include <tensorgrad_mpi.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    double buf[3] = {rank + 1.0, 1.0, 0.0};
    int64_t begin = 0, end = 0;
    int ok = tg_mpi_rows(10, MPI_COMM_WORLD, &begin, &end) == TG_OK;
    buf[2] = (double)(end - begin);
    ok = ok && tg_mpi_sum(buf, 3, MPI_COMM_WORLD) == TG_OK;
    if (!ok)
        fprintf(stderr, "rank %d: %s\n", rank, tg_last_error());
    else if (buf[0] != size * (size + 1) / 2.0 || buf[1] != size || buf[2] != 10.0) {
        fprintf(stderr, "rank %d: sums %g %g %g, want %g %d 10\n", rank, buf[0], buf[1], buf[2],
                size * (size + 1) / 2.0, size);
        ok = 0;
    }
    if (ok && rank == 0)
        printf("tensorgrad_mpi %s: tg_mpi_sum and tg_mpi_rows agree on %d ranks\n", tg_version(), size);
    MPI_Finalize();
    return ok ? 0 : 1;
}
