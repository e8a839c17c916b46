/*
** NumPy broadcasting of shapes: trailing dimensions aligned, sizes equal or 1.
** Core layer; the ops use it to size their outputs and the elementwise
** Functions to walk operands.
*/
#include "internal.h"

/* The error of tg__broadcast_shape, out of line: its buffers stay off the
** hot path's stack frame. */
TG_COLD static bool mismatch(const char *fn, int na, const int64_t *sa, int nb, const int64_t *sb, int i,
                             int64_t da, int64_t db)
{
    char bufa[TG__SHAPE_STR], bufb[TG__SHAPE_STR];
    tg__error(TG_ERR_SHAPE, "%s: shapes %s and %s do not broadcast (dimension %d: %lld vs %lld)",
              fn, tg__shape_str(bufa, na, sa), tg__shape_str(bufb, nb, sb), i,
              (long long)da, (long long)db);
    return false;
}

bool tg__broadcast_shape(const char *fn, int na, const int64_t *sa, int nb, const int64_t *sb,
                         int *nout, int64_t *sout)
{
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int ia = na - n + i, ib = nb - n + i;
        int64_t da = ia >= 0 ? sa[ia] : 1, db = ib >= 0 ? sb[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return mismatch(fn, na, sa, nb, sb, i, da, db);
        sout[i] = da == 1 ? db : da;
    }
    *nout = n;
    return true;
}
